"""``notify-tui sandbox``: serve the built-in sandbox provider over HTTP."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sqlite3
from pathlib import Path

from notify_tui.commands import CommandError, UsageError
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
    token = args.auth_token or (
        settings.sandbox_auth_token.reveal() if settings.sandbox_auth_token else None
    )
    if token is None and not args.insecure and not _loopback_only(args.host):
        raise UsageError(
            f"refusing to serve {args.host} without an auth token: anyone who reaches it could "
            "read its messages and switch its faults. Set NOTIFY_SANDBOX_AUTH_TOKEN (or "
            "sandbox_auth_token in the config file), or add --insecure"
        )
    state = Path(args.state) if args.state else settings.data_dir / "sandbox-server.db"
    state.parent.mkdir(parents=True, exist_ok=True)
    _check_can_listen(args.host, args.port)
    guarded = "Basic auth required on every path" if token else "no auth"
    print(
        f"Sandbox provider on http://{args.host}:{args.port} (state: {state}); {guarded}. "
        "Ctrl+C stops it."
    )
    try:
        _serve(args, token, state, faults)
    except sqlite3.Error as exc:
        raise CommandError(
            f"cannot keep the sandbox's state in {state}: {str(exc).strip() or type(exc).__name__} "
            "(--state names a file of its own)"
        ) from None
    return 0


def _serve(args: argparse.Namespace, token: str | None, state: Path, faults: Faults) -> None:
    run_sandbox_server(
        host=args.host,
        port=args.port,
        speed=args.speed,
        auth_token=token,
        state_path=state,
        max_concurrency=args.max_concurrency,
        faults=faults,
        seed=args.seed,
        log_level="warning" if args.quiet else "info",
    )


def _loopback_only(host: str) -> bool:
    """Whether every address ``host`` names is this machine's loopback (127.0.0.1, ::1)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False  # _check_can_listen says why
    try:
        return bool(infos) and all(
            ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
        )
    except ValueError:
        return False


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
