"""``notify-tui followup``: resend to the recipients of a campaign who failed for a cause that
may pass, after showing who and what it costs; sent like ``send`` (crash-safe, resumable)."""

from __future__ import annotations

import argparse

from notify_tui.commands import EXIT_FAILURE, CommandError
from notify_tui.commands.send import _rate, _run, closing_on_error, declined
from notify_tui.config import Settings
from notify_tui.domain.text import visible
from notify_tui.services.followup import plan_followup, record_followup
from notify_tui.services.runtime import Runtime


def run_followup(args: argparse.Namespace, settings: Settings) -> int:
    """Plan the follow-up, confirm, record it linked to the original, and send it."""
    rate = _rate(args)
    runtime = Runtime.open(settings)
    with closing_on_error(runtime):
        followup = plan_followup(
            args.campaign_id, after_hours=args.after, codes=args.reasons, message=args.message
        )
        for line in followup.summary_lines():
            print(visible(line))
        if followup.plan.to_send == 0:
            raise CommandError(
                f"nothing to follow up: no recipient of campaign {args.campaign_id} failed for a "
                "cause that may pass" + (" long enough ago" if args.after else "")
            )
        if declined(runtime, args.yes):
            return EXIT_FAILURE
        prepared = record_followup(followup)
    print(
        f"Follow-up campaign {prepared.campaign_id} recorded (of campaign {args.campaign_id}); "
        "sending."
    )
    return _run(runtime, prepared.campaign_id, rate, resume=False)
