"""``notify-tui cancel ID``: cancel what of a scheduled campaign has not gone out."""

from __future__ import annotations

import argparse
import asyncio

from notify_tui.commands import EXIT_FAILURE, EXIT_OK
from notify_tui.config import Settings
from notify_tui.services.runtime import Runtime
from notify_tui.services.schedule import CancelResult, cancel_campaign


def cancel_lines(result: CancelResult) -> list[str]:
    """What a cancel did, in a few lines."""
    lines = [
        f"Campaign {result.campaign_id} cancelled: {result.canceled:,} scheduled message"
        f"{'' if result.canceled == 1 else 's'} cancelled at the provider, "
        f"{result.never_sent:,} never created (never sent)"
    ]
    if result.gone:
        lines.append(
            f"{result.gone:,} had already gone out (their time had come): they are followed "
            "as usual"
        )
    if result.needs_review:
        lines.append(
            f"{result.needs_review:,} create(s) of unknown outcome could not be settled: "
            f"notify-tui review {result.campaign_id}, then cancel again"
        )
    if result.failed:
        lines.append(
            f"{result.failed:,} could not be cancelled now (provider trouble): run notify-tui "
            f"cancel {result.campaign_id} again"
        )
    return lines


async def _cancel(runtime: Runtime, campaign_id: int) -> int:
    try:
        result = await cancel_campaign(runtime.client, campaign_id)
    finally:
        await runtime.aclose()
    for line in cancel_lines(result):
        print(line)
    return EXIT_FAILURE if result.failed or result.needs_review else EXIT_OK


def run_cancel(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui cancel ID``."""
    return asyncio.run(_cancel(Runtime.open(settings), args.campaign_id))
