"""Sends (or resumes) one campaign in a process of its own, for the end-to-end tests.

Usage: ``python send_driver.py CAMPAIGN_ID [--resume] [--rate N] [--settle SECONDS]
[--start-at EPOCH]`` (wait until then to start, so that several drivers start at once), with the
workspace and the provider taken from the environment (``NOTIFY_DATABASE_URL``,
``NOTIFY_PROVIDER_URL``) like the ``notify-tui`` command. Prints ``progress SUBMITTED REFUSED
TOTAL`` lines, then ``result STATE SUBMITTED REFUSED REMAINING LINKED RESENT``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from notify_tui.config import load_settings
from notify_tui.services.runtime import Runtime
from notify_tui.services.sender import SendProgress, resume_campaign, send_campaign


def _report(event: SendProgress) -> None:
    print(f"progress {event.submitted} {event.refused} {event.total}", flush=True)


async def _run(args: argparse.Namespace) -> int:
    runtime = Runtime.open(load_settings())
    if args.start_at is not None:
        await asyncio.sleep(max(0.0, args.start_at - time.time()))
    try:
        job = resume_campaign if args.resume else send_campaign
        result = await job(
            runtime.client,
            args.campaign,
            rate=args.rate,
            settle=args.settle,
            retry_base=0.2,
            on_progress=_report,
        )
    finally:
        await runtime.aclose()
    print(
        f"result {result.state} {result.submitted} {result.refused} {result.remaining} "
        f"{result.linked} {result.resent}",
        flush=True,
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("campaign", type=int)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--rate", type=float)
    parser.add_argument("--settle", type=float, default=0.5)
    parser.add_argument("--start-at", type=float)
    return asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
