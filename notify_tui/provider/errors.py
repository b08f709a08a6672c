"""What can go wrong when talking to the provider.

The services catch these at the level they care about (``ProviderError`` is a
``notify_tui.errors.NotifyError``: ``explain()`` gives the user one line)::

    ProviderError                      anything the provider client raises
     ├── AuthenticationError           401, 403 / code 20003: refused credentials; never retried
     ├── NotFoundError                 404 / code 20404: no such message (or account)
     ├── RateLimitedError              429 / code 20429: not processed; safe to retry later
     ├── RefusedError                  any other 4xx: the provider refused, with its code
     ├── ServerError                   5xx: the provider failed
     ├── InvalidResponseError          an answer that is not what the API promises
     │    └── ProviderFaultError       ... that is a provider fault (too large, a page
     │                                 outside our account's list): recorded and shown
     ├── TransportError                no answer at all: connect failed, connection dropped
     │    └── ProviderTimeoutError     ... because a timeout expired
     └── CreateOutcomeUnknownError     a create that may have reached the provider: the
                                       message may exist; look it up before resending

Every error carries ``http_status``, ``code``, ``message`` and ``more_info`` where known (``None``
otherwise). Messages are built from the provider's own error text and the request's method and
path: never from headers or credentials.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from notify_tui.domain.faults import Fault
from notify_tui.errors import NotifyError

__all__ = [
    "AuthenticationError",
    "CreateOutcomeUnknownError",
    "InvalidResponseError",
    "NotFoundError",
    "ProviderError",
    "ProviderFaultError",
    "ProviderTimeoutError",
    "RateLimitedError",
    "RefusedError",
    "ServerError",
    "TransportError",
]


class ProviderError(NotifyError):
    """Base class of every error the provider client raises."""

    default_http_status: ClassVar[int | None] = None
    default_code: ClassVar[int | None] = None

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: int | None = None,
        more_info: str | None = None,
        provider_text: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = self.default_http_status if http_status is None else http_status
        self.code = self.default_code if code is None else code
        self.more_info = more_info
        self.provider_text = provider_text
        """The provider's own words (its error body's ``message``), without our context."""
        self.retry_after = retry_after
        """Seconds the provider asked us to wait (``Retry-After`` on a 429 or a 5xx), when it
        said."""

    def __str__(self) -> str:
        details = []
        if self.http_status is not None:
            details.append(f"HTTP {self.http_status}")
        if self.code is not None:
            details.append(f"code {self.code}")
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def explain(self) -> str:
        """One line for the user."""
        return f"the provider failed: {self}"


class AuthenticationError(ProviderError):
    """The provider refused the credentials (401, code 20003). Retrying cannot help."""

    def explain(self) -> str:
        """One line for the user: which settings to check (never their values)."""
        answer = f"HTTP {self.http_status or 401}, code {self.code or 20003}"
        return (
            f"the provider refused the credentials ({answer}): check TWILIO_ACCOUNT_SID and "
            "TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)"
        )


class NotFoundError(ProviderError):
    """The provider does not know the resource (404, code 20404)."""

    def explain(self) -> str:
        """One line for the user: only a create reaches them with a 404, so the account or
        the address is wrong."""
        return (
            f"the provider does not know this account or address ({self}): check "
            "TWILIO_ACCOUNT_SID and NOTIFY_PROVIDER_URL"
        )


class RateLimitedError(ProviderError):
    """Too many requests (429, code 20429). The request was not processed."""

    default_http_status = 429
    default_code = 20429


class RefusedError(ProviderError):
    """Any other 4xx: the provider refused the request, e.g. 21211 for an invalid ``To``."""


class ServerError(ProviderError):
    """The provider answered 5xx (a 503 may say ``Retry-After``)."""


class InvalidResponseError(ProviderError):
    """The provider answered something the API does not promise (not JSON, not an object...)."""


class ProviderFaultError(InvalidResponseError):
    """An answer that is a provider fault (``domain.faults``): larger than any legitimate one,
    or a next page outside our account's Messages list. ``fault`` says what was asked and what
    came; the services record it."""

    def __init__(self, message: str, fault: Fault, *, http_status: int | None = None) -> None:
        super().__init__(message, http_status=http_status)
        self.fault = fault


class TransportError(ProviderError):
    """No answer: the connection could not be made, or broke before the answer arrived."""

    def __init__(self, message: str, *, maybe_sent: bool = True) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent
        """False only when the request certainly never left (connect failed, pool timeout)."""


class ProviderTimeoutError(TransportError):
    """A connect, write, read or pool timeout expired."""


class CreateOutcomeUnknownError(ProviderError):
    """A create request that may have reached the provider: the message may exist.

    Raised instead of retrying when a create timed out after sending, lost its connection, got a
    5xx, or got a success it could not read. Never resend blindly: look the message up first
    (list by ``to`` and the day of ``attempted_at``).
    """

    def __init__(
        self,
        message: str,
        *,
        to: str,
        attempted_at: datetime,
        cause: ProviderError,
    ) -> None:
        super().__init__(
            message, http_status=cause.http_status, code=cause.code, more_info=cause.more_info
        )
        self.to = to
        """The ``To`` of the create request."""
        self.attempted_at = attempted_at
        """When the last attempt started (aware, UTC)."""
        self.cause = cause
        """What the client saw: a transport error, a 5xx, an unreadable success."""
