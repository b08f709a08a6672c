"""Whether the provider is answering: the one place that knows about an outage.

The sender and the poller tell a ``ProviderHealth`` about each answer (``ok``) and each failure
(``failed``: no answer, a 5xx, a 429...). An outage starts with the first failure after the
last success and ends with the next success. Headless runs stop once it has lasted
``Settings.outage_limit`` (``OutageError``); the app shows it in the header and goes on trying.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from notify_tui.provider import ProviderError


@dataclass(frozen=True, slots=True)
class Outage:
    """The provider has not answered well since ``since`` (aware UTC)."""

    since: datetime
    last_error: str
    host: str
    seconds: float
    """How long it has lasted so far."""

    def describe(self) -> str:
        """``no successful request to api.twilio.com for 5 min (since 12:00:03 UTC): …``."""
        return (
            f"no successful request to {self.host or 'the provider'} for "
            f"{_duration(self.seconds)} (since {self.since:%H:%M:%S} UTC); last error: "
            f"{self.last_error}"
        )


class OutageError(ProviderError):
    """The provider did not answer well for longer than the outage limit: the run stopped."""

    def __init__(self, outage: Outage, resume: str | None = None) -> None:
        super().__init__(outage.describe())
        self.outage = outage
        self.resume = resume
        """The command that carries on once the provider is back, when there is one."""

    def explain(self) -> str:
        """One line: what failed, where, since when, and how to carry on."""
        then = f"; once it answers: {self.resume}" if self.resume else ""
        return f"the provider is unreachable: {self.outage.describe()}{then}"


class ProviderHealth:
    """Successes and failures of provider requests, and the outage they make, if any.

    ``clock`` is monotonic seconds, ``wall`` aware UTC now (inject both in tests).
    """

    def __init__(
        self,
        host: str = "",
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.host = host
        self._clock = clock
        self._wall = wall
        self._down_at: float | None = None
        self._down_since: datetime | None = None
        self._last_error = ""

    @classmethod
    def for_url(cls, url: str | None) -> ProviderHealth:
        """Health of the provider at ``url`` (its host names it in messages)."""
        return cls(urlsplit(url).hostname or "" if url else "")

    def ok(self) -> None:
        """A request was answered well: any outage is over."""
        self._down_at = None
        self._down_since = None

    def failed(self, error: BaseException | str) -> None:
        """A request failed for want of a good answer (not a refusal of what was asked)."""
        if self._down_at is None:
            self._down_at = self._clock()
            self._down_since = self._wall()
        self._last_error = str(error)

    @property
    def outage(self) -> Outage | None:
        """The current outage, or ``None`` while the provider answers."""
        if self._down_at is None or self._down_since is None:
            return None
        return Outage(self._down_since, self._last_error, self.host, self._clock() - self._down_at)

    def exceeded(self, limit: float | None) -> Outage | None:
        """The current outage once it has lasted ``limit`` seconds (``None``: never)."""
        outage = self.outage
        if limit is None or outage is None or outage.seconds < limit:
            return None
        return outage


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
