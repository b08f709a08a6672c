"""The ``notify-tui`` command: the app by default, and headless subcommands.

A user's mistake (a bad flag, an unreadable file, an unreachable database) ends with one line on
stderr and a non-zero exit, never a traceback.

Building the parser imports argparse alone (``notify_tui.commands`` holds the subcommands'
arguments): the app, ``--help`` and ``--version`` load only what they use, and a subcommand's
module is imported when that subcommand runs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from notify_tui import __version__
from notify_tui.commands import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Handler,
    Parser,
    UsageError,
    add_commands,
)
from notify_tui.errors import user_message

if TYPE_CHECKING:
    from notify_tui.config import Settings


STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""Signals that stop a command as Ctrl+C (SIGINT) does: what systemd, Docker, ``kill`` and a
closed terminal send."""

_stopped_by: list[str] = []
"""The name of the signal that stopped this process, when one did."""


def _stop_like_sigint(signum: int, frame: FrameType | None) -> None:
    """Handle ``signum`` exactly as SIGINT: the handler in force for SIGINT runs (asyncio's,
    which cancels the running job so that it cleans up, or Python's, which raises
    ``KeyboardInterrupt``)."""
    _stopped_by.append(signal.Signals(signum).name)
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # not reached: stop_on_signals() gave SIGINT its handler
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """While in it, SIGTERM and SIGHUP are clean stops, like SIGINT (unless they are ignored:
    ``nohup``); the handlers in force before are restored after it.

    A background job of a shell script starts with SIGINT ignored: it gets Python's handler
    back (through which the others go), so that ``kill`` stops it as cleanly as anywhere.
    """
    _stopped_by.clear()
    before: dict[int, Any] = {}
    with contextlib.suppress(ValueError, OSError):
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            before[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    for stop in STOP_SIGNALS:
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            if signal.getsignal(stop) is not signal.SIG_IGN:
                before[stop] = signal.signal(stop, _stop_like_sigint)
    try:
        yield
    finally:
        for stop, handler in before.items():
            signal.signal(stop, handler)


def _quiet_broken_pipe() -> None:
    """The reader of our output has gone (``notify-tui optouts | head``): stop, say nothing,
    and let nothing more be written (not even when the interpreter flushes at exit)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def build_parser() -> argparse.ArgumentParser:
    """The ``notify-tui`` parser; each command's handler is in ``args.handler``."""
    parser = Parser(
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
    flags = {"database_url": args.database_url, "provider_url": args.provider_url}
    with stop_on_signals():
        return _run(args, flags)


def _run(args: argparse.Namespace, flags: dict[str, str | None]) -> int:
    # Only now: --help, --version and a mistyped flag need no settings.
    from notify_tui.config import load_settings
    from notify_tui.domain.text import visible

    try:
        settings = load_settings(flags)
        for warning in settings.warnings:
            print(f"notify-tui: warning: {visible(warning)}", file=sys.stderr)
        handler: Handler = args.handler
        return handler(args, settings)
    except KeyboardInterrupt:
        by = f" ({_stopped_by[-1]})" if _stopped_by else ""
        print(f"notify-tui: interrupted{by}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_broken_pipe()
        return EXIT_FAILURE
    except Exception as exc:
        message = user_message(exc)
        if message is None:
            raise
        print(f"notify-tui: error: {visible(message)}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
