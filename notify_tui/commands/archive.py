"""``notify-tui archive``, ``unarchive`` and ``delete``: tidy the campaigns History lists."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from notify_tui.commands import CommandError
from notify_tui.config import Settings
from notify_tui.domain.text import visible
from notify_tui.services.archive import (
    CampaignChangeRefused,
    archive_campaign,
    delete_campaign,
    unarchive_campaign,
    why_not_deletable,
)
from notify_tui.services.runtime import Runtime
from notify_tui.store.campaigns import get_campaign


def _change(settings: Settings, change: Callable[[int], bool], campaign_id: int) -> bool:
    """Archive or unarchive: ``True`` when the campaign changed, ``False`` when it was so
    already; a refusal is one line."""
    runtime = Runtime.open(settings)
    try:
        return change(campaign_id)
    except CampaignChangeRefused as exc:
        raise CommandError(exc.explain()) from None
    finally:
        runtime.close()


def run_archive(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui archive ID``: hide a campaign from History and ``campaigns`` (kept)."""
    print(
        f"Campaign {args.campaign_id} archived: `campaigns --archived` lists it, "
        f"`unarchive {args.campaign_id}` brings it back."
        if _change(settings, archive_campaign, args.campaign_id)
        else f"Campaign {args.campaign_id} was archived already."
    )
    return 0


def run_unarchive(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui unarchive ID``: show an archived campaign again."""
    print(
        f"Campaign {args.campaign_id} is back in History."
        if _change(settings, unarchive_campaign, args.campaign_id)
        else f"Campaign {args.campaign_id} was not archived."
    )
    return 0


def run_delete(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui delete ID``: delete a never-sent or sandbox (demo) campaign, after asking."""
    runtime = Runtime.open(settings)
    try:
        campaign = get_campaign(args.campaign_id)
        if campaign is None:
            raise CommandError(f"no campaign with id {args.campaign_id}")
        why_not = why_not_deletable(campaign)
        if why_not is not None:
            raise CommandError(f"cannot delete: {why_not}")
        name = visible(campaign.name)
        if not args.yes and not _confirm(
            f"Delete campaign {campaign.id} “{name}” and its {campaign.recipients:,} "
            "recipients? This cannot be undone. [y/N] "
        ):
            print("Nothing deleted.")
            return 1
        try:
            delete_campaign(campaign.id)
        except CampaignChangeRefused as exc:
            raise CommandError(exc.explain()) from None
    finally:
        runtime.close()
    print(f"Deleted campaign {campaign.id} “{name}” ({campaign.recipients:,} recipients).")
    return 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise CommandError("no terminal to confirm on: add --yes to delete")
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
