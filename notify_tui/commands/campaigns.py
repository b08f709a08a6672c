"""``notify-tui campaigns`` and ``notify-tui export``: campaigns and their recipients, headless."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from notify_tui.commands import CommandError
from notify_tui.config import Settings
from notify_tui.domain.money import exact, format_money
from notify_tui.domain.status import Status
from notify_tui.services.export import default_export_path, export_campaign
from notify_tui.services.runtime import Runtime
from notify_tui.store.campaigns import CampaignSummary, campaign_page, get_campaign
from notify_tui.store.recipients import RecipientFilter


def campaign_json(c: CampaignSummary) -> dict[str, Any]:
    """A campaign as ``campaigns --json`` prints it."""
    return {
        "id": c.id,
        "name": c.name,
        "state": c.state,
        "sent_at": c.sent_at.strftime("%Y-%m-%dT%H:%M:%SZ") if c.sent_at else None,
        "recipients": c.recipients,
        "delivered": c.delivered,
        "failed": c.failed,
        "unknown": c.unknown,
        "delivered_pct": round(c.delivered_pct, 1),
        "cost": exact(c.cost),
        "money_saved": exact(c.money_saved),
    }


def run_campaigns(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui campaigns``: list campaigns, as a table or JSON."""
    runtime = Runtime.open(settings)
    try:
        campaigns = campaign_page(args.search or "", 0, args.limit)
    finally:
        runtime.close()
    if args.json:
        json.dump([campaign_json(c) for c in campaigns], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not campaigns:
        print("No campaigns yet.")
        return 0
    header = f"{'ID':>5}  {'SENT':16}  {'RECIPIENTS':>10}  {'DELIVERED':>9}  {'FAILED':>7}  "
    header += f"{'UNKNOWN':>7}  {'COST':>10}  NAME"
    print(header)
    for c in campaigns:
        sent = c.sent_at.strftime("%Y-%m-%d %H:%M") if c.sent_at else "not sent"
        print(
            f"{c.id:>5}  {sent:16}  {c.recipients:>10,}  {c.delivered:>9,}  {c.failed:>7,}  "
            f"{c.unknown:>7,}  {format_money(c.cost):>10}  {printable(c.name)}"
        )
    return 0


def printable(text: str) -> str:
    """``text`` without control characters, so data can't drive the terminal."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui export``: write a campaign's recipients to CSV."""
    runtime = Runtime.open(settings)
    try:
        campaign = get_campaign(args.campaign_id)
        if campaign is None:
            raise CommandError(f"no campaign with id {args.campaign_id}")
        status = Status(args.status) if args.status else None
        output = Path(args.output) if args.output else default_export_path(campaign.id)
        try:
            written = export_campaign(campaign.id, output, RecipientFilter(status=status))
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
    finally:
        runtime.close()
    print(f"Exported {written:,} recipients of campaign {campaign.id} to {output}")
    return 0
