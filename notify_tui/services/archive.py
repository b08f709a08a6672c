"""Tidying History: archive a campaign (hidden, kept, restorable) or delete one that never
reached anyone for real (never sent, or sent only through the sandbox, as the demo is).

A campaign sent for real is never deleted: its messages are the record of what went out and
what it cost; archiving hides it instead. Opt-outs and their audit trail outlive a deleted
campaign (their link to it is cleared, not the rows).
"""

from __future__ import annotations

from notify_tui.domain.status import CampaignState
from notify_tui.errors import NotifyError
from notify_tui.services.runtime import SANDBOX_FROM
from notify_tui.store.campaigns import CampaignSummary, get_campaign
from notify_tui.store.models import Campaign, database, utcnow


class CampaignChangeRefused(NotifyError):
    """The campaign cannot be archived, restored or deleted: the message says why."""


def why_not_deletable(campaign: CampaignSummary) -> str | None:
    """Why ``campaign`` cannot be deleted, in words; ``None`` when it can."""
    if campaign.state == CampaignState.SENDING:
        return f"campaign {campaign.id} is being sent: stop it first (Ctrl+Q, or wait for it)"
    if campaign.submitted and campaign.sender != SANDBOX_FROM:
        return (
            f"campaign {campaign.id} sent {campaign.submitted:,} messages for real: its record "
            "stays (archive it to hide it)"
        )
    return None


def _campaign(campaign_id: int) -> CampaignSummary:
    campaign = get_campaign(campaign_id)
    if campaign is None:
        raise CampaignChangeRefused(f"no campaign with id {campaign_id}")
    return campaign


def archive_campaign(campaign_id: int) -> bool:
    """Hide the campaign from History and ``campaigns``; False if it was archived already."""
    campaign = _campaign(campaign_id)
    if campaign.state == CampaignState.SENDING:
        raise CampaignChangeRefused(f"campaign {campaign_id} is being sent: archive it once done")
    changed = (
        Campaign.update(archived_at=utcnow())
        .where((Campaign.id == campaign_id) & Campaign.archived_at.is_null())
        .execute()
    )
    return bool(changed)


def unarchive_campaign(campaign_id: int) -> bool:
    """Show the campaign again; False if it was not archived."""
    _campaign(campaign_id)
    changed = (
        Campaign.update(archived_at=None)
        .where((Campaign.id == campaign_id) & Campaign.archived_at.is_null(False))
        .execute()
    )
    return bool(changed)


def delete_campaign(campaign_id: int) -> CampaignSummary:
    """Delete a campaign that never reached anyone for real, with its messages; answers what it
    was. Refused (`CampaignChangeRefused`) for one sent for real or being sent."""
    with database.atomic():
        campaign = _campaign(campaign_id)
        why_not = why_not_deletable(campaign)
        if why_not is not None:
            raise CampaignChangeRefused(f"cannot delete: {why_not}")
        Campaign.delete().where(Campaign.id == campaign_id).execute()
    return campaign
