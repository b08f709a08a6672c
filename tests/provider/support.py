"""Helpers of the provider tests: a fake clock and sleep, a live server, numbers by outcome."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

from notify_tui.provider import SANDBOX_ACCOUNT_SID
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.provider.sandbox.outcomes import outcome_for
from notify_tui.provider.sandbox.server import sandbox_server_config

ACCOUNT = SANDBOX_ACCOUNT_SID
FROM = "+15005550006"
START = 1_700_000_000.0
"""Tue, 14 Nov 2023 22:13:20 +0000: a fixed instant for the fake clock."""
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


class FakeClock:
    """Seconds since the epoch, moved only by the test."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSleep:
    """An ``asyncio.sleep`` stand-in that returns at once and remembers each delay."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def number_with(final_status: str, code: int | None = None, prefix: str = "+1202555") -> str:
    """The first number of ``prefix`` whose outcome is ``final_status`` (with ``code``)."""
    for i in range(100_000):
        number = f"{prefix}{i:04d}"
        outcome = outcome_for(number)
        if outcome.final_status == final_status and outcome.error_code == code:
            return number
    raise AssertionError(f"no number ends {final_status} {code}")


def accepted_numbers(count: int, prefix: str = "+1415555", start: int = 0) -> list[str]:
    """``count`` numbers of ``prefix`` (from ``start``) that the sandbox accepts at create."""
    found: list[str] = []
    i = start
    while len(found) < count:
        phone = f"{prefix}{i:04d}"
        if outcome_for(phone).final_status != "refused":
            found.append(phone)
        i += 1
    return found


@contextmanager
def served_sandbox(clock: Callable[[], float], seed: int) -> Iterator[tuple[SandboxApp, str]]:
    """A sandbox on ``clock`` served over loopback HTTP: ``(app, base URL)``, closed after."""
    app = SandboxApp(clock=clock, seed=seed)
    live = LiveServer(app)
    live.start()
    try:
        yield app, live.base_url
    finally:
        live.stop()
        app.close()


class LiveServer:
    """A sandbox app (or any ASGI app) served by uvicorn on a loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        config = sandbox_server_config(app, host="127.0.0.1", port=self.port, log_level="error")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        for _ in range(200):
            if self._server.started:
                return
            self._thread.join(0.05)
        raise RuntimeError("the sandbox server did not start within 10 s")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()
        assert not self._thread.is_alive(), "the sandbox server did not stop within 10 s"


@dataclass(frozen=True)
class Received:
    """One request a ``CallbackReceiver`` got."""

    url: str
    """As the receiver saw it (scheme, host, port, path and query)."""
    signature: str | None
    pairs: list[tuple[str, str]]
    at: float | None = None
    """The receiver's ``clock`` when it arrived (a ``FakeClock`` the sandbox also reads)."""

    @property
    def params(self) -> dict[str, str]:
        return dict(self.pairs)


class CallbackReceiver:
    """A small ASGI app that keeps every POST it gets; serve it with ``LiveServer``.

    ``answer`` is the status it replies with (set it to 500 to play a broken receiver);
    ``clock``, when set, stamps each arrival.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answer = 204
        self.clock: FakeClock | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        host = headers.get("host", "")
        query = scope.get("query_string", b"").decode()
        url = f"http://{host}{scope['path']}" + (f"?{query}" if query else "")
        with self._lock:
            self.received.append(
                Received(
                    url,
                    headers.get("x-twilio-signature"),
                    parse_qsl(body.decode()),
                    None if self.clock is None else self.clock(),
                )
            )
        await send({"type": "http.response.start", "status": self.answer, "headers": []})
        await send({"type": "http.response.body", "body": b""})
