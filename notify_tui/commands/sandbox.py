"""``notify-tui sandbox``: serve the built-in sandbox provider over HTTP."""

from __future__ import annotations

import argparse
from pathlib import Path

from notify_tui.commands import CommandError
from notify_tui.config import Settings
from notify_tui.provider.sandbox import Faults
from notify_tui.provider.sandbox.server import run_sandbox_server


def run_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui sandbox``: serve the sandbox provider over HTTP until Ctrl+C."""
    if args.speed <= 0:
        raise CommandError("--speed must be above zero")
    if not 0 < args.port < 65536:
        raise CommandError(f"--port must be between 1 and 65535, not {args.port}")
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
