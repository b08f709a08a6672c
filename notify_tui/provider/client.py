"""The Twilio Programmable Messaging client (REST API 2010-04-01) over one pooled httpx client.

Retries: fetch and list retry 429, 5xx and transport failures with exponential backoff and full
jitter, bounded by ``max_retries`` and ``max_total_delay``; a ``Retry-After`` (on a 429, a 503 or
any 5xx) is honoured when it fits in what is left of ``max_total_delay``. A create is retried only
when it certainly created nothing (429, or a connection that was never made); any other failure
of a create that may have reached the provider raises ``CreateOutcomeUnknownError`` at once.

Answers are read as a stream and capped (``answer_cap``): over the cap is a provider fault
(``ProviderFaultError``), and nothing more is read. ``next_page_uri`` is followed only on our
origin and our account's Messages list.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import random as _random
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlsplit

import httpx

from notify_tui.domain.faults import Fault, FaultKind, Operation, clip
from notify_tui.domain.status import parse_error_code
from notify_tui.provider.errors import (
    AuthenticationError,
    CreateOutcomeUnknownError,
    InvalidResponseError,
    NotFoundError,
    ProviderError,
    ProviderFaultError,
    ProviderTimeoutError,
    RateLimitedError,
    RefusedError,
    ServerError,
    TransportError,
)
from notify_tui.provider.messages import ERROR_CODE_MAX, ProviderMessage

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "SANDBOX_ACCOUNT_SID",
    "SANDBOX_AUTH_TOKEN",
    "SANDBOX_BASE_URL",
    "ProviderConfig",
    "TwilioClient",
    "sandbox_client",
]

DEFAULT_BASE_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"
SANDBOX_BASE_URL = "http://sandbox.invalid"
"""Base URL of an in-process sandbox: never resolved, the ASGI transport answers."""
SANDBOX_ACCOUNT_SID = "AC00000000000000000000000000000000"
SANDBOX_AUTH_TOKEN = "sandbox"
MAX_PAGE_SIZE = 1000
CANNOT_CANCEL = 30409
"""Twilio's code for a cancel of a message that is no longer scheduled."""

MESSAGE_ANSWER_MAX = 24 * 1024
"""The largest legitimate answer about one message, in bytes. A body of 1,600 characters is at
most 19,200 bytes of JSON (an astral character escaped as a surrogate pair, ``\\ud83d\\ude00``:
12 bytes); every other field of a Message together stays under 2,000 (a sandbox answer with an
empty body is about 900). Also the cap of an error answer."""

PAGE_ENVELOPE_MAX = 8 * 1024
"""A list page's own fields (its URIs and counters) beside its messages, in bytes."""


def answer_cap(page_size: int | None = None) -> int:
    """The most bytes a legitimate answer holds: one message, or a page of ``page_size``.

    A page of 1,000 messages with 1,600-character bodies: 8 KiB + 1,000 x 24 KiB, about 25 MB
    (the largest legitimate answer). A create or fetch answer: 24 KiB.
    """
    if page_size is None:
        return MESSAGE_ANSWER_MAX
    return PAGE_ENVELOPE_MAX + page_size * MESSAGE_ANSWER_MAX


ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]
"""Any ASGI 3 application, such as the sandbox's ``SandboxApp``."""

Sleep = Callable[[float], Awaitable[object]]

# Failures at which the request certainly never reached the provider.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderConfig:
    """Where the provider is and who we are to it. The password never shows in ``repr``."""

    account_sid: str
    """Always in the request path, whoever authenticates."""
    username: str = ""
    """``AccountSid`` or an API key SID; empty means the account SID."""
    password: str = field(default="", repr=False)
    """The auth token, or the API key's secret."""
    base_url: str = DEFAULT_BASE_URL
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    write_timeout: float = 30.0
    pool_timeout: float = 10.0
    max_connections: int = 50

    def __post_init__(self) -> None:
        if not self.account_sid or not self.account_sid.isprintable():
            raise ValueError("account_sid must be a non-empty printable string")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("base_url must not carry credentials; use username and password")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")

    @property
    def auth_username(self) -> str:
        """The Basic auth user name actually sent."""
        return self.username or self.account_sid

    @property
    def timeout(self) -> httpx.Timeout:
        """The httpx timeouts of every request."""
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.write_timeout,
            pool=self.pool_timeout,
        )


class TwilioClient:
    """Create, fetch and list Messages. One per process; use as an async context manager."""

    def __init__(
        self,
        config: ProviderConfig,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        max_total_delay: float = 60.0,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if max_retries < 0 or backoff_base < 0 or backoff_cap < 0 or max_total_delay < 0:
            raise ValueError("retry bounds must not be negative")
        self._config = config
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_total_delay = max_total_delay
        self._sleep = sleep
        self._random = random
        base = urlsplit(config.base_url)
        self._origin = (base.scheme, base.hostname, base.port)
        account = quote(config.account_sid, safe="")
        self._base_path = (base.path or "").rstrip("/")
        self._messages_path = f"/{API_VERSION}/Accounts/{account}/Messages.json"
        self._message_prefix = f"/{API_VERSION}/Accounts/{account}/Messages/"
        self._http = httpx.AsyncClient(
            base_url=config.base_url,
            auth=httpx.BasicAuth(config.auth_username, config.password),
            timeout=config.timeout,
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
            ),
            headers={"Accept": "application/json", "User-Agent": "notify-tui"},
            transport=transport,
            follow_redirects=False,
        )

    @property
    def config(self) -> ProviderConfig:
        """The configuration this client was built with."""
        return self._config

    @property
    def create_budget(self) -> float:
        """Seconds a ``create_message`` may take at most before it answers or raises: every
        try waiting out each of its timeouts, plus the backoffs between them."""
        c = self._config
        one_try = c.pool_timeout + c.connect_timeout + c.write_timeout + c.read_timeout
        return (self._max_retries + 1) * one_try + self._max_total_delay

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def create_message(
        self,
        to: str,
        body: str,
        *,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        send_at: datetime | None = None,
        retry_busy: bool = True,
    ) -> ProviderMessage:
        """Send one message (``POST .../Messages.json``); the provider answers 201 with it.

        ``retry_busy`` ``False`` raises the first 429 at once instead of waiting it out here: a
        sender that paces its creates retries it in a turn of its own (``services.sender``).

        ``send_at`` (an aware datetime) schedules it (``ScheduleType=fixed``): Twilio honours
        that only for a Messaging Service, and between 15 minutes and 35 days ahead, so it
        requires ``messaging_service_sid``; the answer then has status ``scheduled``.

        Raises ``RefusedError`` (with the provider's code) when refused, ``RateLimitedError`` or
        ``TransportError`` when it certainly created nothing after the retries, and
        ``CreateOutcomeUnknownError`` when the message may exist.
        """
        if not from_ and not messaging_service_sid:
            raise ValueError("create_message needs from_ or messaging_service_sid")
        if send_at is not None and not messaging_service_sid:
            # Without a service Twilio drops the schedule and sends at once: never ask that.
            raise ValueError("scheduling a message (send_at) needs messaging_service_sid")
        if send_at is not None and send_at.tzinfo is None:
            raise ValueError("send_at must be an aware datetime")
        form = {"To": to, "Body": body}
        if from_:
            form["From"] = from_
        if messaging_service_sid:
            form["MessagingServiceSid"] = messaging_service_sid
        if status_callback:
            form["StatusCallback"] = status_callback
        if send_at is not None:
            form["ScheduleType"] = "fixed"
            form["SendAt"] = send_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        started: list[datetime] = []
        try:
            data = await self._call(
                "POST",
                self._messages_path,
                data=form,
                retry=_safe_to_resend if retry_busy else _never_reached,
                started=started,
                operation=Operation.CREATE,
            )
            message = ProviderMessage.from_json(data)
            if message.sid is None:
                fault = Fault(
                    FaultKind.BAD_VALUE,
                    Operation.CREATE,
                    f"To {to}",
                    "; ".join(message.flaws) or "no sid",
                )
                raise ProviderFaultError("the provider accepted a create without a sid", fault)
        except (ServerError, InvalidResponseError, TransportError) as error:
            if isinstance(error, TransportError) and not error.maybe_sent:
                raise
            raise CreateOutcomeUnknownError(
                f"the create may have reached the provider ({error}); look it up before resending",
                to=to,
                attempted_at=started[-1] if started else datetime.now(UTC),
                cause=error,
            ) from error
        return message

    async def fetch_message(self, sid: str) -> ProviderMessage:
        """Fetch one message by its SID (``GET .../Messages/{sid}.json``)."""
        if not sid:
            raise ValueError("sid must not be empty")
        path = f"{self._message_prefix}{quote(sid, safe='')}.json"
        data = await self._call("GET", path, retry=_transient, operation=Operation.FETCH)
        return ProviderMessage.from_json(data)

    async def cancel_message(self, sid: str) -> ProviderMessage:
        """Cancel a scheduled message (``POST .../Messages/{sid}.json`` with ``Status=canceled``).

        Twilio cancels only while the message is ``scheduled``; otherwise it refuses with code
        30409 (``RefusedError``). Cancelling is idempotent here: it is retried like a fetch, and
        a 30409 for a message that is already ``canceled`` (a retry after a lost answer, or
        someone else) answers the cancelled message.
        """
        if not sid:
            raise ValueError("sid must not be empty")
        path = f"{self._message_prefix}{quote(sid, safe='')}.json"
        try:
            data = await self._call(
                "POST",
                path,
                data={"Status": "canceled"},
                retry=_transient,
                operation=Operation.CANCEL,
            )
        except RefusedError as error:
            if error.code != CANNOT_CANCEL:
                raise
            current = await self.fetch_message(sid)
            if current.status != "canceled":
                raise
            return current
        message = ProviderMessage.from_json(data)
        if message.sid != sid:
            raise InvalidResponseError(
                f"asked to cancel {sid}, the provider answered about {message.sid}"
            )
        return message

    async def list_messages(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        date_sent: date | None = None,
        date_sent_before: date | None = None,
        date_sent_after: date | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[list[ProviderMessage]]:
        """Yield pages of messages, newest first, following ``next_page_uri`` until null.

        Dates are whole UTC days: ``date_sent`` that day, ``date_sent_before`` on or before it
        (``DateSent<``), ``date_sent_after`` on or after it (``DateSent>``).
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        first: dict[str, str] = {}
        if to:
            first["To"] = to
        if from_:
            first["From"] = from_
        for key, day in (
            ("DateSent", date_sent),
            ("DateSent<", date_sent_before),
            ("DateSent>", date_sent_after),
        ):
            if day is not None:
                first[key] = _day(day)
        first["PageSize"] = str(page_size)
        params: dict[str, str] | None = first
        url = self._messages_path
        seen: set[str] = set()
        while True:
            data = await self._call(
                "GET",
                url,
                params=params,
                retry=_transient,
                operation=Operation.LIST,
                cap=answer_cap(page_size),
            )
            if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
                raise InvalidResponseError("a list answer without a messages array")
            yield [ProviderMessage.from_json(m) for m in data["messages"] if isinstance(m, dict)]
            next_uri = data.get("next_page_uri")
            if next_uri is None or next_uri == "":
                return
            url = self._next_page(next_uri)
            if url in seen:
                raise InvalidResponseError("next_page_uri points back to a page already read")
            seen.add(url)
            params = None

    def _next_page(self, uri: object) -> str:
        """The provider's ``next_page_uri``, as given, once we know it stays in its lane: our
        origin (else our credentials would go to somebody else) and our account's Messages list
        (else we would read, and apply, another account's messages)."""
        if not isinstance(uri, str):
            raise InvalidResponseError("next_page_uri is not a string")
        parts = urlsplit(uri)
        relative = not parts.scheme and not parts.netloc
        if relative:
            lane = parts.path == self._messages_path
        else:
            same_origin = (parts.scheme, parts.hostname, parts.port) == self._origin
            lane = same_origin and parts.path in (
                self._messages_path,
                self._base_path + self._messages_path,
            )
        if not lane or parts.fragment:
            fault = Fault(
                FaultKind.FOREIGN_PAGE,
                Operation.LIST,
                f"the next page of {self._messages_path}",
                f"next_page_uri {clip(uri, 120)}",
            )
            raise ProviderFaultError(
                f"next_page_uri {clip(uri, 120)} leaves this account's Messages list", fault
            )
        return uri

    async def _call(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        retry: Callable[[ProviderError], bool],
        started: list[datetime] | None = None,
        operation: Operation,
        cap: int = MESSAGE_ANSWER_MAX,
    ) -> Any:
        """One API call with its retries; answers the decoded JSON of a 2xx."""
        attempt = 0
        waited = 0.0
        while True:
            if started is not None:
                started.append(datetime.now(UTC))
            try:
                return await self._attempt(method, url, params, data, operation, cap)
            except ProviderError as error:
                if not retry(error) or attempt >= self._max_retries:
                    raise
                delay = self._delay(error, attempt, self._max_total_delay - waited)
                if delay is None:
                    raise
            await self._sleep(delay)
            waited += delay
            attempt += 1

    def _delay(self, error: ProviderError, attempt: int, budget: float) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` when the budget is spent."""
        after = error.retry_after
        if after is not None:
            return after if after <= budget else None
        if budget <= 0:
            return None
        ceiling = min(self._backoff_cap, self._backoff_base * 2.0**attempt)
        return min(budget, self._random() * ceiling)

    async def _attempt(
        self,
        method: str,
        url: str,
        params: dict[str, str] | None,
        data: dict[str, str] | None,
        operation: Operation,
        cap: int,
    ) -> Any:
        try:
            request = self._http.build_request(method, url, params=params, data=data)
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self._transport_error(method, url, exc) from exc
        except httpx.RequestError as exc:
            raise InvalidResponseError(
                self._redact(f"{method} {_path(url)}: unreadable answer: {exc}")
            ) from exc
        where = f"{method} {response.request.url.path}"
        status = response.status_code
        try:
            body = await self._read(response, where, operation, cap)
        except httpx.TransportError as exc:
            raise self._transport_error(method, url, exc) from exc
        except httpx.RequestError as exc:
            raise InvalidResponseError(
                self._redact(f"{where}: unreadable answer: {exc}"), http_status=status
            ) from exc
        finally:
            await response.aclose()
        if 200 <= status < 300:
            try:
                return json.loads(body)
            except (ValueError, RecursionError) as exc:
                raise InvalidResponseError(
                    f"{where}: the answer is not JSON", http_status=status
                ) from exc
        raise self._status_error(where, response, body)

    async def _read(
        self, response: httpx.Response, where: str, operation: Operation, cap: int
    ) -> bytes:
        """The answer's body, or a ``ProviderFaultError`` as soon as it is larger than ``cap``:
        no more of it is read (a provider streaming megabytes costs us at most ``cap``)."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise self._oversized(where, operation, cap, response.status_code, declared)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise self._oversized(where, operation, cap, response.status_code)
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _oversized(
        where: str, operation: Operation, cap: int, status: int, declared: str | None = None
    ) -> ProviderFaultError:
        size = f"{int(declared):,} bytes" if declared else f"more than {cap:,} bytes"
        fault = Fault(FaultKind.OVERSIZED, operation, f"{where} (at most {cap:,} bytes)", f"{size}")
        return ProviderFaultError(
            f"{where}: an answer of {size}, over the {cap:,}-byte cap", fault, http_status=status
        )

    def _status_error(self, where: str, response: httpx.Response, raw: bytes) -> ProviderError:
        status = response.status_code
        code: int | None = None
        text = response.reason_phrase or "error"
        more_info: str | None = None
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict):
            code = parse_error_code(body.get("code"))
            if code is not None and not 0 < code <= ERROR_CODE_MAX:
                # Not an error code of the API: never a reason, never stored as one.
                code = None
            if isinstance(body.get("message"), str) and body["message"]:
                text = body["message"]
            if isinstance(body.get("more_info"), str):
                more_info = body["more_info"]
        message = self._redact(f"{where}: {text}")
        kwargs: dict[str, Any] = {
            "http_status": status,
            "code": code,
            "more_info": more_info,
            "provider_text": self._redact(text),
        }
        if status == 429 or (400 <= status < 500 and code == 20429):
            after = _retry_after(response.headers.get("Retry-After"))
            return RateLimitedError(message, retry_after=after, **kwargs)
        if status in (401, 403) or (400 <= status < 500 and code == 20003):
            # 403: the credentials are good for nothing here (a key without the permission, a
            # suspended account). Like a 401, nothing was created and no retry can help.
            return AuthenticationError(message, **kwargs)
        if status == 404:
            return NotFoundError(message, **kwargs)
        if 400 <= status < 500:
            return RefusedError(message, **kwargs)
        if status >= 500:
            after = _retry_after(response.headers.get("Retry-After"))
            return ServerError(message, retry_after=after, **kwargs)
        return InvalidResponseError(f"{where}: unexpected HTTP {status}", **kwargs)

    def _transport_error(self, method: str, url: str, exc: httpx.TransportError) -> TransportError:
        maybe_sent = not isinstance(exc, _NOT_SENT)
        cls: type[TransportError] = TransportError
        if isinstance(exc, httpx.TimeoutException):
            kind, cls = "timed out", ProviderTimeoutError
        elif maybe_sent:
            kind = "connection lost"
        else:
            kind = "connection failed"
        detail = str(exc)
        text = f"{method} {_path(url)}: {kind} ({type(exc).__name__}{': ' if detail else ''}"
        return cls(self._redact(f"{text}{detail})"), maybe_sent=maybe_sent)

    def _redact(self, text: str) -> str:
        """Belt and braces: no credential ever reaches an error message, not even as the
        Basic auth header a provider or a proxy might echo back."""
        secret = self._config.password
        if not secret:
            return text
        basic = base64.b64encode(f"{self._config.auth_username}:{secret}".encode()).decode()
        return text.replace(basic, "***").replace(secret, "***")


def _never_reached(error: ProviderError) -> bool:
    """A connection that was never made: nothing reached the provider, nothing was refused."""
    return isinstance(error, TransportError) and not error.maybe_sent


def _safe_to_resend(error: ProviderError) -> bool:
    """A create may be resent only when the provider certainly did not process it."""
    if isinstance(error, RateLimitedError):
        return True
    return isinstance(error, TransportError) and not error.maybe_sent


def _transient(error: ProviderError) -> bool:
    """Fetch and list retry what may pass: 429, 5xx, transport failures."""
    return isinstance(error, RateLimitedError | ServerError | TransportError)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds, or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _day(value: date) -> str:
    """A date filter as ``YYYY-MM-DD``; an aware datetime counts by its UTC day."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _path(url: str) -> str:
    return urlsplit(url).path or url


def sandbox_client(
    sandbox_app: ASGIApp,
    account_sid: str = SANDBOX_ACCOUNT_SID,
    *,
    auth_token: str = SANDBOX_AUTH_TOKEN,
    max_retries: int = 4,
    backoff_base: float = 0.5,
    max_total_delay: float = 60.0,
    sleep: Sleep = asyncio.sleep,
) -> TwilioClient:
    """A client wired to a sandbox app in this process (no socket, nothing to start)."""
    config = ProviderConfig(account_sid=account_sid, password=auth_token, base_url=SANDBOX_BASE_URL)
    return TwilioClient(
        config,
        httpx.ASGITransport(app=sandbox_app),
        max_retries=max_retries,
        backoff_base=backoff_base,
        max_total_delay=max_total_delay,
        sleep=sleep,
    )
