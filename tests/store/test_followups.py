"""Who a follow-up reaches, on both databases: each rule of the selection on its own."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from notify_tui.domain.status import classify_create_refusal, classify_message
from notify_tui.store import followups, optouts
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.models import Message
from notify_tui.store.sending import NewRecipient, add_recipients
from notify_tui.store.updates import StatusUpdate, apply_updates
from tests.invariants import assert_counters_hold

pytestmark = pytest.mark.usefixtures("workspace")

NOW = datetime(2026, 3, 2, 12, 0, 0)


def _campaign(recipients: list[NewRecipient]) -> tuple[int, dict[str, int]]:
    campaign_id = create_campaign("Original", "Hello", sender="+15005550006")
    add_recipients(campaign_id, recipients)
    select = Message.select(Message.phone, Message.id).where(Message.campaign == campaign_id)
    return campaign_id, dict(select.tuples())


def _failed(message_id: int, code: int, ago: timedelta = timedelta(hours=3)) -> StatusUpdate:
    return StatusUpdate(message_id, classify_message("undelivered", code), resolved_at=NOW - ago)


@pytest.mark.parametrize(
    ("phone", "code", "why"),
    [
        ("+14155550101", 30005, "failed for a cause a resend does not fix"),  # unknown number
        ("+14155550101", 30006, "failed for a cause a resend does not fix"),  # landline
        ("+14155550101", 30007, "failed for a cause a resend does not fix"),  # carrier filter
        ("+442079460000", 30003, "a landline or invalid number"),  # a UK fixed line
        ("+18005550100", 30003, "a landline or invalid number"),  # toll-free
    ],
)
def test_a_failure_that_a_resend_does_not_fix_is_left_out(phone: str, code: int, why: str) -> None:
    campaign_id, ids = _campaign([NewRecipient(phone)])
    apply_updates([_failed(ids[phone], code)], now=NOW)
    found = followups.candidates(campaign_id)
    assert found.chosen == [] and found.left_out == {why: 1}


@pytest.mark.parametrize("code", sorted(followups.RETRYABLE))
def test_each_failure_that_may_pass_is_chosen(code: int) -> None:
    campaign_id, ids = _campaign([NewRecipient("+14155550101", "Ann")])
    apply_updates([_failed(ids["+14155550101"], code)], now=NOW)
    found = followups.candidates(campaign_id)
    assert [(c.phone, c.name, c.code) for c in found.chosen] == [("+14155550101", "Ann", code)]
    assert found.by_code == {code: 1}


def test_the_delivered_the_unknown_the_opted_out_the_stop_and_the_invalid_are_left_out() -> None:
    phones = [f"+1415555010{i}" for i in range(6)]
    campaign_id, ids = _campaign(
        [NewRecipient(p) for p in phones] + [NewRecipient("555-01", invalid_reason="too short")]
    )
    apply_updates(
        [
            StatusUpdate(ids[phones[0]], classify_message("delivered")),
            # phones[1] stays Unknown: it may yet be delivered.
            _failed(ids[phones[2]], 30003),
            StatusUpdate(ids[phones[3]], classify_create_refusal(400, 21610)),  # STOP
            _failed(ids[phones[4]], 30003),
            _failed(ids[phones[5]], 30001, ago=timedelta(minutes=5)),
        ],
        now=NOW,
    )
    optouts.opt_out(phones[2], source="manual", reason="asked", actor="test")
    optouts.opt_out(phones[3], source="provider", reason="STOP", actor="provider")

    found = followups.candidates(campaign_id, failed_before=NOW - timedelta(hours=1))

    assert [c.phone for c in found.chosen] == [phones[4]]
    assert found.left_out == {
        "delivered": 1,
        "still unknown (may yet be delivered)": 1,
        "opted out": 1,
        "failed for a cause a resend does not fix": 2,  # the STOP's 21610, the invalid number
        "failed too recently": 1,
    }
    only = followups.candidates(campaign_id, codes=[30001])
    assert [c.phone for c in only.chosen] == [phones[5]]
    assert only.left_out["failed with a code not chosen"] == 2  # the two 30003s


def test_a_second_followup_leaves_out_whoever_the_first_reached_and_recovery_adds_up() -> None:
    campaign_id, ids = _campaign([NewRecipient("+14155550101"), NewRecipient("+14155550102")])
    apply_updates([_failed(i, 30003) for i in ids.values()], now=NOW)
    first, _ = _campaign([NewRecipient("+14155550101")])
    followups.link(first, campaign_id)
    found = followups.candidates(campaign_id)
    assert [c.phone for c in found.chosen] == ["+14155550102"]
    assert found.left_out == {"in an earlier follow-up": 1}
    (message_id,) = Message.select(Message.id).where(Message.campaign == first).tuples()
    apply_updates([StatusUpdate(message_id[0], classify_message("delivered"))])
    recovery = followups.recovered(campaign_id)
    assert (recovery.recovered, recovery.of, recovery.followups) == (1, 1, 1)
    assert recovery.describe() == "recovered 1 of 1"
    assert_counters_hold(campaign_id, first)
