"""The provider's Message resource, read tolerantly.

Any field of a Message may be null, missing or garbage: each becomes ``None`` on its own and the
rest of the message is still read. Unknown fields are ignored. Only an answer that is not a JSON
object at all raises (``InvalidResponseError``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

from notify_tui.domain.status import Classification, classify_message, parse_error_code
from notify_tui.provider.errors import InvalidResponseError

__all__ = ["ProviderMessage", "parse_rfc2822"]


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

    @classmethod
    def from_json(cls, data: object) -> ProviderMessage:
        """Read a decoded Message JSON object; raise ``InvalidResponseError`` if not an object."""
        if not isinstance(data, dict):
            raise InvalidResponseError(f"expected a Message object, got {type(data).__name__}")
        get = data.get
        return cls(
            sid=_text(get("sid")),
            status=_text(get("status")),
            error_code=parse_error_code(get("error_code")),
            error_message=_text(get("error_message")),
            to=_text(get("to")),
            from_=_text(get("from")),
            body=_text(get("body")),
            num_segments=_count(get("num_segments")),
            price=_decimal(get("price")),
            price_unit=_text(get("price_unit")),
            date_created=_date(get("date_created")),
            date_sent=_date(get("date_sent")),
            date_updated=_date(get("date_updated")),
            messaging_service_sid=_text(get("messaging_service_sid")),
            uri=_text(get("uri")),
        )

    def classify(self) -> Classification:
        """What the user sees of this message (Delivered, Failed with a reason, or Unknown)."""
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
        if text.isascii() and text.isdigit():
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
