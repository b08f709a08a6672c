"""The store's fast paths give the same answers as the plain queries they replace.

Batched status updates (one prepared statement per shape of change), index-only skipping for the
virtual table's pages, and the indexes a workspace of millions of messages needs (schema 3).
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from peewee import fn

from notify_tui.domain.status import Classification, Status, classify_message
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.db import SCHEMA_VERSION, open_workspace, schema_version
from notify_tui.store.models import Campaign, Message, StatusTally, database, utcnow
from notify_tui.store.recipients import (
    RecipientFilter,
    Sort,
    _row,
    _select,
    count_recipients,
    recipients_at,
)
from notify_tui.store.sending import NewRecipient, Submitted, add_recipients, record_submitted
from notify_tui.store.updates import StatusUpdate, apply_updates
from tests.store.test_recipient_index import PLAIN_ORDER


def _campaign(count: int) -> tuple[int, list[int]]:
    campaign_id = create_campaign("Scale", "Hello", sender="+15005550006", state="sent")
    now = utcnow()
    add_recipients(
        campaign_id, [NewRecipient(f"+1415555{i:04d}", f"Person {i}") for i in range(count)]
    )
    ids = [
        i
        for (i,) in Message.select(Message.id)
        .where(Message.campaign == campaign_id)
        .order_by(Message.id)
        .tuples()
    ]
    record_submitted(
        [Submitted(m, f"SM{m:032x}", "queued", 1, None, now) for m in ids],
        now,
    )
    return campaign_id, ids


@pytest.mark.usefixtures("workspace")
def test_a_batch_of_answers_moves_rows_counters_and_history_forward_only() -> None:
    campaign_id, ids = _campaign(6)
    delivered = classify_message("delivered")
    failed = classify_message("undelivered", 30003)
    sent = Classification(Status.UNKNOWN)
    now = utcnow()
    price = Decimal("-0.0079")
    applied = apply_updates(
        [
            StatusUpdate(ids[0], delivered, provider_status="delivered", price=price),
            StatusUpdate(ids[1], failed, provider_status="undelivered", price=price),
            StatusUpdate(ids[2], sent, provider_status="sent", next_poll_at=now),
            # Two answers about one message in one batch: the second is too late to count.
            StatusUpdate(ids[3], delivered, provider_status="delivered"),
            StatusUpdate(ids[3], failed, provider_status="undelivered"),
            # A stale answer about a message that resolved in this batch: no effect.
            StatusUpdate(ids[0], sent, provider_status="sent", next_poll_at=now),
            StatusUpdate(999_999, delivered),
        ],
        now,
    )
    assert {r.message_id for r in applied.resolutions} == {ids[0], ids[1], ids[3]}
    assert applied.changed_ids == {ids[0], ids[1], ids[2], ids[3]}
    rows = {m.id: m for m in Message.select().where(Message.campaign == campaign_id)}
    assert [rows[i].status for i in ids] == [
        "delivered",
        "failed",
        "unknown",
        "delivered",
        "unknown",
        "unknown",
    ]
    assert rows[ids[0]].provider_status == "delivered" and rows[ids[0]].price == price
    assert rows[ids[1]].error_code == 30003 and rows[ids[1]].reason is not None
    assert rows[ids[2]].provider_status == "sent" and rows[ids[2]].polls == 1
    assert all(rows[i].lease_owner is None for i in ids)
    campaign = Campaign.get_by_id(campaign_id)
    assert (campaign.delivered, campaign.failed, campaign.unknown) == (2, 1, 3)
    assert campaign.cost == abs(price) * 2
    tallied = StatusTally.select(fn.SUM(StatusTally.delivered), fn.SUM(StatusTally.failed))
    assert tallied.where(StatusTally.campaign == campaign_id).tuples().first() == (2, 1)
    # Later answers never move a final status back; "read" may refine "delivered".
    again = apply_updates(
        [
            StatusUpdate(ids[1], delivered, provider_status="delivered"),
            StatusUpdate(ids[0], delivered, provider_status="read"),
        ]
    )
    assert again.resolutions == [] and again.changed_ids == {ids[0]}
    assert Message.get_by_id(ids[1]).status == "failed"
    assert Message.get_by_id(ids[0]).provider_status == "read"


@pytest.mark.usefixtures("workspace")
def test_pages_anywhere_in_any_view_are_the_plain_offset_query() -> None:
    campaign_id, ids = _campaign(700)
    rng = random.Random(3)
    outcomes = [
        classify_message("delivered"),
        classify_message("undelivered", 30003),
        classify_message("undelivered", 30006),
        Classification(Status.UNKNOWN),
    ]
    apply_updates(
        [StatusUpdate(i, rng.choice(outcomes), provider_status="x") for i in ids], utcnow()
    )
    views = [
        RecipientFilter(),
        *(RecipientFilter(sort=sort) for sort in Sort),
        RecipientFilter(status=Status.FAILED),
        RecipientFilter(status=Status.FAILED, reason="Landline or unreachable carrier"),
        RecipientFilter(search="Person 1"),
        RecipientFilter(search="Person 1", sort=Sort.FAILURES),
        RecipientFilter(status=Status.UNKNOWN, sort=Sort.NAME),
    ]
    for flt in views:
        total = count_recipients(campaign_id, flt)
        edges = {0, 1, total // 3, total // 2, max(total - 40, 0), max(total - 1, 0), total}
        for offset in sorted(edges):
            for limit in (1, 37, 256):
                got = [r.id for r in recipients_at(campaign_id, flt, offset, limit, total)]
                plain = (
                    _select(campaign_id, flt)
                    .order_by(*PLAIN_ORDER[flt.sort])
                    .offset(offset)
                    .limit(limit)
                )
                assert got == [_row(r).id for r in plain.tuples()], (flt, offset, limit)


def test_an_older_workspace_gets_the_indexes_for_scale(tmp_path: Path) -> None:
    path = tmp_path / "older.db"
    db = open_workspace(None, path)
    for name in ("message_phone", "message_pending", "message_campaign_id_status_reason"):
        db.execute_sql(f'DROP INDEX "{name}"')
    campaign_id = create_campaign("Kept", "Hello")
    add_recipients(campaign_id, [NewRecipient("+14155550100")])
    db.close()

    db = open_workspace(None, path)
    try:
        # Indexes hold no data of their own: no new schema version, older releases still open it.
        assert schema_version(db) == SCHEMA_VERSION
        names = {index.name for index in db.get_indexes("message")}
        assert {"message_phone", "message_pending", "message_campaign_id_status_reason"} <= names
        assert count_recipients(campaign_id) == 1
        # The pending index holds only the messages being polled.
        pending = db.execute_sql(
            'SELECT COUNT(*) FROM "message" INDEXED BY "message_pending" '
            'WHERE "next_poll_at" IS NOT NULL'
        ).fetchone()[0]
        assert pending == 0
        Message.update(next_poll_at=utcnow() + timedelta(seconds=5)).execute()
        plan = db.execute_sql(
            'EXPLAIN QUERY PLAN SELECT COUNT(*) FROM "message" '
            'WHERE "status" = ? AND "next_poll_at" IS NOT NULL',
            ("unknown",),
        ).fetchall()
        assert "message_pending" in str(plan)
    finally:
        db.close()
        database.initialize(None)
