"""Searching a campaign's recipients: the index of a view and the pages read by it.

Whatever way a page is read (by id when the index keeps every key, between page keys when it does
not, across status boundaries when sorted by status), it is exactly the page the plain ``OFFSET``
query gives. On SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import random

import pytest

from notify_tui.domain.status import Classification, Status, classify_message
from notify_tui.store import recipients
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.models import Message, utcnow
from notify_tui.store.recipients import (
    RecipientFilter,
    count_recipients,
    index_recipients,
    indexed_recipients,
    iter_recipients,
)
from notify_tui.store.sending import NewRecipient, Submitted, add_recipients, record_submitted
from notify_tui.store.updates import StatusUpdate, apply_updates

pytestmark = pytest.mark.usefixtures("workspace")

NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Mário Müller"]


def _campaign(count: int, failed: float = 1.0) -> tuple[int, list[int]]:
    """``count`` recipients with mixed names and every status, submitted and resolved (the
    failures ``failed`` times as likely as each other outcome)."""
    campaign_id = create_campaign("Search", "Hello", sender="+15005550006", state="sent")
    people = [
        NewRecipient(f"+1415555{i:04d}", f"{NAMES[i % len(NAMES)]} {i}") for i in range(count)
    ]
    add_recipients(campaign_id, people)
    ids = [
        i
        for (i,) in Message.select(Message.id)
        .where(Message.campaign == campaign_id)
        .order_by(Message.id)
        .tuples()
    ]
    now = utcnow()
    record_submitted([Submitted(m, f"SM{m:032x}", "queued", 1, None, now) for m in ids], now)
    rng = random.Random(5)
    outcomes = [
        classify_message("delivered"),
        classify_message("undelivered", 30003),
        classify_message("undelivered", 30006),
        Classification(Status.UNKNOWN),
    ]
    fates = rng.choices(outcomes, weights=[1, failed, failed, 1], k=len(ids))
    apply_updates(
        [StatusUpdate(i, fate, provider_status="x") for i, fate in zip(ids, fates, strict=True)],
        now,
    )
    return campaign_id, ids


def _view(campaign_id: int, flt: RecipientFilter) -> list[int]:
    """Every row of the view in order, read another way (keyset batches)."""
    return [row.id for row in iter_recipients(campaign_id, flt, batch=7)]


VIEWS = [
    RecipientFilter(search="hopper"),
    RecipientFilter(search="HOPPER", sort_by_status=True),
    RecipientFilter(search="a", status=Status.FAILED),
    RecipientFilter(search="a", status=Status.FAILED, sort_by_status=True),
    RecipientFilter(search="4155550", sort_by_status=True),
    RecipientFilter(search="555-01"),
    RecipientFilter(search="müller"),
    RecipientFilter(search="nobody"),
    RecipientFilter(),
    RecipientFilter(sort_by_status=True),
]


@pytest.mark.parametrize("keep_every_key", [True, False], ids=["by-id", "between-keys"])
def test_every_page_of_an_indexed_view_is_the_plain_offset_query(
    monkeypatch: pytest.MonkeyPatch, keep_every_key: bool
) -> None:
    campaign_id, _ = _campaign(600)
    # Many small batches, and pages of 16: every page boundary and batch boundary is crossed.
    monkeypatch.setattr(recipients, "INDEX_SPAN", 37)
    if not keep_every_key:
        monkeypatch.setattr(recipients, "KEEP_EVERY_KEY", 0)
    for flt in VIEWS:
        view = _view(campaign_id, flt)
        index = index_recipients(campaign_id, flt, page_size=16)
        assert index is not None
        total = count_recipients(campaign_id, flt)
        assert index.total == total, flt
        assert (index.keys is not None) == (keep_every_key or total == 0), flt
        assert len(index.starts) == -(-total // 16), flt
        edges = {0, 1, 15, 16, 17, total // 3, total // 2, max(total - 17, 0), max(total - 1, 0)}
        for offset in sorted(edges):
            for limit in (1, 16, 40):
                got = [r.id for r in indexed_recipients(index, offset, limit)]
                assert got == view[offset : offset + limit], (flt, offset, limit)
        assert indexed_recipients(index, total, 16) == []


@pytest.mark.parametrize("keep_every_key", [True, False], ids=["by-id", "between-keys"])
def test_a_page_sorted_by_status_reads_past_a_status_shorter_than_a_page(
    monkeypatch: pytest.MonkeyPatch, keep_every_key: bool
) -> None:
    campaign_id, _ = _campaign(120, failed=0.02)  # a failure or two, between the others
    if not keep_every_key:
        monkeypatch.setattr(recipients, "KEEP_EVERY_KEY", 0)
    flt = RecipientFilter(sort_by_status=True)
    view = _view(campaign_id, flt)
    failures = count_recipients(campaign_id, RecipientFilter(status=Status.FAILED))
    assert 0 < failures < 16
    index = index_recipients(campaign_id, flt, page_size=16)
    assert index is not None
    for offset in range(0, len(view), 5):
        got = [r.id for r in indexed_recipients(index, offset, 40)]
        assert got == view[offset : offset + 40], offset


def test_a_number_is_searched_in_numbers_as_typed_and_as_digits() -> None:
    campaign_id = create_campaign("Numbers", "Hello", sender="+15005550006", state="sent")
    add_recipients(
        campaign_id,
        [
            NewRecipient("+14155550101", "Agent 0101"),
            NewRecipient("+14155550199", "Grace Hopper"),
            NewRecipient("415 555", "Typo", invalid_reason="too short"),
        ],
    )

    def found(text: str) -> list[str]:
        flt = RecipientFilter(search=text)
        index = index_recipients(campaign_id, flt)
        assert index is not None and index.total == count_recipients(campaign_id, flt)
        return [r.name for r in indexed_recipients(index, 0, 10)]

    assert found("(415) 555-0101") == ["Agent 0101"]
    assert found("0199") == ["Grace Hopper"]
    # A number is looked for in numbers: a name that happens to hold the digits is not a match.
    assert found("0101") == ["Agent 0101"]
    assert found("415 555") == ["Agent 0101", "Grace Hopper", "Typo"]
    assert found("GRACE") == ["Grace Hopper"]
    assert found("agent") == ["Agent 0101"]
    assert found("%") == [] and found("_") == []


def test_a_cancelled_index_stops_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    campaign_id, _ = _campaign(100)
    monkeypatch.setattr(recipients, "INDEX_SPAN", 10)
    asked = 0

    def cancelled() -> bool:
        nonlocal asked
        asked += 1
        return asked > 3

    assert index_recipients(campaign_id, RecipientFilter(search="a"), cancelled=cancelled) is None
    assert asked == 4  # stopped at the fourth batch, not at the end


@pytest.mark.parametrize("keep_every_key", [True, False], ids=["by-id", "between-keys"])
def test_an_index_read_before_a_change_still_reads_what_matches_now(
    monkeypatch: pytest.MonkeyPatch, keep_every_key: bool
) -> None:
    if not keep_every_key:
        monkeypatch.setattr(recipients, "KEEP_EVERY_KEY", 0)
    campaign_id, _ = _campaign(60)
    flt = RecipientFilter(search="a", status=Status.UNKNOWN)
    index = index_recipients(campaign_id, flt, page_size=4)
    assert index is not None and index.total > 4
    first = [r.id for r in indexed_recipients(index, 0, 4)]
    apply_updates([StatusUpdate(first[0], classify_message("delivered"))], utcnow())
    again = indexed_recipients(index, 0, 4)
    assert [r.id for r in again] == first[1:]
    assert all(r.status is Status.UNKNOWN for r in again)
