"""The Twilio Programmable Messaging client (REST API 2010-04-01) over one pooled httpx client.

Retries: fetch and list retry 429 (honouring ``Retry-After``), 5xx and transport failures with
exponential backoff and full jitter, bounded by ``max_retries`` and ``max_total_delay``. A create
is retried only when it certainly created nothing (429, or a connection that was never made);
any other failure of a create that may have reached the provider raises
``CreateOutcomeUnknownError`` at once.
"""

from __future__ import annotations

import asyncio
import base64
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

from notify_tui.domain.status import parse_error_code
from notify_tui.provider.errors import (
    AuthenticationError,
    CreateOutcomeUnknownError,
    InvalidResponseError,
    NotFoundError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    RefusedError,
    ServerError,
    TransportError,
)
from notify_tui.provider.messages import ProviderMessage

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
    ) -> ProviderMessage:
        """Send one message (``POST .../Messages.json``); the provider answers 201 with it.

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
                "POST", self._messages_path, data=form, retry=_safe_to_resend, started=started
            )
            message = ProviderMessage.from_json(data)
            if message.sid is None:
                raise InvalidResponseError("the provider accepted a create without a sid")
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
        data = await self._call("GET", path, retry=_transient)
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
            data = await self._call("POST", path, data={"Status": "canceled"}, retry=_transient)
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
            data = await self._call("GET", url, params=params, retry=_transient)
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
        """The provider's ``next_page_uri``, as given, once we know it stays on our origin."""
        if not isinstance(uri, str):
            raise InvalidResponseError("next_page_uri is not a string")
        if uri.startswith("/") and not uri.startswith("//"):
            return uri
        parts = urlsplit(uri)
        if (parts.scheme, parts.hostname, parts.port) != self._origin:
            # Following it would send our credentials to somebody else.
            raise InvalidResponseError("next_page_uri leaves the provider's origin")
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
    ) -> Any:
        """One API call with its retries; answers the decoded JSON of a 2xx."""
        attempt = 0
        waited = 0.0
        while True:
            if started is not None:
                started.append(datetime.now(UTC))
            try:
                return await self._attempt(method, url, params, data)
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
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return error.retry_after if error.retry_after <= budget else None
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
    ) -> Any:
        try:
            response = await self._http.request(method, url, params=params, data=data)
        except httpx.TransportError as exc:
            raise self._transport_error(method, url, exc) from exc
        except httpx.RequestError as exc:
            raise InvalidResponseError(
                self._redact(f"{method} {_path(url)}: unreadable answer: {exc}")
            ) from exc
        where = f"{method} {response.request.url.path}"
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json()
            except (ValueError, RecursionError) as exc:
                raise InvalidResponseError(
                    f"{where}: the answer is not JSON", http_status=status
                ) from exc
        raise self._status_error(where, response)

    def _status_error(self, where: str, response: httpx.Response) -> ProviderError:
        status = response.status_code
        code: int | None = None
        text = response.reason_phrase or "error"
        more_info: str | None = None
        try:
            body = response.json()
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict):
            code = parse_error_code(body.get("code"))
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
            return ServerError(message, **kwargs)
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
