"""Campaign counters move through ``store.counters`` alone, and a recount restores them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from notify_tui.domain.status import classify_message
from notify_tui.store import counters
from notify_tui.store.campaigns import create_campaign, get_campaign
from notify_tui.store.counters import CounterDelta, Counters
from notify_tui.store.models import Campaign, Message
from notify_tui.store.sending import NewRecipient, add_recipients, count_submitted
from notify_tui.store.updates import StatusUpdate, apply_updates
from tests.invariants import assert_counters_hold

pytestmark = pytest.mark.usefixtures("workspace")


def _campaign(name: str, n: int) -> int:
    campaign_id = create_campaign(name, "Hello!", sender="+15005550006")
    add_recipients(campaign_id, [NewRecipient(f"+1415555{i:04d}") for i in range(n)])
    return campaign_id


def test_writers_keep_the_counters_equal_to_what_the_messages_say() -> None:
    campaign_id = _campaign("Spring", 4)
    ids = [m.id for m in Message.select(Message.id).where(Message.campaign == campaign_id)]
    Message.update(send_state="submitted", sid=None).where(Message.id.in_(ids)).execute()
    count_submitted(campaign_id, len(ids))
    apply_updates(
        [
            StatusUpdate(ids[0], classify_message("delivered"), price=Decimal("-0.0079")),
            StatusUpdate(ids[1], classify_message("undelivered", 30003)),
        ]
    )
    assert counters.count([campaign_id])[campaign_id] == Counters(
        recipients=4, delivered=1, failed=1, unknown=2, submitted=4, cost=Decimal("0.0079")
    )
    assert counters.mismatches() == {}
    assert_counters_hold(campaign_id)


def test_a_damaged_counter_is_a_mismatch_until_recounted() -> None:
    damaged, intact = _campaign("Damaged", 3), _campaign("Intact", 2)
    counters.apply(damaged, CounterDelta(delivered=2, unknown=-1, cost=Decimal("0.5")))
    wrong = counters.mismatches()
    assert list(wrong) == [damaged]
    kept, counted = wrong[damaged]
    assert (kept.delivered, kept.unknown, kept.cost) == (2, 2, Decimal("0.5"))
    assert (counted.delivered, counted.unknown, counted.cost) == (0, 3, Decimal(0))
    with pytest.raises(AssertionError, match="kept 3 recipients: 2 delivered"):
        assert_counters_hold(damaged)

    assert counters.recount([damaged]) == {damaged: counted}
    assert counters.mismatches() == {}
    summary = get_campaign(damaged)
    assert summary is not None
    assert (summary.delivered, summary.unknown, summary.cost) == (0, 3, Decimal(0))
    assert get_campaign(intact).recipients == 2  # type: ignore[union-attr]


def test_an_empty_delta_changes_nothing_and_the_skipped_count_survives_a_recount() -> None:
    campaign_id = _campaign("Skips", 2)
    counters.apply(campaign_id, CounterDelta(skipped_opted_out=5))
    before = Campaign.get_by_id(campaign_id)
    assert CounterDelta().empty and not CounterDelta(cost=Decimal("0.01")).empty
    counters.apply(campaign_id, CounterDelta())
    counters.recount([campaign_id])
    after = Campaign.get_by_id(campaign_id)
    assert (after.recipients, after.unknown, after.skipped_opted_out) == (2, 2, 5)
    assert after.last_checked_at == before.last_checked_at
