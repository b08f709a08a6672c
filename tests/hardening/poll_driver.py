"""Runs the poller in a process of its own, for the kill tests.

Usage: ``python poll_driver.py [--hang-in-transaction] [--campaign ID]``, with the workspace and
the provider taken from the environment like ``notify-tui``. With ``--hang-in-transaction`` the
first batch of answers is applied inside an outer transaction that is never committed: the
process prints ``applied-uncommitted`` and waits to be killed, so that the kill lands exactly in
the middle of a resolution (messages, counters and history written, nothing committed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime
from typing import Any

import notify_tui.services.poller as poller_module
from notify_tui.config import load_settings
from notify_tui.services.runtime import Runtime
from notify_tui.store.models import database
from notify_tui.store.updates import (
    AppliedUpdates,
    CurrentRows,
    StatusUpdate,
    Via,
    apply_updates,
)


def _hang_in_transaction(
    updates: list[StatusUpdate],
    now: datetime | None = None,
    *,
    current: CurrentRows | None = None,
    via: Via | None = None,
) -> Any:
    with database.atomic():
        applied: AppliedUpdates = apply_updates(updates, now, current=current, via=via)
        if applied.changed_ids:
            print(f"applied-uncommitted {len(applied.resolutions)}", flush=True)
            time.sleep(600)
    return applied


async def _run(args: argparse.Namespace) -> int:
    runtime = Runtime.open(load_settings())
    try:
        poller = runtime.make_poller(batch=args.batch)
        print(f"owner {poller.owner}", flush=True)
        await poller.run(
            args.campaign,
            on_cycle=lambda c: print(f"cycle {c.checked} {c.resolved}", flush=True),
            idle_sleep=0.2,
        )
    finally:
        await runtime.aclose()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--campaign", type=int)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--hang-in-transaction", action="store_true")
    args = parser.parse_args()
    if args.hang_in_transaction:
        poller_module.apply_updates = _hang_in_transaction  # type: ignore[assignment]
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
