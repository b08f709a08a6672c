"""Fixtures of the provider tests: the sandbox's clock starts at a fixed instant; more sandbox
apps on it, a bare HTTP client, a live server. ``sandbox`` and ``client`` are the shared ones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from notify_tui.provider import SANDBOX_AUTH_TOKEN
from notify_tui.provider.client import SANDBOX_BASE_URL
from notify_tui.provider.sandbox import SandboxApp

from .support import ACCOUNT, FakeClock, LiveServer


@pytest.fixture
def clock() -> FakeClock:
    """A fixed instant (``support.START``), so that timestamps are exact."""
    return FakeClock()


@pytest.fixture
def make_app(sandbox_options: dict[str, Any]) -> Iterator[Callable[..., SandboxApp]]:
    """Build more sandbox apps like ``sandbox`` (same clock, seeded), closed after the test."""
    apps: list[SandboxApp] = []

    def make(**options: Any) -> SandboxApp:
        app = SandboxApp(**{**sandbox_options, **options})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def app(sandbox: SandboxApp) -> SandboxApp:
    """The shared ``sandbox`` (the provider tests call it ``app``)."""
    return sandbox


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
