"""``notify-tui poll``: resolve Unknown messages without the UI."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from datetime import datetime, timedelta
from typing import TextIO

from notify_tui.commands import EXIT_FAILURE, EXIT_OK, CommandError
from notify_tui.commands.faults import rejected_line
from notify_tui.commands.send import schedule_result_lines
from notify_tui.config import Settings
from notify_tui.domain.polling import POLL_WINDOW
from notify_tui.domain.text import visible
from notify_tui.errors import user_message
from notify_tui.services.optout_policy import ensure_applied
from notify_tui.services.poller import PollCycle
from notify_tui.services.runtime import Runtime
from notify_tui.services.schedule import DueCampaigns
from notify_tui.services.sender import resume_campaign
from notify_tui.store.campaigns import get_campaign


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
        self.faults: Counter[str] = Counter()
        """Provider answers rejected so far, by kind."""
        self._latest_fault: str | None = None
        self._closed = False
        self.pending = 0
        """Messages still Unknown and polled, as of the last cycle."""

    def __call__(self, cycle: PollCycle) -> None:
        self.resolved += cycle.resolved
        self.pending = cycle.pending
        self.requests += cycle.requests
        if cycle.faults:
            first = not self.faults
            self.faults.update(str(f.kind) for f in cycle.faults)
            self._latest_fault = cycle.faults[-1].text
            if first:
                self._line(
                    f"provider answer rejected, not applied: {visible(cycle.faults[0].text)}",
                    newline=True,
                )
        self._answered = bool(cycle.requests) and not cycle.error
        if cycle.error:
            self._last_error_at = cycle.at
            if self._trouble_since is None:
                self._trouble_since = cycle.at
                self._line(
                    f"provider trouble, will retry: {visible(cycle.error)} (Unknown messages "
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
        if self._closed:
            return
        self._closed = True
        if self._answered:
            self._recovered(self._last_error_at)
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()
        if self.faults:
            self._stream.write(rejected_line(self.faults, self._latest_fault) + "\n")
            self._stream.flush()


async def _poll(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.open(settings)
    progress = PollProgress(sys.stdout)
    due = due_campaigns(runtime)
    try:
        if (
            args.campaign is not None
            and await asyncio.to_thread(get_campaign, args.campaign) is None
        ):
            raise CommandError(f"no campaign with id {args.campaign}")
        await asyncio.to_thread(ensure_applied, settings.policy)
        poller = runtime.make_poller(lease_for=timedelta(seconds=args.lease))
        health = runtime.health
        if args.once:
            progress(await poller.poll_once(args.campaign))
            await due.check()
            await due.wait()
            if health.outage is not None:
                # Nothing was answered: a cron job must hear of it.
                print(f"notify-tui: error: {health.outage.describe()}", file=sys.stderr)
                return EXIT_FAILURE
            return EXIT_OK
        limit = settings.outage_limit
        told = False

        async def on_cycle(cycle: PollCycle) -> None:
            # A daemon goes on trying (with capped backoff), but says once that it is stuck.
            nonlocal told
            progress(cycle)
            await due.check()
            outage = health.exceeded(limit)
            if outage is None:
                told = False
            elif not told:
                told = True
                print(f"{outage.describe()}; still trying until stopped", file=sys.stderr)

        job = poller.run(
            args.campaign,
            until_settled=args.until_settled,
            on_cycle=on_cycle,
            # Until settled (a cron job) ends after the outage limit; a daemon never does.
            outage_limit=limit if args.until_settled else None,
        )
        try:
            await asyncio.wait_for(job, timeout=args.timeout)
        except TimeoutError:
            print(f"\nstopped after {args.timeout:g} s", file=sys.stderr)
            return EXIT_OK
        await due.wait()
        if args.until_settled and progress.pending:
            progress.close()
            print(awaiting_receipts(progress.pending, args.campaign))
        return EXIT_OK
    finally:
        await due.aclose()
        progress.close()
        await runtime.aclose()


def due_campaigns(runtime: Runtime) -> DueCampaigns:
    """Starts each campaign waiting in the store (``send --at``, quiet hours) when it is due,
    saying so; a sender's trouble is said in one line and the poller goes on."""

    async def start(campaign_id: int) -> None:
        print(f"campaign {campaign_id} is due: sending it", flush=True)
        settings = runtime.settings
        result = await resume_campaign(
            runtime.client,
            campaign_id,
            rate=settings.send_rate,
            sender_rates=settings.sender_rates,
            on_applied=runtime.policy_hook(),
            health=runtime.health,
            **runtime.push_options,
        )
        print(
            f"campaign {campaign_id}: {result.submitted:,} submitted, {result.refused:,} "
            f"refused, now {result.state}",
            flush=True,
        )
        for line in schedule_result_lines(result):
            print(line, flush=True)

    def failed(campaign_id: int, exc: Exception) -> None:
        explained = user_message(exc)
        if explained is None:
            raise exc
        print(f"campaign {campaign_id} not sent: {explained}", file=sys.stderr, flush=True)

    return DueCampaigns(start, on_error=failed)


def awaiting_receipts(pending: int, campaign_id: int | None) -> str:
    """Why ``poll --until-settled`` ended with messages still Unknown, and what comes next."""
    hours = int(POLL_WINDOW.total_seconds() // 3600)
    again = f"notify-tui poll --campaign {campaign_id}" if campaign_id else "notify-tui poll"
    its = "is" if pending == 1 else "are"
    return (
        f"{pending:,} message{'' if pending == 1 else 's'} {its} still Unknown: the carrier "
        f"accepted {'it' if pending == 1 else 'them'} (sent) but has sent no delivery receipt "
        f"yet, and some never do. Carriers report for up to {hours} hours after sending: run "
        f"{again} again later; after that they stay Unknown (no delivery receipt)."
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run_poll(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui poll``: resolve Unknown messages: one cycle, until settled, or until stopped."""
    return asyncio.run(_poll(args, settings))
