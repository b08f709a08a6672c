"""Archiving hides a campaign and keeps it; deleting is for what never reached anyone for real
(issue 14: 22), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from notify_tui.services.archive import (
    CampaignChangeRefused,
    archive_campaign,
    delete_campaign,
    unarchive_campaign,
)
from notify_tui.services.runtime import SANDBOX_FROM
from notify_tui.store.campaigns import campaign_page, count_campaigns, create_campaign, set_state
from notify_tui.store.models import Campaign, Message, OptOutEvent
from notify_tui.store.optouts import SOURCE_MANUAL, opt_out
from notify_tui.store.recipients import count_recipients
from notify_tui.store.sending import NewRecipient, add_recipients, count_submitted

pytestmark = pytest.mark.usefixtures("workspace")


def _campaign(name: str, sender: str = "+14155550000", submitted: int = 0) -> int:
    campaign_id = create_campaign(name, "Hello", sender=sender)
    add_recipients(campaign_id, [NewRecipient(f"+1415555{i:04d}") for i in range(3)])
    if submitted:
        Message.update(send_state="submitted").where(Message.campaign == campaign_id).execute()
        count_submitted(campaign_id, submitted)
        set_state(campaign_id, "sending")
        set_state(campaign_id, "sent")
    return campaign_id


def test_an_archived_campaign_leaves_the_list_and_comes_back_whole() -> None:
    kept = _campaign("Sent for real", submitted=3)
    other = _campaign("Draft")
    assert archive_campaign(kept) is True
    assert archive_campaign(kept) is False  # already archived
    assert [c.name for c in campaign_page()] == ["Draft"]
    assert [c.name for c in campaign_page(archived=True)] == ["Sent for real"]
    assert (count_campaigns(), count_campaigns(archived=True), count_campaigns(archived=None)) == (
        1,
        1,
        2,
    )
    assert count_recipients(kept) == 3  # kept, every message
    assert unarchive_campaign(kept) is True and unarchive_campaign(kept) is False
    assert [c.id for c in campaign_page()] == [other, kept]


def test_only_what_never_reached_anyone_for_real_is_deleted() -> None:
    real = _campaign("Sent for real", submitted=3)
    with pytest.raises(CampaignChangeRefused, match="sent 3 messages for real"):
        delete_campaign(real)
    demo = _campaign("Demo", sender=SANDBOX_FROM, submitted=3)
    draft = _campaign("Never sent")
    opt_out("+14155550001", source=SOURCE_MANUAL, reason="asked", actor="ann", campaign_id=draft)
    assert delete_campaign(demo).name == "Demo"
    assert delete_campaign(draft).name == "Never sent"
    assert [c.id for c in Campaign.select()] == [real]
    assert Message.select().where(Message.campaign.in_([demo, draft])).count() == 0
    # The opt-out and its audit trail outlive the campaign it came from.
    assert OptOutEvent.select().where(OptOutEvent.phone == "+14155550001").count() == 1
    with pytest.raises(CampaignChangeRefused, match="no campaign with id"):
        delete_campaign(draft)


def test_a_campaign_being_sent_is_neither_deleted_nor_archived() -> None:
    campaign_id = _campaign("Going out", sender=SANDBOX_FROM)
    set_state(campaign_id, "sending")
    with pytest.raises(CampaignChangeRefused, match="being sent"):
        delete_campaign(campaign_id)
    with pytest.raises(CampaignChangeRefused, match="being sent"):
        archive_campaign(campaign_id)


def test_an_archived_interrupted_campaign_is_not_offered_for_resuming_at_start() -> None:
    from notify_tui.store.campaigns import last_interrupted_campaign

    stopped = _campaign("Stopped halfway", submitted=1)
    set_state(stopped, "interrupted")
    assert last_interrupted_campaign() == stopped
    assert archive_campaign(stopped) is True
    assert last_interrupted_campaign() is None
    assert unarchive_campaign(stopped) is True
    assert last_interrupted_campaign() == stopped
