"""What a campaign's Unknown messages wait for (issue 14: 12): not sent yet, a receipt, or
nothing any more; and how far sending is, without counting invalid numbers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from notify_tui.domain.status import Classification, SendState, Status
from notify_tui.store.campaigns import create_campaign, get_campaign
from notify_tui.store.models import Message
from notify_tui.store.polling import expire_old
from notify_tui.store.sending import NewRecipient, add_recipients, count_submitted
from notify_tui.store.updates import StatusUpdate, apply_updates
from notify_tui.store.waiting import waiting_of, waiting_of_one

pytestmark = pytest.mark.usefixtures("workspace")

T0 = datetime(2025, 3, 4, 9, 30)


def _campaign(valid: int, invalid: int) -> tuple[int, list[int]]:
    campaign_id = create_campaign("Spring", "Hello!", sender="+15005550006")
    recipients = [NewRecipient(f"+1415555{i:04d}") for i in range(valid)]
    recipients += [NewRecipient(f"0{i}", invalid_reason="too short") for i in range(invalid)]
    add_recipients(campaign_id, recipients, now=T0)
    ids = [
        m.id
        for m in Message.select(Message.id)
        .where((Message.campaign == campaign_id) & (Message.send_state == SendState.PENDING))
        .order_by(Message.id)
    ]
    return campaign_id, ids


def _submit(campaign_id: int, ids: list[int], at: datetime) -> None:
    apply_updates(
        [
            StatusUpdate(
                i,
                Classification(Status.UNKNOWN),
                provider_status="sent",
                sid=f"SM{i:032x}",
                send_state=SendState.SUBMITTED,
                next_poll_at=at + timedelta(seconds=2),
            )
            for i in ids
        ],
        now=at,
    )
    Message.update(attempted_at=at).where(Message.id.in_(ids)).execute()
    count_submitted(campaign_id, len(ids))


def test_a_campaign_part_sent_waits_to_send_and_for_receipts_apart() -> None:
    campaign_id, ids = _campaign(valid=6, invalid=3)
    _submit(campaign_id, ids[:3], T0)
    campaign = get_campaign(campaign_id)
    assert campaign is not None
    waiting = waiting_of_one(campaign)
    assert (waiting.invalid, waiting.not_sent, waiting.awaiting_receipt) == (3, 3, 3)
    assert waiting.no_receipt == 0
    # "Sending: 3 of 6", not 3 of 9: the invalid numbers are never sent.
    assert (waiting.sent, waiting.to_send) == (3, 6)
    assert waiting.not_sent + waiting.awaiting_receipt + waiting.no_receipt == campaign.unknown


def test_past_the_receipt_window_a_message_has_no_receipt() -> None:
    campaign_id, ids = _campaign(valid=4, invalid=0)
    _submit(campaign_id, ids, T0)
    apply_updates([StatusUpdate(ids[0], Classification(Status.DELIVERED), "delivered")])
    expire_old(now=T0 + timedelta(hours=73))
    campaign = get_campaign(campaign_id)
    assert campaign is not None
    waiting = waiting_of([campaign])[campaign_id]
    assert (waiting.not_sent, waiting.awaiting_receipt, waiting.no_receipt) == (0, 0, 3)
    assert (waiting.sent, waiting.to_send) == (4, 4)


def test_many_campaigns_in_one_read() -> None:
    first, _ = _campaign(valid=2, invalid=1)
    second, _ = _campaign(valid=0, invalid=0)
    campaigns = [c for c in (get_campaign(first), get_campaign(second)) if c is not None]
    figures = waiting_of(campaigns)
    assert figures[first].not_sent == 2 and figures[first].invalid == 1
    assert figures[second].to_send == 0 and figures[second].sent == 0
    assert waiting_of([]) == {}
