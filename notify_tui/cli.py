"""The ``notify-tui`` command: the app by default, and headless subcommands.

A user's mistake (a bad flag, an unreadable file, an unreachable database) ends with one line on
stderr and a non-zero exit, never a traceback.

Building the parser imports argparse alone (``notify_tui.commands`` holds the subcommands'
arguments): the app, ``--help`` and ``--version`` load only what they use, and a subcommand's
module is imported when that subcommand runs.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from notify_tui import __version__
from notify_tui.commands import EXIT_FAILURE, EXIT_INTERRUPTED, Handler, add_commands
from notify_tui.errors import user_message

if TYPE_CHECKING:
    from notify_tui.config import Settings


def build_parser() -> argparse.ArgumentParser:
    """The ``notify-tui`` parser; each command's handler is in ``args.handler``."""
    parser = argparse.ArgumentParser(
        prog="notify-tui",
        description="Know what happened to every text message of an SMS campaign.",
        epilog="Run without a command to open the app. Settings: flags, then NOTIFY_* and "
        "TWILIO_* environment variables, then the config file (NOTIFY_CONFIG).",
    )
    parser.add_argument("--version", action="version", version=f"notify-tui {__version__}")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="workspace database: postgresql://user@host/db or sqlite:///path "
        "(default: SQLite in the user's data directory; env NOTIFY_DATABASE_URL)",
    )
    parser.add_argument(
        "--provider-url",
        metavar="URL",
        help="base URL of a Twilio-compatible API, e.g. a `notify-tui sandbox` on another "
        "machine (env NOTIFY_PROVIDER_URL)",
    )
    parser.set_defaults(handler=_run_app)
    add_commands(parser.add_subparsers(title="commands", metavar="COMMAND"))
    return parser


def _run_app(args: argparse.Namespace, settings: Settings) -> int:
    # Loading the app (Textual, peewee, the screens) creates a few hundred thousand objects that
    # live as long as the process and frees almost none: the collections the garbage collector
    # runs meanwhile, then over what was loaded, find nothing and cost a tenth of start-up.
    # Collect nothing while it loads, then set what was loaded aside for good.
    gc.disable()
    try:
        from notify_tui.ui.app import run_app
    finally:
        gc.freeze()
        gc.enable()
    return run_app(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``notify-tui`` with ``argv``; returns the exit status."""
    args = build_parser().parse_args(argv)
    # Only now: --help, --version and a mistyped flag need no settings.
    from notify_tui.config import load_settings

    flags = {"database_url": args.database_url, "provider_url": args.provider_url}
    try:
        settings = load_settings(flags)
        for warning in settings.warnings:
            print(f"notify-tui: warning: {warning}", file=sys.stderr)
        handler: Handler = args.handler
        return handler(args, settings)
    except KeyboardInterrupt:
        print("notify-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        message = user_message(exc)
        if message is None:
            raise
        print(f"notify-tui: error: {message}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
