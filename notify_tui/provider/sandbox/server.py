"""Serve the sandbox over real HTTP with uvicorn (``notify-tui sandbox``).

uvicorn is imported when a server is configured, not with this module: every ``notify-tui``
command imports it (to register ``notify-tui sandbox``), and the app's start-up should not pay
for a web server it does not run.
"""

from __future__ import annotations

import asyncio
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_data_path

from notify_tui.provider.sandbox.app import SandboxApp
from notify_tui.provider.sandbox.faults import ConnectionDropped, Faults

if TYPE_CHECKING:
    import uvicorn

__all__ = ["default_state_path", "run_sandbox_server", "sandbox_server_config"]


@cache
def _dropping_h11_protocol() -> type:
    """uvicorn's h11 protocol, able to drop a connection without answering.

    ASGI has no way to say "close the socket, send nothing": the app raises
    ``ConnectionDropped`` and this protocol aborts the transport, so the client sees the server
    hang up, as with a real network fault.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class _DroppingH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            inner = self.app

            async def app(scope: Any, receive: Any, send: Any) -> None:
                try:
                    await inner(scope, receive, send)
                except ConnectionDropped:
                    self.transport.abort()
                    # Let connection_lost mark the request disconnected: uvicorn writes nothing.
                    await asyncio.sleep(0)

            self.app = app

    return _DroppingH11Protocol


def default_state_path() -> Path:
    """Where the sandbox server keeps its state unless told otherwise."""
    return user_data_path("notify-tui") / "sandbox.sqlite3"


def sandbox_server_config(
    app: SandboxApp,
    *,
    host: str = "127.0.0.1",
    port: int = 8099,
    log_level: str = "info",
) -> uvicorn.Config:
    """The uvicorn configuration that serves ``app``: h11, lifespan on, long keep-alive."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_dropping_h11_protocol(),
        lifespan="on",
        log_level=log_level,
        access_log=False,
        # Longer than the client's keep-alive expiry, so the client never reuses a socket
        # the server is closing (which would look like a dropped create).
        timeout_keep_alive=75,
    )


def run_sandbox_server(
    *,
    host: str = "127.0.0.1",
    port: int = 8099,
    speed: float = 1.0,
    auth_token: str | None = None,
    state_path: str | os.PathLike[str] | None = None,
    max_concurrency: int = 100,
    faults: Faults | None = None,
    seed: int | None = None,
    log_level: str = "info",
) -> None:
    """Serve a sandbox until interrupted; its state persists in ``state_path``."""
    app = SandboxApp(
        state_path=state_path if state_path is not None else default_state_path(),
        speed=speed,
        auth_token=auth_token,
        max_concurrency=max_concurrency,
        faults=faults,
        seed=seed,
    )
    import uvicorn

    try:
        uvicorn.Server(sandbox_server_config(app, host=host, port=port, log_level=log_level)).run()
    finally:
        app.close()
