"""Fixtures of the provider tests: sandbox apps on a fake clock, clients, a live server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from notify_tui.provider import SANDBOX_AUTH_TOKEN, TwilioClient
from notify_tui.provider.client import SANDBOX_BASE_URL, sandbox_client
from notify_tui.provider.sandbox import SandboxApp

from .support import ACCOUNT, FakeClock, LiveServer, RecordingSleep


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def make_app(clock: FakeClock) -> Iterator[Callable[..., SandboxApp]]:
    """Build sandbox apps on the fake clock (seeded), closed at the end of the test."""
    apps: list[SandboxApp] = []

    def make(**options: Any) -> SandboxApp:
        options.setdefault("clock", clock)
        options.setdefault("seed", 7)
        app = SandboxApp(**options)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def app(make_app: Callable[..., SandboxApp]) -> SandboxApp:
    return make_app()


@pytest.fixture
async def client(app: SandboxApp, fake_sleep: RecordingSleep) -> AsyncIterator[TwilioClient]:
    async with sandbox_client(app, sleep=fake_sleep, max_retries=2) as c:
        yield c


@pytest.fixture
async def raw(app: SandboxApp) -> AsyncIterator[httpx.AsyncClient]:
    """A bare httpx client on the app, to see exactly what goes over the wire."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=SANDBOX_BASE_URL,
        auth=(ACCOUNT, SANDBOX_AUTH_TOKEN),
    ) as c:
        yield c


@pytest.fixture
def serve() -> Iterator[Callable[[SandboxApp], LiveServer]]:
    """Serve sandbox apps over real HTTP for the length of the test."""
    servers: list[LiveServer] = []

    def start(app: SandboxApp) -> LiveServer:
        server = LiveServer(app)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
