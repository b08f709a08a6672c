"""``notify-tui sandbox``: serve the built-in sandbox provider over HTTP."""

from __future__ import annotations

import argparse
import errno
import socket
from pathlib import Path

from notify_tui.commands import CommandError
from notify_tui.config import Settings
from notify_tui.provider.sandbox import Faults
from notify_tui.provider.sandbox.server import run_sandbox_server


def run_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui sandbox``: serve the sandbox provider over HTTP until Ctrl+C."""
    try:
        faults = Faults(
            latency=args.latency,
            error_rate=args.error_rate,
            drop_rate=args.drop_rate,
            lost_answer_rate=args.lost_answer_rate,
            lost_rate=args.lost_rate,
            callback_drop_rate=args.callback_drop_rate,
            callback_duplicate_rate=args.callback_duplicate_rate,
            callback_delay_rate=args.callback_delay_rate,
            callback_delay=args.callback_delay,
            callback_reorder_rate=args.callback_reorder_rate,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    state = Path(args.state) if args.state else settings.data_dir / "sandbox-server.db"
    state.parent.mkdir(parents=True, exist_ok=True)
    _check_can_listen(args.host, args.port)
    print(
        f"Sandbox provider on http://{args.host}:{args.port} (state: {state}); "
        f"{'Basic auth required' if args.auth_token else 'no auth'}. Ctrl+C stops it."
    )
    run_sandbox_server(
        host=args.host,
        port=args.port,
        speed=args.speed,
        auth_token=args.auth_token,
        state_path=state,
        max_concurrency=args.max_concurrency,
        faults=faults,
        seed=args.seed,
        log_level="warning" if args.quiet else "info",
    )
    return 0


def _check_can_listen(host: str, port: int) -> None:
    """Say in one line, before the banner, why the server could not listen (the port is taken,
    the address is not this machine's), instead of uvicorn's log lines and exit status 3."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CommandError(f"cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by a server that just stopped is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            taken = exc.errno == errno.EADDRINUSE
            why = (
                "another program is listening there (--port picks another)"
                if taken
                else (exc.strerror or str(exc))
            )
            raise CommandError(f"cannot listen on {host}:{port}: {why}") from None
