"""``notify-tui demo``: build a demo workspace of any size through the in-process sandbox."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace

from notify_tui.commands import CommandError
from notify_tui.config import Settings
from notify_tui.services.demo import DEMO_CAMPAIGNS, DemoCampaign, DemoProgress, build_demo
from notify_tui.services.runtime import Runtime


def demo_campaigns(count: int) -> list[DemoCampaign]:
    """``count`` campaigns: the standard four, then repeats a day apart, the live one last."""
    older = [c for c in DEMO_CAMPAIGNS if c.age]
    live = [c for c in DEMO_CAMPAIGNS if not c.age]
    chosen: list[DemoCampaign] = []
    for i in range(max(count - len(live), 0)):
        base = older[i % len(older)]
        round_ = i // len(older)
        if round_:
            base = replace(base, name=f"{base.name} #{round_ + 1}", age=base.age * (round_ + 1))
        chosen.append(base)
    return chosen + live[: max(0, min(count, len(live)))]


class ProgressBar:
    """A one-line progress bar on a terminal; a line every few seconds otherwise."""

    def __init__(self) -> None:
        self._tty = sys.stdout.isatty()
        self._last = 0.0

    def __call__(self, event: DemoProgress) -> None:
        now = time.monotonic()
        if now - self._last < (0.1 if self._tty else 2.0) and event.done < event.total:
            return
        self._last = now
        share = event.done / event.total if event.total else 1.0
        if self._tty:
            bar = "█" * int(share * 30)
            sys.stdout.write(f"\r\x1b[2K{bar:<30} {share:6.1%}  {event.stage}")
        else:
            sys.stdout.write(f"{share:6.1%}  {event.done:,}/{event.total:,}  {event.stage}\n")
        sys.stdout.flush()


async def _build(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.uses_sandbox:
        raise CommandError("the demo is built with the sandbox provider only; unset TWILIO_*")
    runtime = Runtime.open(settings)
    try:
        ids = await build_demo(
            runtime,
            ProgressBar(),
            campaigns=demo_campaigns(args.campaigns),
            recipients=args.recipients,
        )
    finally:
        await runtime.aclose()
    print(f"\nBuilt {len(ids)} demo campaigns (ids {ids[0]}–{ids[-1]}). Open them: notify-tui")
    return 0


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui demo``: build demo campaigns through the in-process sandbox."""
    if args.recipients is not None and args.recipients < 1:
        raise CommandError("--recipients must be at least 1")
    if args.campaigns < 1:
        raise CommandError("--campaigns must be at least 1")
    return asyncio.run(_build(args, settings))
