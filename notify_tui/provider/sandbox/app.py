"""The sandbox provider: a plain ASGI 3 app that speaks Twilio's Messages API.

Routes (all answers JSON, Twilio's shapes; errors ``{"code", "message", "more_info", "status"}``)::

    POST   /2010-04-01/Accounts/{AccountSid}/Messages.json         create   201
    GET    /2010-04-01/Accounts/{AccountSid}/Messages.json         list     200
    GET    /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json   fetch    200
    POST   /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json   update   200 (cancel, redact)
    DELETE /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json   delete   204
    GET  /_sandbox/stats                                         counters
    GET  /_sandbox/faults, POST /_sandbox/faults                 fault injection

With an ``auth_token`` every path needs it as the Basic auth password, ``/_sandbox/*`` and unknown
paths included (any user name there; an account's own paths want that account or an API key).

Statuses move with time but nothing runs in the background: each answer computes where the
message is on its timeline from the app's clock (see ``outcomes``). List filters: ``To``,
``From``, ``DateSent`` (that UTC day), ``DateSent<`` (on or before the day), ``DateSent>`` (on or
after it), ``PageSize`` 1-1000 (default 50); pages continue with an opaque ``PageToken``.

Scheduling follows Twilio (``ScheduleType=fixed`` and ``SendAt``, with a Messaging Service only;
without one both are dropped and the message goes out at once): ``scheduled`` until ``SendAt``
on the app's clock, then the usual timeline. Update: ``Status=canceled`` while scheduled (else
30409), ``Body=`` empty once the message has left the queue (redaction). Delete: once the message
is no longer on its way (scheduled or in flight: 400, code 20009); then fetch answers 404.
A create may carry ``MediaUrl`` (up to 10, an ``MM`` sid) or ``ContentSid`` instead of a body.
A create with ``StatusCallback`` gets its status changes POSTed there (see ``callbacks``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import os
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import lru_cache
from random import Random
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import phonenumbers

from notify_tui.domain.error_titles import error_title
from notify_tui.domain.segments import MAX_BODY_CHARS, count_segments
from notify_tui.provider.client import SANDBOX_AUTH_TOKEN
from notify_tui.provider.sandbox.callbacks import CallbackDispatcher
from notify_tui.provider.sandbox.faults import ConnectionDropped, Faults
from notify_tui.provider.sandbox.outcomes import (
    PASSING_CODES,
    Progress,
    Timeline,
    format_price,
    outcome_for,
    plan_timeline,
    progress,
)
from notify_tui.provider.sandbox.state import MEMORY, Cursor, SandboxState, StoredMessage

__all__ = ["DEFAULT_PRICE_PER_SEGMENT", "FAILED_MESSAGE_FEE", "SandboxApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

API = "/2010-04-01"
DEFAULT_PRICE_PER_SEGMENT = Decimal("0.0079")
FAILED_MESSAGE_FEE = Decimal("0.001")
"""Twilio's processing fee for a message that failed."""
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_REQUEST_BODY = 64 * 1024
MMS_PRICE = Decimal("0.0200")
"""What one MMS costs (a message with media counts as one, whatever its length)."""
MAX_MEDIA = 10
MAX_URL_LENGTH = 4000
SCHEDULE_MIN = timedelta(minutes=15)
SCHEDULE_MAX = timedelta(days=35)
_BOOLEAN = re.compile(r"^(?i:true|false)$")
_INTEGER = re.compile(r"^-?[0-9]+$")
_NUMBER = re.compile(r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")
_TYPED_CREATE_FIELDS: dict[str, tuple[re.Pattern[str] | frozenset[str], int]] = {
    "ApplicationSid": (re.compile(r"^AP[0-9a-fA-F]{32}$"), 20001),
    "MaxPrice": (_NUMBER, 20001),
    "ProvideFeedback": (_BOOLEAN, 20001),
    "ForceDelivery": (_BOOLEAN, 20001),
    "SmartEncoded": (_BOOLEAN, 20001),
    "ShortenUrls": (_BOOLEAN, 20001),
    "SendAsMms": (_BOOLEAN, 20001),
    "Attempt": (_INTEGER, 20001),
    "ValidityPeriod": (_INTEGER, 20001),
    "ContentRetention": (frozenset({"retain", "discard"}), 30029),
    "AddressRetention": (frozenset({"retain", "obfuscate"}), 30030),
    "TrafficType": (frozenset({"free"}), 20001),
    "RiskCheck": (frozenset({"enable", "disable"}), 20001),
}
"""Create parameters the sandbox does not act on, typed as Twilio's OpenAPI types them: a value
of the wrong type is refused (400, the code Twilio documents where it has one), never ignored."""
_IN_FLIGHT = frozenset({"scheduled", "accepted", "queued", "sending"})
"""Statuses of a message still on its way: it can be neither redacted nor deleted."""

_MESSAGES = re.compile(rf"^{API}/Accounts/([^/]+)/Messages\.json$")
_MESSAGE = re.compile(rf"^{API}/Accounts/([^/]+)/Messages/([^/]+)\.json$")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SHORT_CODE = re.compile(r"^[0-9]{3,8}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Refusal(Exception):
    """An error answer, raised from deep inside a handler."""

    def __init__(self, status: int, code: int, message: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message or error_title(code) or "Error"


class SandboxApp:
    """The sandbox provider as an ASGI 3 app; one instance keeps one state.

    ``speed`` divides every duration of a message's timeline; ``clock`` answers the time in
    seconds since the epoch (inject one in tests); ``seed`` makes SIDs, timelines and faults
    repeatable; ``auth_token``, when set, is the password every request must carry (user name:
    the path's Account SID, or any API key SID ``SK...``); past ``max_concurrency`` requests in
    flight the app answers 429 (code 20429) with ``Retry-After: retry_after``. Status callbacks
    (see ``callbacks``) are signed with ``callback_token``: by default the auth token, else
    ``SANDBOX_AUTH_TOKEN``, the password the in-process client uses.
    """

    def __init__(
        self,
        *,
        state_path: str | os.PathLike[str] = MEMORY,
        speed: float = 1.0,
        auth_token: str | None = None,
        max_concurrency: int = 100,
        retry_after: int = 1,
        faults: Faults | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        price_per_segment: Decimal = DEFAULT_PRICE_PER_SEGMENT,
        failed_fee: Decimal = FAILED_MESSAGE_FEE,
        commit_every: int = 1000,
        commit_interval: float = 0.25,
        callback_token: str | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._state = SandboxState(state_path, commit_every=commit_every)
        self._speed = float(speed)
        self._auth_token = auth_token
        self._max_concurrency = max_concurrency
        self._retry_after = retry_after
        self.faults = faults or Faults()
        """The faults in force; replace it (or ``POST /_sandbox/faults``) to change them."""
        self._rng = Random(seed)
        self._fault_rng = Random(None if seed is None else f"faults-{seed}")
        self._clock = clock
        self._price_per_segment = price_per_segment
        self._failed_fee = failed_fee
        self._commit_interval = commit_interval
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flush_loop: asyncio.AbstractEventLoop | None = None
        self._in_flight = 0
        self._counters: dict[str, int] = dict.fromkeys(
            (
                "create",
                "fetch",
                "list",
                "update",
                "delete",
                "canceled",
                "redacted",
                "deleted",
                "created",
                "refused",
                "not_found",
                "rate_limited",
                "unauthorized",
                "injected_errors",
                "dropped",
                "lost_answers",
            ),
            0,
        )
        self._callbacks = CallbackDispatcher(
            token=callback_token or auth_token or SANDBOX_AUTH_TOKEN,
            clock=clock,
            rng=Random(None if seed is None else f"callbacks-{seed}"),
            counters=self._counters,
            speed=self._speed,
        )

    # ---------------------------------------------------------------- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        path: str = scope["path"]
        try:
            body = await _read_body(receive)
            status, payload, headers = await self._dispatch(scope, method, path, body)
        except _Refusal as refusal:
            status, payload, headers = refusal.status, _error_json(refusal), []
        await _respond(send, status, payload, headers)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _dispatch(
        self, scope: Scope, method: str, path: str, body: bytes
    ) -> tuple[int, object, list[tuple[bytes, bytes]]]:
        if path.startswith("/_sandbox/"):
            # The control endpoints switch faults on and show counters: the token guards them too.
            self._require_auth(scope, None)
            return self._control(method, path, body)
        found = _MESSAGES.match(path)
        if found:
            if method not in ("GET", "POST"):
                raise _Refusal(405, 20004, "Method not allowed")
            kind, account, sid = ("create" if method == "POST" else "list"), found[1], ""
        elif (found := _MESSAGE.match(path)) is not None:
            kinds = {"GET": "fetch", "POST": "update", "DELETE": "delete"}
            if method not in kinds:
                raise _Refusal(405, 20004, "Method not allowed")
            kind, account, sid = kinds[method], found[1], found[2]
        else:
            self._require_auth(scope, None)  # without the token, not even what is there
            raise _Refusal(404, 20404, f"The requested resource {path} was not found")
        self._counters[kind] += 1
        if self._auth_token is not None and not self._authorized(scope, account):
            self._counters["unauthorized"] += 1
            raise _Refusal(401, 20003, "Authenticate")
        if not _ACCOUNT_SID.match(account):
            raise _Refusal(404, 20404, f"The requested resource {path} was not found")
        if self._in_flight >= self._max_concurrency:
            self._counters["rate_limited"] += 1
            refusal = _Refusal(429, 20429, "Too Many Requests")
            return 429, _error_json(refusal), [(b"retry-after", str(self._retry_after).encode())]
        self._in_flight += 1
        try:
            faults = self.faults
            if faults.latency:
                await asyncio.sleep(faults.latency)
            if self._chance(faults.drop_rate):
                self._counters["dropped"] += 1
                raise ConnectionDropped()
            if self._chance(faults.error_rate):
                self._counters["injected_errors"] += 1
                raise _Refusal(500, 20500, "Internal Server Error")
            if kind == "create":
                return 201, self._create(account, body), []
            if kind == "fetch":
                return 200, self._fetch(account, sid, path), []
            if kind == "update":
                return 200, self._update(account, sid, path, body), []
            if kind == "delete":
                self._delete(account, sid, path)
                return 204, None, []
            return 200, self._list(account, path, scope.get("query_string", b"")), []
        finally:
            self._in_flight -= 1

    # ------------------------------------------------------------ handlers

    def _create(self, account: str, raw: bytes) -> dict[str, Any]:
        fields = _fields(raw)
        form = {key: values[0] for key, values in fields.items()}
        to = form.get("To", "").strip()
        from_ = form.get("From", "").strip() or None
        service = form.get("MessagingServiceSid", "").strip() or None
        body = form.get("Body", "")
        media = fields.get("MediaUrl", [])
        content = form.get("ContentSid", "").strip() or None
        callback = form.get("StatusCallback", "").strip() or None
        now_us = self._now_us()
        try:
            if not to:
                raise _Refusal(400, 21604)
            if not from_ and not service:
                raise _Refusal(400, 21603)
            if not body and not media and content is None:
                raise _Refusal(400, 21602)
            if len(media) > MAX_MEDIA:
                raise _Refusal(400, 21623)
            if any(not _web_url(url) for url in media):
                raise _Refusal(400, 21620)
            for name, value in form.items():
                rule = _TYPED_CREATE_FIELDS.get(name)
                if rule is not None and not _fits(value, rule[0]):
                    raise _Refusal(400, rule[1], f"Invalid {name}: {value!r}")
            if content is not None and not _CONTENT_SID.match(content):
                raise _Refusal(400, 20001, f"Invalid ContentSid: {content}")
            if len(body) > MAX_BODY_CHARS:
                raise _Refusal(400, 21617)
            if not _valid_e164(to):
                raise _Refusal(400, 21211, f"The 'To' number {to} is not a valid phone number.")
            if from_ is not None and not _valid_sender(from_):
                raise _Refusal(400, 21212, f"The 'From' number {from_} is not a valid phone number")
            if service is not None and not _SERVICE_SID.match(service):
                raise _Refusal(400, 21701, "The Messaging Service Sid is invalid.")
            if callback is not None and not _web_url(callback):
                raise _Refusal(400, 21609)
            # Without a Messaging Service, Twilio drops the scheduling parameters.
            send_at_us = _send_at(form, now_us) if service is not None else None
            outcome = outcome_for(to)
            if outcome.error_code in PASSING_CODES:
                outcome = outcome_for(to, earlier=self._state.sent_to(account, to))
            if outcome.final_status == "refused" and outcome.error_code is not None:
                raise _Refusal(400, outcome.error_code)
        except _Refusal:
            self._counters["refused"] += 1
            raise
        timeline = plan_timeline(
            outcome.final_status,
            now_us if send_at_us is None else send_at_us,
            via_service=from_ is None and send_at_us is None,
            speed=self._speed,
            rng=self._rng,
        )
        segments = max(count_segments(body).segments, 1)
        if outcome.final_status == "failed":
            price: str | None = format_price(self._failed_fee)
        elif media:
            segments = 1
            price = format_price(MMS_PRICE)
        else:
            price = format_price(self._price_per_segment * segments)
        message = StoredMessage(
            id=None,
            sid="",
            account_sid=account,
            to=to,
            from_=from_ if from_ is not None else _service_sender(service or ""),
            messaging_service_sid=service,
            body=body,
            num_segments=segments,
            status_callback=callback,
            final_status=outcome.final_status,
            error_code=outcome.error_code,
            price=price,
            lost=self._chance(self.faults.lost_rate),
            created_us=now_us,
            queued_us=timeline.queued_us,
            sending_us=timeline.sending_us,
            sent_us=timeline.sent_us,
            final_us=timeline.final_us,
            send_at_us=send_at_us,
            num_media=len(media),
        )
        message = self._store(message, "MM" if media else "SM")
        self._counters["created"] += 1
        if message.status_callback is not None:
            self._callbacks.plan(
                message, queued_us=message.queued_us, faults=self.faults, now_us=now_us
            )
            self._callbacks.ensure_running()
        if self._chance(self.faults.lost_answer_rate):
            self._counters["lost_answers"] += 1
            raise ConnectionDropped()
        return self._render(message, now_us)

    def _fetch(self, account: str, sid: str, path: str) -> dict[str, Any]:
        return self._render(self._find(account, sid, path), self._now_us())

    def _find(self, account: str, sid: str, path: str) -> StoredMessage:
        message = self._state.get(account, sid)
        if message is None or message.lost or message.deleted:
            self._counters["not_found"] += 1
            raise _Refusal(404, 20404, f"The requested resource {path} was not found")
        return message

    def _update(self, account: str, sid: str, path: str, raw: bytes) -> dict[str, Any]:
        form = _form(raw)
        message = self._find(account, sid, path)
        status, body = form.get("Status"), form.get("Body")
        if status is None and body is None:
            raise _Refusal(400, 20001, "Give Status=canceled to cancel, or an empty Body to redact")
        if status is not None and status != "canceled":
            raise _Refusal(400, 20001, f"Status can only be changed to canceled, not {status!r}")
        if body:
            raise _Refusal(400, 20001, "Body can only be redacted: send it empty")
        now_us = self._now_us()
        if status is not None:
            if self._status(message, now_us) != "scheduled":
                raise _Refusal(400, 30409)
            message = self._state.update(message, canceled_us=now_us)
            self._counters["canceled"] += 1
            self._callbacks.plan_canceled(message, faults=self.faults, now_us=now_us)
            if message.status_callback is not None:
                self._callbacks.ensure_running()
        if body is not None:
            if self._status(message, now_us) in _IN_FLIGHT:
                raise _Refusal(400, 20001, "A message can be redacted only once it has been sent")
            message = self._state.update(message, body="")
            self._counters["redacted"] += 1
        self._schedule_flush()
        return self._render(message, now_us)

    def _delete(self, account: str, sid: str, path: str) -> None:
        message = self._find(account, sid, path)
        if self._status(message, self._now_us()) in _IN_FLIGHT:
            raise _Refusal(
                400, 20009, "A message that is scheduled or on its way cannot be deleted"
            )
        self._state.update(message, deleted=True)
        self._counters["deleted"] += 1
        self._schedule_flush()

    def _list(self, account: str, path: str, query_string: bytes) -> dict[str, Any]:
        query = _form(query_string)
        size_text = query.get("PageSize", str(DEFAULT_PAGE_SIZE))
        if not _is_count(size_text) or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
            raise _Refusal(400, 20001, f"PageSize must be between 1 and {MAX_PAGE_SIZE}")
        size = int(size_text)
        page_text = query.get("Page", "0")
        if not _is_count(page_text):
            raise _Refusal(400, 20001, f"Page must be a whole number, at least 0, not {page_text}")
        page = int(page_text)
        filters = {key: query[key] for key in ("To", "From") if query.get(key)}
        since = before = None
        for key in ("DateSent", "DateSent<", "DateSent>"):
            if not query.get(key):
                continue
            filters[key] = query[key]
            day = _parse_day(query[key])
            if day is None:
                raise _Refusal(400, 20001, f"Invalid {key}: {query[key]}")
            start, end = _day_start_us(day), _day_start_us(day + timedelta(days=1))
            if key != "DateSent<":
                since = start if since is None else max(since, start)
            if key != "DateSent>":
                before = end if before is None else min(before, end)
        token = query.get("PageToken", "")
        after = back = None
        if token:
            cursor = _parse_token(token)
            if cursor is None:
                raise _Refusal(400, 20001, f"Invalid PageToken: {token}")
            after, back = (cursor, None) if token.startswith("PA") else (None, cursor)
        now_us = self._now_us()
        rows = self._state.page(
            account,
            limit=size + 1,
            to=filters.get("To"),
            from_=filters.get("From"),
            sent_since_us=since,
            sent_before_us=before,
            now_us=now_us,
            after=after,
            before=back,
        )
        more = len(rows) > size
        if more:
            rows = rows[1:] if back is not None else rows[:size]
        messages = [self._render(row, now_us) for row in rows]

        def uri(page_number: int, page_token: str | None = None) -> str:
            params = [*filters.items(), ("PageSize", str(size)), ("Page", str(page_number))]
            if page_token:
                params.append(("PageToken", page_token))
            return f"{path}?{urlencode(params)}"

        if back is not None:
            has_next, has_previous = bool(rows), more
        else:
            has_next, has_previous = more, after is not None and bool(rows)
        start = page * size
        previous = uri(max(page - 1, 0), _token("PB", rows[0])) if has_previous else None
        return {
            "end": start + max(len(rows) - 1, 0),
            "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1, _token("PA", rows[-1])) if has_next else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": previous,
            "start": start,
            "uri": uri(page, token or None),
            "messages": messages,
        }

    def _control(
        self, method: str, path: str, body: bytes
    ) -> tuple[int, object, list[tuple[bytes, bytes]]]:
        if path == "/_sandbox/stats" and method == "GET":
            return 200, self.stats(), []
        if path == "/_sandbox/faults" and method == "GET":
            return 200, self.faults.to_json(), []
        if path == "/_sandbox/faults" and method == "POST":
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object of faults")
                self.faults = self.faults.updated(changes)
            except (ValueError, TypeError, RecursionError) as exc:
                raise _Refusal(400, 20001, f"Invalid faults: {exc}") from exc
            return 200, self.faults.to_json(), []
        raise _Refusal(404, 20404, f"The requested resource {path} was not found")

    # ------------------------------------------------------------- helpers

    def stats(self) -> dict[str, int]:
        """Requests by kind, outcomes, and the messages held."""
        return {
            **self._counters,
            "messages": self._state.count(),
            "in_flight": self._in_flight,
            "callbacks_pending": self._callbacks.pending,
        }

    def flush(self) -> None:
        """Commit pending writes to the state file now."""
        self._state.flush()

    async def aclose(self) -> None:
        """Stop pushing callbacks, then commit and close the state. Idempotent."""
        await self._callbacks.aclose()
        self.close()

    def close(self) -> None:
        """Commit and close the state, stop pushing callbacks. Idempotent."""
        self._callbacks.close()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._state.close()

    def _store(self, message: StoredMessage, prefix: str = "SM") -> StoredMessage:
        for _ in range(8):
            candidate = replace(message, sid=f"{prefix}{self._rng.getrandbits(128):032x}")
            try:
                stored = self._state.add(candidate)
            except sqlite3.IntegrityError:
                continue  # the same seed replayed over an old state: draw another sid
            self._schedule_flush()
            return stored
        raise RuntimeError("could not draw a free message sid")

    def _schedule_flush(self) -> None:
        if self._state.pending == 0:
            return
        loop = asyncio.get_running_loop()
        if self._flush_handle is None or self._flush_loop is not loop:
            self._flush_loop = loop
            self._flush_handle = loop.call_later(self._commit_interval, self._timed_flush)

    def _timed_flush(self) -> None:
        self._flush_handle = None
        self._state.flush()

    def _progress(self, m: StoredMessage, now_us: int) -> Progress:
        via_service = m.messaging_service_sid is not None and m.queued_us > m.created_us
        timeline = Timeline(m.created_us, m.queued_us, m.sending_us, m.sent_us, m.final_us)
        return progress(
            m.final_status,
            m.error_code,
            timeline,
            now_us,
            via_service=via_service,
            send_at_us=m.send_at_us,
            canceled_us=m.canceled_us,
        )

    def _status(self, m: StoredMessage, now_us: int) -> str:
        return self._progress(m, now_us).status

    def _render(self, m: StoredMessage, now_us: int) -> dict[str, Any]:
        now = self._progress(m, now_us)
        uri = f"{API}/Accounts/{m.account_sid}/Messages/{m.sid}"
        return {
            "account_sid": m.account_sid,
            "api_version": "2010-04-01",
            "body": m.body,
            "date_created": _rfc2822(m.created_us // 1_000_000),
            "date_sent": (
                _rfc2822(now.date_sent_us // 1_000_000) if now.date_sent_us is not None else None
            ),
            "date_updated": _rfc2822(now.date_updated_us // 1_000_000),
            "direction": "outbound-api",
            "error_code": now.error_code,
            "error_message": (error_title(now.error_code) or None) if now.error_code else None,
            "from": m.from_ if now.sender_assigned else None,
            "messaging_service_sid": m.messaging_service_sid,
            "num_media": str(m.num_media),
            "num_segments": str(m.num_segments if now.sender_assigned else 0),
            "price": m.price if now.priced else None,
            "price_unit": "USD",
            "sid": m.sid,
            "status": now.status,
            "subresource_uris": {
                "media": f"{uri}/Media.json",
                "feedback": f"{uri}/Feedback.json",
            },
            "to": m.to,
            "uri": f"{uri}.json",
        }

    def _require_auth(self, scope: Scope, account: str | None) -> None:
        """Refuse (401) a request without the auth token, when one is set."""
        if self._auth_token is not None and not self._authorized(scope, account):
            self._counters["unauthorized"] += 1
            raise _Refusal(401, 20003, "Authenticate")

    def _authorized(self, scope: Scope, account: str | None) -> bool:
        """The request carries the token as its Basic auth password; for an account's path,
        with that account (or an API key) as the user name; for any other, any user name."""
        token = self._auth_token or ""
        header = _header(scope, b"authorization")
        if not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = decoded.partition(":")
        user_ok = account is None or user == account or (user.startswith("SK") and len(user) == 34)
        return hmac.compare_digest(password.encode(), token.encode()) and user_ok

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._fault_rng.random() < rate

    def _now_us(self) -> int:
        return int(self._clock() * 1_000_000)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionDropped()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BODY:
            raise _Refusal(413, 20001, "Request body too large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(
    send: Send, status: int, payload: object, headers: list[tuple[bytes, bytes]]
) -> None:
    body = b"" if status == 204 else json.dumps(payload, separators=(",", ":")).encode()
    kind = [] if status == 204 else [(b"content-type", b"application/json; charset=utf-8")]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *kind,
                (b"content-length", str(len(body)).encode()),
                *headers,
                *([(b"www-authenticate", b'Basic realm="Twilio API"')] if status == 401 else []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _error_json(refusal: _Refusal) -> dict[str, object]:
    return {
        "code": refusal.code,
        "message": refusal.message,
        "more_info": f"https://www.twilio.com/docs/errors/{refusal.code}",
        "status": refusal.status,
    }


def _form(raw: bytes) -> dict[str, str]:
    """Form or query fields, first value of each (``DateSent%3C`` reads as ``DateSent<``)."""
    return {key: values[0] for key, values in _fields(raw).items()}


def _fields(raw: bytes) -> dict[str, list[str]]:
    """Form or query fields, every value of each (``MediaUrl`` may repeat)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Refusal(400, 20001, "The request is not valid UTF-8") from exc
    try:
        return parse_qs(text, keep_blank_values=True, max_num_fields=100)
    except ValueError as exc:  # more fields than that
        raise _Refusal(400, 20001, "Too many parameters") from exc


def _fits(value: str, rule: re.Pattern[str] | frozenset[str]) -> bool:
    if isinstance(rule, frozenset):
        return value in rule
    return value.isascii() and rule.match(value) is not None


def _web_url(url: str) -> bool:
    """An http(s) URL with a host, at most 4,000 characters, that an HTTP client can call."""
    if len(url) > MAX_URL_LENGTH or not url.isprintable() or " " in url:
        return False
    try:
        parts = urlsplit(url)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _send_at(form: dict[str, str], now_us: int) -> int | None:
    """When a create asks to be sent (``ScheduleType=fixed`` + ``SendAt``), or ``None``."""
    kind = form.get("ScheduleType")
    if kind is None or kind == "":
        return None
    if kind != "fixed":
        raise _Refusal(400, 35126, f"Invalid ScheduleType: {kind!r}; the only type is fixed")
    text = form.get("SendAt", "").strip()
    if not text:
        raise _Refusal(400, 35111, "SendAt is required with ScheduleType=fixed")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise _Refusal(400, 35114, f"SendAt must be an ISO-8601 time in UTC, not {text!r}")
    try:
        ahead = when - datetime.fromtimestamp(now_us / 1_000_000, UTC)
        at_us = int(when.timestamp() * 1_000_000)
    except (OverflowError, ValueError, OSError) as exc:
        raise _Refusal(400, 35114, "SendAt must be 15 minutes to 35 days ahead") from exc
    if not SCHEDULE_MIN <= ahead <= SCHEDULE_MAX:
        raise _Refusal(400, 35114, "SendAt must be 15 minutes to 35 days ahead")
    return at_us


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def _valid_e164(number: str) -> bool:
    if not _E164.match(number):
        return False
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(parsed))


def _valid_sender(sender: str) -> bool:
    return bool(
        _E164.match(sender) or _SHORT_CODE.match(sender) or _ALPHANUMERIC_SENDER.match(sender)
    )


@lru_cache(maxsize=256)
def _service_sender(service_sid: str) -> str:
    """The number a Messaging Service sends from: one per service, always the same."""
    digits = int(service_sid[2:], 16) % 10_000 if _SERVICE_SID.match(service_sid) else 0
    return f"+1201555{digits:04d}"


@lru_cache(maxsize=16384)
def _rfc2822(seconds: int) -> str:
    """``Thu, 24 Aug 2023 05:01:45 +0000``, whatever the locale."""
    t = time.gmtime(seconds)
    return (
        f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _parse_day(text: str) -> date | None:
    """``YYYY-MM-DD`` (a longer ISO timestamp counts by its date), or an RFC 2822 date."""
    found = _DAY.match(text.strip())
    if found:
        try:
            return date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            return None
    try:
        return parsedate_to_datetime(text).astimezone(UTC).date()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _day_start_us(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000


def _token(prefix: str, row: StoredMessage) -> str:
    return f"{prefix}{row.sending_us:x}-{row.id or 0:x}"


def _parse_token(token: str) -> Cursor | None:
    if token[:2] not in ("PA", "PB"):
        return None
    sending, _, row_id = token[2:].partition("-")
    try:
        return int(sending, 16), int(row_id, 16)
    except ValueError:
        return None


def _is_count(text: str) -> bool:
    """True for a plain non-negative ASCII integer ("²" passes ``isdigit`` but not ``int``)."""
    return text.isascii() and text.isdigit()
