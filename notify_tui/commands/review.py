"""``notify-tui review``: settle the recipients whose create's outcome could not be proved."""

from __future__ import annotations

import argparse
import asyncio
import getpass

from notify_tui.commands import EXIT_OK, CommandError
from notify_tui.config import Settings
from notify_tui.domain.phone import normalize
from notify_tui.domain.text import visible as printable
from notify_tui.services.review import adopt
from notify_tui.services.runtime import Runtime
from notify_tui.store import review
from notify_tui.store.campaigns import get_campaign


def run_review(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui review CAMPAIGN_ID [PHONE] [--adopt SID | --resend | --skip]``."""
    return asyncio.run(_review(args, settings))


async def _review(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.open(settings)
    try:
        return await _decide(args, runtime, settings)
    finally:
        await runtime.aclose()


async def _decide(args: argparse.Namespace, runtime: Runtime, settings: Settings) -> int:
    campaign = get_campaign(args.campaign_id)
    if campaign is None:
        raise CommandError(f"no campaign with id {args.campaign_id}")
    phone = None
    if args.phone:
        phone = normalize(args.phone, settings.default_region).e164
        if phone is None:
            raise CommandError(f"not a phone number: {printable(args.phone)}")
    items = review.needs_review(campaign.id, phone)
    if not (args.adopt or args.resend or args.skip):
        if not items:
            print(f"Nothing of campaign {campaign.id} needs review.")
            return EXIT_OK
        print(f"{len(items):,} recipients of campaign {campaign.id} need review:")
        for item in items:
            print(f"  {item.phone}  {printable(item.note)}")
        print(
            f"Settle each with: notify-tui review {campaign.id} PHONE --adopt SID "
            "(that message is this recipient's), --resend (send it again) or --skip (leave it)"
        )
        return EXIT_OK
    if not items:
        who = f"{phone} in campaign {campaign.id}" if phone else f"campaign {campaign.id}"
        raise CommandError(f"nothing of {who} needs review")
    if args.adopt:
        if phone is None:
            raise CommandError("--adopt needs the recipient's PHONE")
        await adopt(runtime.client, campaign.id, items[0], args.adopt)
        print(f"{phone}: adopted {args.adopt}; its status is followed from now on.")
        return EXIT_OK
    ids = [item.message_id for item in items]
    if args.resend:
        moved = review.resend(campaign.id, ids)
        print(f"{moved:,} messages will be sent again: notify-tui send --resume {campaign.id}")
        return EXIT_OK
    skipped = review.skip(campaign.id, ids, getpass.getuser())
    print(f"{skipped:,} messages left as they are: not adopted, not sent again.")
    return EXIT_OK
