"""The status guard of ``apply_updates`` on both databases: an answer applied against a row
that another writer has changed since it was read changes nothing and counts nothing (on
PostgreSQL the rows of one shape are updated in one statement that reports the ids it changed).
"""

from __future__ import annotations

import pytest

from notify_tui.domain.status import Classification, Reason, Status
from notify_tui.store.campaigns import create_campaign, get_campaign
from notify_tui.store.models import Message, database
from notify_tui.store.sending import NewRecipient, add_recipients
from notify_tui.store.updates import CURRENT_SELECT, StatusUpdate, apply_updates
from tests.invariants import assert_counters_hold

pytestmark = pytest.mark.usefixtures("workspace")


def _rows(ids: list[int]) -> dict[int, tuple[object, ...]]:
    param = database.param
    sql = f'SELECT {CURRENT_SELECT} FROM "message" WHERE "id" IN ({", ".join(param for _ in ids)})'
    return {row[0]: row for row in database.execute_sql(sql, ids).fetchall()}


def test_an_answer_against_a_stale_row_changes_nothing() -> None:
    campaign_id = create_campaign("Guard", "Hello")
    add_recipients(campaign_id, [NewRecipient(f"+1415555{i:04d}") for i in range(3)])
    ids = sorted(m.id for m in Message.select(Message.id).where(Message.campaign == campaign_id))
    stale = _rows(ids)  # all Unknown, as read before the other writer
    delivered = Classification(Status.DELIVERED)
    failed = Classification(Status.FAILED, Reason.UNREACHABLE_HANDSET, code=30003)
    # The other writer: the first message is delivered meanwhile.
    first = apply_updates([StatusUpdate(ids[0], delivered, provider_status="delivered")])
    assert first.changed_ids == {ids[0]}
    late = apply_updates(
        [StatusUpdate(i, failed, provider_status="undelivered") for i in ids], current=stale
    )
    assert late.changed_ids == set(ids[1:])
    assert [r.message_id for r in late.resolutions] == ids[1:]
    statuses = [Message.get_by_id(i).status for i in ids]
    assert statuses == ["delivered", "failed", "failed"]
    campaign = get_campaign(campaign_id)
    assert (campaign.delivered, campaign.failed, campaign.unknown) == (1, 2, 0)
    assert_counters_hold(campaign_id)


def test_two_priced_answers_about_one_message_in_one_batch_count_its_price_once() -> None:
    """A list page and a callback can both answer about a message in one batch, each with the
    price: the second sees the row as the first left it, so the cost and the insights' tallies
    hold the price once, under the status it ends with."""
    from decimal import Decimal

    from notify_tui.store import insights

    campaign_id = create_campaign("Twice", "Hello")
    add_recipients(campaign_id, [NewRecipient("+14155550100")])
    (message_id,) = [
        m.id for m in Message.select(Message.id).where(Message.campaign == campaign_id)
    ]
    price = Decimal("-0.0079")
    apply_updates(
        [
            StatusUpdate(
                message_id, Classification(Status.UNKNOWN), provider_status="sent", price=price
            ),
            StatusUpdate(
                message_id,
                Classification(Status.DELIVERED),
                provider_status="delivered",
                price=price,
            ),
        ]
    )
    assert Message.get_by_id(message_id).status == "delivered"
    assert get_campaign(campaign_id).cost == Decimal("0.0079")
    assert_counters_hold(campaign_id)
    kept, counted = insights.stored([campaign_id]), insights.counted([campaign_id])
    assert kept[0] == counted[0]
