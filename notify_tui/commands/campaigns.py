"""``notify-tui campaigns`` and ``notify-tui export``: campaigns and their recipients, headless."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from notify_tui.commands import CommandError
from notify_tui.commands.output import for_stream
from notify_tui.config import Settings
from notify_tui.domain.alerts import Alert
from notify_tui.domain.campaign_sort import CampaignSort
from notify_tui.domain.money import exact, format_money
from notify_tui.domain.status import Status
from notify_tui.domain.text import visible
from notify_tui.services.export import (
    campaign_text,
    default_export_path,
    export_campaign,
    write_rows,
)
from notify_tui.services.runtime import Runtime
from notify_tui.store import insights
from notify_tui.store.campaigns import CampaignSummary, campaign_page, get_campaign
from notify_tui.store.recipients import RecipientFilter, Sort, iter_recipients
from notify_tui.store.review import review_counts
from notify_tui.store.waiting import Waiting, waiting_of


def campaign_json(
    c: CampaignSummary,
    needs_review: int = 0,
    alerts: list[Alert] | None = None,
    waiting: Waiting | None = None,
) -> dict[str, Any]:
    """A campaign as ``campaigns --json`` prints it (``needs_review``: its recipients whose
    create's outcome a person must settle, ``notify-tui review``; ``alerts``: its alerts,
    ``store.insights.alerts``; ``waiting``: what its Unknown messages wait for, and how far
    sending is, as Details and History show them)."""
    waiting = waiting or Waiting(recipients=c.recipients, unknown=c.unknown)
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
        "needs_review": needs_review,
        "statuses_by": c.statuses_by,
        "pushed": c.pushed,
        "pulled": c.pulled,
        "followup_of": c.followup_of,
        "alerts": [alert.to_json() for alert in alerts or []],
        "to_send": waiting.to_send,
        "sent": waiting.sent,
        "invalid": waiting.invalid,
        "not_sent_yet": waiting.not_sent,
        "awaiting_receipt": waiting.awaiting_receipt,
        "no_receipt": waiting.no_receipt,
    }


def run_campaigns(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui campaigns``: list campaigns, as a table or JSON."""
    runtime = Runtime.open(settings)
    try:
        campaigns = campaign_page(
            args.search or "",
            0,
            args.limit,
            archived=args.archived,
            sort=CampaignSort(args.sort),
        )
        review = review_counts([c.id for c in campaigns])
        # From the campaigns' tallies (four queries in all), only when printed.
        alerts = insights.alerts_for([c.id for c in campaigns]) if args.json else {}
        waiting = waiting_of(campaigns) if args.json else {}
    finally:
        runtime.close()
    if args.json:
        # ensure_ascii: every control, bidi or other non-ASCII character is a \u escape, so the
        # JSON is safe on a terminal and the same bytes in a file.
        rows = [
            campaign_json(c, review.get(c.id, 0), alerts.get(c.id), waiting.get(c.id))
            for c in campaigns
        ]
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=True)
        sys.stdout.write("\n")
        return 0
    if not campaigns:
        print(
            f"No {'archived ' if args.archived else ''}campaign's name has "
            f"“{visible(args.search)}”."
            if args.search
            else ("No archived campaigns." if args.archived else "No campaigns yet.")
        )
        return 0
    header = f"{'ID':>5}  {'SENT':16}  {'RECIPIENTS':>10}  {'DELIVERED':>9}  {'FAILED':>7}  "
    header += f"{'UNKNOWN':>7}  {'COST':>10}  {'BY':4}  NAME"
    print(header)
    for c in campaigns:
        sent = c.sent_at.strftime("%Y-%m-%d %H:%M") if c.sent_at else "not sent"
        print(
            f"{c.id:>5}  {sent:16}  {c.recipients:>10,}  {c.delivered:>9,}  {c.failed:>7,}  "
            f"{c.unknown:>7,}  {format_money(c.cost):>10}  {c.statuses_by:4}  {visible(c.name)}"
        )
    for campaign_id, reviews in sorted(review.items()):
        print(f"Campaign {campaign_id}: {reviews:,} need review: notify-tui review {campaign_id}")
    return 0


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui export``: write a campaign's recipients to CSV (a file, or ``-``: stdout)."""
    to_stdout = args.output == "-"
    output = Path(args.output).expanduser() if args.output and not to_stdout else None
    if output is not None and not output.parent.is_dir():
        raise CommandError(f"cannot write {output}: there is no folder {output.parent}")
    runtime = Runtime.open(settings)
    try:
        campaign = get_campaign(args.campaign_id)
        if campaign is None:
            raise CommandError(f"no campaign with id {args.campaign_id}")
        status = Status(args.status) if args.status else None
        flt = RecipientFilter(status=status, sort=Sort(args.sort))
        if to_stdout:
            written = write_rows(
                iter_recipients(campaign.id, flt),
                sys.stdout,
                raw=args.raw,
                shown=for_stream(sys.stdout),
                campaign_text=campaign_text(campaign.id),
            )
            sys.stdout.flush()
        else:
            output = output or default_export_path(campaign.id)
            try:
                written = export_campaign(
                    campaign.id, output, flt, raw=args.raw, create_folder=False
                )
            except OSError as exc:
                raise CommandError(f"cannot write {output}: {exc.strerror}") from None
    finally:
        runtime.close()
    where = "standard output" if to_stdout else str(output)
    print(
        f"Exported {written:,} recipients of campaign {campaign.id} to {visible(where)}",
        file=sys.stderr if to_stdout else sys.stdout,
    )
    return 0
