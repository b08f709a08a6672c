"""The provider's Message resource, read tolerantly, and its values checked against the API.

Any field of a Message may be null, missing or garbage: each becomes ``None`` on its own and the
rest of the message is still read. Unknown fields are ignored. Only an answer that is not a JSON
object at all raises (``InvalidResponseError``).

A value the API never sends (a status outside its enum, a non-positive or out-of-range error
code, a segment count or a price out of range, a malformed SID, an inbound direction, error
fields on a delivered message) is a *flaw*: the field reads as ``None`` (or, for the status, as
sent, but unclassified) and ``flaws`` says what came, raw and clipped. ``provider.answers`` turns
flaws into provider faults; a flawed message is never classified into a reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

from notify_tui.domain.faults import clip
from notify_tui.domain.money import MICRO_PLACES
from notify_tui.domain.status import (
    PROVIDER_STATUSES,
    Classification,
    classify_message,
    parse_error_code,
)
from notify_tui.provider.errors import InvalidResponseError

__all__ = [
    "ERROR_CODE_MAX",
    "PRICE_LIMIT",
    "SEGMENTS_MAX",
    "ProviderMessage",
    "parse_rfc2822",
]

SEGMENTS_MAX = 50
"""The most segments a Message may have: a 1,600-character body takes at most 24 (UCS-2, 67
characters a segment); twice that leaves room for a provider that counts differently."""

ERROR_CODE_MAX = 99_999
"""Twilio's error codes are five-digit numbers (its dictionary runs from 10001 to 9xxxx)."""

PRICE_LIMIT = Decimal(100)
"""No single message costs a hundred units of any currency; a price beyond is garbage."""

PRICE_PLACES = Decimal(1).scaleb(-MICRO_PLACES)
"""A price finer than the store keeps (a millionth) could not be kept exactly: garbage too."""

_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_OUTBOUND = frozenset({"outbound-api", "outbound-call", "outbound-reply"})
_INBOUND_STATUSES = frozenset({"receiving", "received"})
_DELIVERED = frozenset({"delivered", "read"})


@dataclass(frozen=True, slots=True)
class ProviderMessage:
    """One Message as the provider described it. Every field may be ``None``."""

    sid: str | None = None
    status: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    to: str | None = None
    from_: str | None = None
    body: str | None = None
    num_segments: int | None = None
    price: Decimal | None = None
    """Negative for a charge, as the provider sends it; ``None`` until the provider prices it."""
    price_unit: str | None = None
    date_created: datetime | None = None
    date_sent: datetime | None = None
    date_updated: datetime | None = None
    messaging_service_sid: str | None = None
    uri: str | None = None
    account_sid: str | None = None
    direction: str | None = None
    flaws: tuple[str, ...] = ()
    """Values the API never sends, raw and clipped (``status 'exploded'``); empty when sound."""

    @classmethod
    def from_json(cls, data: object) -> ProviderMessage:
        """Read a decoded Message JSON object; raise ``InvalidResponseError`` if not an object."""
        if not isinstance(data, dict):
            raise InvalidResponseError(f"expected a Message object, got {type(data).__name__}")
        get = data.get
        flaws: list[str] = []
        sid = _text(get("sid"))
        if sid is not None and not _SID.fullmatch(sid):
            flaws.append(f"sid {clip(sid, 40)!r} is not a Message SID")
            sid = None
        status = _text(get("status"))
        if status is not None and status not in PROVIDER_STATUSES:
            flaws.append(f"status {clip(status, 40)!r} is not a Message status")
        elif status in _INBOUND_STATUSES:
            flaws.append(f"status {status!r} is inbound")
        direction = _text(get("direction"))
        if direction is not None and direction not in _OUTBOUND:
            flaws.append(f"direction {clip(direction, 40)!r} is not outbound")
        raw_code = get("error_code")
        error_code = parse_error_code(raw_code)
        if raw_code is not None and not (
            error_code is not None and 0 < error_code <= ERROR_CODE_MAX
        ):
            flaws.append(f"error_code {clip(raw_code, 40)} is not an error code")
            error_code = None
        error_message = _text(get("error_message"))
        if status in _DELIVERED and (raw_code is not None or error_message):
            flaws.append(
                f"error fields on a {status} message (code {clip(raw_code, 40)}, "
                f"message {clip(error_message, 60)!r})"
            )
        raw_segments = get("num_segments")
        num_segments = _count(raw_segments)
        if raw_segments is not None and not (
            num_segments is not None and num_segments <= SEGMENTS_MAX
        ):
            flaws.append(f"num_segments {clip(raw_segments, 40)} is out of range")
            num_segments = None
        raw_price = get("price")
        price = _decimal(raw_price)
        if raw_price is not None and not (
            price is not None
            and abs(price) <= PRICE_LIMIT
            and price.quantize(PRICE_PLACES) == price
        ):
            flaws.append(f"price {clip(raw_price, 40)} is out of range")
            price = None
        price_unit = _text(get("price_unit"))
        if price_unit is not None and not _CURRENCY.fullmatch(price_unit):
            flaws.append(f"price_unit {clip(price_unit, 40)!r} is not a currency")
            price_unit = None
        return cls(
            sid=sid,
            status=status,
            error_code=error_code,
            error_message=error_message,
            to=_text(get("to")),
            from_=_text(get("from")),
            body=_text(get("body")),
            num_segments=num_segments,
            price=price,
            price_unit=price_unit,
            date_created=_date(get("date_created")),
            date_sent=_date(get("date_sent")),
            date_updated=_date(get("date_updated")),
            messaging_service_sid=_text(get("messaging_service_sid")),
            uri=_text(get("uri")),
            account_sid=_text(get("account_sid")),
            direction=direction,
            flaws=tuple(flaws),
        )

    @property
    def api_status(self) -> str | None:
        """The status, when it is one of the API's statuses of an outbound message."""
        status = self.status
        if status is None or status not in PROVIDER_STATUSES or status in _INBOUND_STATUSES:
            return None
        return status

    def classify(self) -> Classification:
        """What the user sees of this message (Delivered, Failed with a reason, or Unknown).

        A flawed message is Unknown whatever it says: a value outside the API is never guessed
        into a reason."""
        if self.flaws:
            return classify_message(None)
        return classify_message(self.status, self.error_code, self.error_message)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _count(value: Any) -> int | None:
    """A non-negative count sent as a string (``"2"``); ints are accepted too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str):
        text = value.strip()
        # Bounded before int(): a long enough string of digits is refused by int() itself.
        if text.isascii() and text.isdigit() and len(text) <= 20:
            return int(text)
    return None


def _decimal(value: Any) -> Decimal | None:
    """A price such as ``"-0.00790"``, keeping its sign; ``None`` for null or garbage."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = repr(value)
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    return parse_rfc2822(value)


@lru_cache(maxsize=8192)
def parse_rfc2822(text: str) -> datetime | None:
    """``Thu, 24 Aug 2023 05:01:45 +0000`` as an aware datetime; ``None`` if it is not one.

    ``-0000`` (no zone information) is read as UTC. Cached: the messages of a campaign share
    their timestamps to the second, and a page of 1,000 has three dates each.
    """
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
