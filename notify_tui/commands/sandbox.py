"""``notify-tui sandbox``: serve the built-in sandbox provider over HTTP."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from notify_tui.cli import CommandError, command
from notify_tui.config import Settings
from notify_tui.provider.sandbox import Faults
from notify_tui.provider.sandbox.server import run_sandbox_server


def _serve(args: argparse.Namespace, settings: Settings) -> int:
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


@command
def register(commands: Any) -> None:
    """Register ``sandbox``."""
    sandbox = commands.add_parser(
        "sandbox",
        help="serve the built-in sandbox provider over HTTP",
        description="A provider that speaks Twilio's Messages API (create, fetch, list), keeps "
        "its messages across restarts and moves them through queued, sent and delivered or "
        "failed, with outcomes chosen from each number. GET /_sandbox/stats counts requests; "
        "POST /_sandbox/faults changes the faults below while it runs.",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8099, help="port (8099)")
    sandbox.add_argument(
        "--speed", type=float, default=1.0, help="divide every status delay by this (1)"
    )
    sandbox.add_argument(
        "--auth-token", metavar="TOKEN", help="require Basic auth with this password"
    )
    sandbox.add_argument("--state", metavar="FILE", help="SQLite file for its messages")
    sandbox.add_argument(
        "--max-concurrency", type=int, default=100, help="answer 429 past this many (100)"
    )
    sandbox.add_argument("--seed", type=int, help="make SIDs, timings and faults repeatable")
    sandbox.add_argument("--latency", type=float, default=0.0, help="seconds added to answers")
    sandbox.add_argument("--error-rate", type=float, default=0.0, help="share answered 500")
    sandbox.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped requests")
    sandbox.add_argument(
        "--lost-answer-rate",
        type=float,
        default=0.0,
        help="share of creates that create the message, then drop the connection",
    )
    sandbox.add_argument(
        "--lost-rate", type=float, default=0.0, help="share of messages that later answer 404"
    )
    sandbox.add_argument("--quiet", action="store_true", help="log only warnings")
    sandbox.set_defaults(handler=_serve)
