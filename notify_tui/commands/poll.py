"""``notify-tui poll``: resolve Unknown messages without the UI."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timedelta
from typing import Any, TextIO

from notify_tui.cli import command
from notify_tui.commands.campaigns import printable
from notify_tui.config import Settings
from notify_tui.services.optout_policy import ensure_applied
from notify_tui.services.poller import PollCycle
from notify_tui.services.runtime import Runtime


class PollProgress:
    """Renders poll cycles: one rewritten line on a terminal, a line per change otherwise.

    Provider trouble is told once when it starts (its first error: each failure names another
    message) and once when the provider has answered well for ``quiet``, however many cycles
    fail in between.
    """

    def __init__(self, stream: TextIO, quiet: timedelta = timedelta(seconds=10)) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._quiet = quiet
        self.resolved = 0
        self.requests = 0
        self._trouble_since: datetime | None = None
        self._last_error_at: datetime | None = None
        self._answered = False

    def __call__(self, cycle: PollCycle) -> None:
        self.resolved += cycle.resolved
        self.requests += cycle.requests
        self._answered = bool(cycle.requests) and not cycle.error
        if cycle.error:
            self._last_error_at = cycle.at
            if self._trouble_since is None:
                self._trouble_since = cycle.at
                self._line(
                    f"provider trouble, will retry: {printable(cycle.error)} (Unknown messages "
                    "stay Unknown until it answers; nothing is lost)",
                    newline=True,
                )
        elif (
            self._answered and self._last_error_at and cycle.at - self._last_error_at >= self._quiet
        ):
            self._recovered(cycle.at)
        text = (
            f"{cycle.at:%H:%M:%S}  resolved {self.resolved:,}  pending {cycle.pending:,}  "
            f"requests {self.requests:,}"
        )
        if self._tty:
            self._line(text)
        elif cycle.checked or cycle.resolved:
            self._line(text, newline=True)

    def _recovered(self, at: datetime | None) -> None:
        since, self._trouble_since = self._trouble_since, None
        if since is None:
            return
        took = f" (after {_duration((at - since).total_seconds())} of trouble)" if at else ""
        self._line(f"the provider is answering again{took}", newline=True)

    def _line(self, text: str, newline: bool = False) -> None:
        if self._tty:
            self._stream.write("\r\x1b[2K" + text + ("\n" if newline else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._answered:
            self._recovered(self._last_error_at)
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


async def _poll(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.open(settings)
    progress = PollProgress(sys.stdout)
    try:
        await asyncio.to_thread(ensure_applied, settings.policy)
        poller = runtime.make_poller(lease_for=timedelta(seconds=args.lease))
        if args.once:
            progress(await poller.poll_once(args.campaign))
            return 0
        job = poller.run(args.campaign, until_settled=args.until_settled, on_cycle=progress)
        try:
            await asyncio.wait_for(job, timeout=args.timeout)
        except TimeoutError:
            print(f"\nstopped after {args.timeout:g} s", file=sys.stderr)
        return 0
    finally:
        progress.close()
        await runtime.aclose()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


DEFAULT_LEASE = 120.0


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 1 <= value <= 86_400:
        raise argparse.ArgumentTypeError("the lease must be between 1 and 86400 seconds")
    return value


def _handler(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_poll(args, settings))


@command
def register(commands: Any) -> None:
    """Register ``poll``."""
    poll = commands.add_parser(
        "poll",
        help="resolve Unknown messages by asking the provider",
        description="Runs the same poller as the app, without the UI. Several pollers may "
        "share one PostgreSQL workspace: each message is worked by one at a time.",
    )
    mode = poll.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one cycle, then exit")
    mode.add_argument(
        "--until-settled",
        action="store_true",
        help="exit when no message is left that can still resolve now",
    )
    poll.add_argument("--timeout", type=float, metavar="SECONDS", help="stop after this long")
    poll.add_argument("--campaign", type=int, metavar="ID", help="only this campaign")
    poll.add_argument(
        "--lease",
        type=_seconds,
        default=DEFAULT_LEASE,
        metavar="SECONDS",
        help=f"how long this poller holds the messages it works on ({DEFAULT_LEASE:g}): when "
        "it dies, other pollers take them over after this long",
    )
    poll.set_defaults(handler=_handler)
