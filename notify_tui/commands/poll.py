"""``notify-tui poll``: resolve Unknown messages without the UI."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from notify_tui.cli import command
from notify_tui.config import Settings
from notify_tui.services.optout_policy import ensure_applied
from notify_tui.services.poller import PollCycle
from notify_tui.services.runtime import Runtime


class PollProgress:
    """Renders poll cycles: one rewritten line on a terminal, a line per change otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self.resolved = 0
        self.requests = 0
        self._last_error: str | None = None

    def __call__(self, cycle: PollCycle) -> None:
        self.resolved += cycle.resolved
        self.requests += cycle.requests
        if cycle.error and cycle.error != self._last_error:
            self._line(f"provider trouble, will retry: {cycle.error}", newline=True)
        self._last_error = cycle.error
        text = (
            f"{cycle.at:%H:%M:%S}  resolved {self.resolved:,}  pending {cycle.pending:,}  "
            f"requests {self.requests:,}"
        )
        if self._tty:
            self._line(text)
        elif cycle.checked or cycle.resolved:
            self._line(text, newline=True)

    def _line(self, text: str, newline: bool = False) -> None:
        if self._tty:
            self._stream.write("\r\x1b[2K" + text + ("\n" if newline else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


async def _poll(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.open(settings)
    progress = PollProgress(sys.stdout)
    try:
        await asyncio.to_thread(ensure_applied, settings.policy)
        poller = runtime.make_poller()
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
    poll.set_defaults(handler=_handler)
