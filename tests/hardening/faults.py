"""A provider that misbehaves on cue, on a clock that runs fast.

``Warp`` is a virtual clock running ``factor`` times faster than real time, with a matching
``sleep``: the sender, the poller, the client's backoff and the sandbox's message timelines all
run on it, so "the provider is down for a minute" takes a fraction of a second and the tests
stay bounded.

``FaultyTransport`` sits between the client and the in-process sandbox (an httpx transport, so
it can do what only a network does: refuse connections, drop them, time out) and answers with
a fault while an outage is on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from notify_tui.provider import SANDBOX_ACCOUNT_SID, ProviderConfig, TwilioClient
from notify_tui.provider.client import SANDBOX_BASE_URL
from notify_tui.provider.sandbox import SandboxApp


class Warp:
    """Virtual time: ``factor`` virtual seconds pass per real second."""

    def __init__(self, factor: float = 100.0) -> None:
        self.factor = factor
        self._real0 = time.monotonic()
        self._wall0 = time.time()

    def elapsed(self) -> float:
        """Virtual seconds since the warp began."""
        return (time.monotonic() - self._real0) * self.factor

    def monotonic(self) -> float:
        """A virtual monotonic clock (for the sender's pacing and backoff)."""
        return self._real0 + self.elapsed()

    def time(self) -> float:
        """Virtual seconds since the epoch (for the sandbox's message timelines)."""
        return self._wall0 + self.elapsed()

    def utcnow(self) -> datetime:
        """Virtual now, naive UTC (for the poller and the store)."""
        return datetime.fromtimestamp(self.time(), UTC).replace(tzinfo=None)

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of virtual time."""
        await asyncio.sleep(max(0.0, seconds) / self.factor)


def _error(status: int, code: int, message: str, **headers: str) -> httpx.Response:
    body = {"code": code, "message": message, "more_info": "", "status": status}
    return httpx.Response(status, json=body, headers=headers)


def _kind(request: httpx.Request) -> str:
    if request.method == "POST":
        return "create"
    return "list" if request.url.path.endswith("/Messages.json") else "fetch"


@dataclass
class Outage:
    """A fault answered to the requests of ``kinds`` for ``seconds`` of virtual time, from the
    first such request at or after ``start`` (so that the first one always meets it)."""

    action: str
    start: float
    seconds: float
    kinds: frozenset[str]
    began: float | None = None

    def on(self, now: float, kind: str) -> bool:
        """Whether a request of ``kind`` at ``now`` meets the fault."""
        if kind not in self.kinds or now < self.start:
            return False
        if self.began is None:
            self.began = now
        return now < self.began + self.seconds


ACTIONS = (
    "500",
    "503_html",
    "429",
    "drop",
    "drop_after",
    "refused",
    "timeout",
    "slow",
    "invalid_json",
    "truncated",
    "404_html",
    "404",
)


class FaultyTransport(httpx.AsyncBaseTransport):
    """The sandbox behind a network and a front end that fail on cue.

    Actions: ``500`` (Twilio's error body), ``503_html`` (a proxy's HTML page), ``429`` (with
    ``Retry-After: 1``), ``drop`` (the connection drops before the request arrives), ``drop_after``
    (the provider acts, then the connection drops), ``refused`` (nothing listens), ``timeout``
    (the provider acts, the answer never comes), ``slow`` (a latency spike of 5 virtual seconds,
    then the answer), ``invalid_json`` (200 with an HTML body), ``truncated`` (the provider
    acts; half its answer arrives), ``404_html`` (a 404 that is not Twilio's), ``404`` (Twilio's
    own 20404).
    """

    def __init__(self, app: SandboxApp, warp: Warp) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.warp = warp
        self.outages: list[Outage] = []
        self.injected: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()

    def outage(
        self,
        action: str,
        seconds: float,
        kinds: tuple[str, ...] = ("create", "fetch", "list"),
        after: float = 0.0,
    ) -> Outage:
        """Answer ``action`` for ``seconds`` of virtual time from the first request of ``kinds``
        at least ``after`` seconds from now."""
        assert action in ACTIONS, action
        outage = Outage(action, self.warp.elapsed() + after, seconds, frozenset(kinds))
        self.outages.append(outage)
        return outage

    def _action(self, kind: str) -> str | None:
        now = self.warp.elapsed()
        for outage in self.outages:
            if outage.on(now, kind):
                return outage.action
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        kind = _kind(request)
        self.requests[kind] += 1
        action = self._action(kind)
        if action is None:
            return await self.inner.handle_async_request(request)
        self.injected[action] += 1
        if action == "500":
            return _error(500, 20500, "Internal Server Error")
        if action == "503_html":
            return httpx.Response(
                503, text="<html><body>Service Unavailable</body></html>", headers={}
            )
        if action == "429":
            return _error(429, 20429, "Too Many Requests", **{"Retry-After": "1"})
        if action == "drop":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        if action == "refused":
            raise httpx.ConnectError("[Errno 111] Connection refused")
        if action == "404_html":
            return httpx.Response(404, text="<html>Not Found</html>")
        if action == "404":
            return _error(404, 20404, f"The requested resource {request.url.path} was not found")
        if action == "invalid_json":
            return httpx.Response(200, text="<html><body>Maintenance</body></html>")
        if action == "slow":
            await self.warp.sleep(5.0)
            return await self.inner.handle_async_request(request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        if action == "drop_after":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        if action == "timeout":
            raise httpx.ReadTimeout("The read operation timed out")
        assert action == "truncated"
        body = response.content
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(response.status_code, content=body[: len(body) // 2], headers=headers)


def faulty_client(transport: FaultyTransport, warp: Warp, **options: float) -> TwilioClient:
    """A client on the faulty transport, backing off on the warp clock."""
    config = ProviderConfig(
        account_sid=SANDBOX_ACCOUNT_SID, password="x", base_url=SANDBOX_BASE_URL
    )
    return TwilioClient(config, transport, sleep=warp.sleep, **options)  # type: ignore[arg-type]


def is_json(text: str) -> bool:
    """Whether ``text`` is JSON (to tell a truncated body from a whole one)."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
