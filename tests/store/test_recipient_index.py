"""Reading a campaign's recipients in every order: by position, by key and through a search.

Whatever way a page is read (by position in the segments of an order, from either end; in keyset
batches; by id through a search's index), it is exactly the page one plain ``ORDER BY … OFFSET``
query gives, written here independently of the store's segments. On SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from peewee import Case

from notify_tui.domain.status import Classification, Reason, Status, classify_message
from notify_tui.store import recipients
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.models import NAME_KEY, Message, utcnow
from notify_tui.store.recipients import (
    RecipientFilter,
    Sort,
    _row,
    _select,
    count_recipients,
    index_recipients,
    indexed_recipients,
    iter_recipients,
    recipients_at,
    segment_counts,
)
from notify_tui.store.sending import NewRecipient, Submitted, add_recipients, record_submitted
from notify_tui.store.updates import StatusUpdate, apply_updates

pytestmark = pytest.mark.usefixtures("workspace")

NAMES = ["Ada Lovelace", "grace hopper", "Alan Turing", "", "Mário Müller", "Édith Piaf", "ada"]

FAILED, UNKNOWN = Status.FAILED.value, Status.UNKNOWN.value
REASONS = sorted(reason.value for reason in Reason)

PLAIN_ORDER: dict[Sort, list[Any]] = {
    Sort.SENT: [Message.id],
    Sort.FAILURES: [Case(Message.status, [(FAILED, 0), (UNKNOWN, 1)], 2), Message.id],
    Sort.REASON: [
        Case(
            None,
            [
                *(
                    ((Message.status == FAILED) & (Message.reason == reason), n)
                    for n, reason in enumerate(REASONS)
                ),
                (Message.status == FAILED, len(REASONS)),
                (Message.status == UNKNOWN, len(REASONS) + 1),
            ],
            len(REASONS) + 2,
        ),
        Message.id,
    ],
    Sort.UPDATED: [Message.updated_at.desc(), Message.id.desc()],
    Sort.NAME: [Case(None, [(NAME_KEY == "", 1)], 0), NAME_KEY, Message.id],
}
"""Each order as a user reads its description, in one ``ORDER BY``."""


def _campaign(count: int, failed: float = 1.0) -> tuple[int, list[int]]:
    """``count`` recipients with mixed names (some none, some accented, some the same), every
    status, and updates at a handful of times (many rows share one)."""
    campaign_id = create_campaign("Search", "Hello", sender="+15005550006", state="sent")
    people = [
        NewRecipient(f"+1415555{i:04d}", f"{NAMES[i % len(NAMES)]} {i % 9}".strip())
        if i % 11
        else NewRecipient(f"+1415555{i:04d}", "")
        for i in range(count)
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
        classify_message("failed", 30007),
        Classification(Status.UNKNOWN),
    ]
    fates = rng.choices(outcomes, weights=[1, failed, failed, failed, 1], k=len(ids))
    apply_updates(
        [StatusUpdate(i, fate, provider_status="x") for i, fate in zip(ids, fates, strict=True)],
        now,
    )
    for i in ids:
        when = now - timedelta(minutes=rng.randrange(5))
        Message.update(updated_at=when).where(Message.id == i).execute()
    return campaign_id, ids


def _plain(
    campaign_id: int, flt: RecipientFilter, offset: int = 0, limit: int = 10**9
) -> list[int]:
    select = _select(campaign_id, flt).order_by(*PLAIN_ORDER[flt.sort]).offset(offset)
    return [_row(r).id for r in select.limit(limit).tuples()]


FILTERS = [
    RecipientFilter(),
    RecipientFilter(status=Status.FAILED),
    RecipientFilter(status=Status.UNKNOWN),
    RecipientFilter(reason=Reason.UNREACHABLE_HANDSET.value),
    RecipientFilter(codes=(30006, 30007)),
]
SEARCHES = [
    RecipientFilter(search="ada"),
    RecipientFilter(search="MULLER"),
    RecipientFilter(search="a", status=Status.FAILED),
    RecipientFilter(search="4155550"),
    RecipientFilter(search="555-01"),
    RecipientFilter(search="nobody"),
]


def _sorted(filters: list[RecipientFilter]) -> list[RecipientFilter]:
    return [RecipientFilter(**{**_fields(flt), "sort": sort}) for flt in filters for sort in Sort]


def _fields(flt: RecipientFilter) -> dict[str, Any]:
    return {name: getattr(flt, name) for name in flt.__dataclass_fields__}


@pytest.mark.parametrize("flt", _sorted(FILTERS), ids=str)
def test_every_page_in_every_order_is_the_plain_offset_query(flt: RecipientFilter) -> None:
    campaign_id, _ = _campaign(300)
    plain = _plain(campaign_id, flt)
    total = count_recipients(campaign_id, flt)
    assert total == len(plain) and sum(segment_counts(campaign_id, flt)) == total
    edges = {0, 1, 15, 16, 17, total // 3, total // 2, max(total - 17, 0), max(total - 1, 0)}
    for offset in sorted(edges):
        for limit in (1, 16, 97):
            got = [r.id for r in recipients_at(campaign_id, flt, offset, limit)]
            assert got == plain[offset : offset + limit], (offset, limit)
    assert recipients_at(campaign_id, flt, total, 16) == []
    for batch in (1, 7, 1000):
        assert [r.id for r in iter_recipients(campaign_id, flt, batch=batch)] == plain


@pytest.mark.parametrize("flt", _sorted(SEARCHES), ids=str)
def test_every_page_of_a_search_in_every_order_is_the_plain_offset_query(
    monkeypatch: pytest.MonkeyPatch, flt: RecipientFilter
) -> None:
    campaign_id, _ = _campaign(300)
    monkeypatch.setattr(recipients, "INDEX_SPAN", 37)  # several reads per segment
    plain = _plain(campaign_id, flt)
    index = index_recipients(campaign_id, flt)
    assert index is not None
    assert index.total == count_recipients(campaign_id, flt) == len(plain)
    assert list(index.ids) == plain
    for offset in sorted({0, 1, 16, index.total // 2, max(index.total - 1, 0)}):
        for limit in (1, 16, 40):
            got = [r.id for r in indexed_recipients(index, offset, limit)]
            assert got == plain[offset : offset + limit], (offset, limit)
    assert indexed_recipients(index, index.total, 16) == []
    assert [r.id for r in iter_recipients(campaign_id, flt, batch=5)] == plain


def test_a_status_shorter_than_a_page_is_read_past(monkeypatch: pytest.MonkeyPatch) -> None:
    campaign_id, _ = _campaign(120, failed=0.02)  # a failure or two, between the others
    flt = RecipientFilter(sort=Sort.FAILURES)
    failures = count_recipients(campaign_id, RecipientFilter(status=Status.FAILED))
    assert 0 < failures < 16
    plain = _plain(campaign_id, flt)
    for offset in range(0, len(plain), 5):
        got = [r.id for r in recipients_at(campaign_id, flt, offset, 40)]
        assert got == plain[offset : offset + 40], offset


def test_names_sort_folded_and_the_unnamed_last() -> None:
    campaign_id = create_campaign("Names", "Hello", sender="+15005550006", state="sent")
    names = ["zoë", "", "Émile", "adam", "ZACH", "Zoe", "", "élise", "Adam"]
    add_recipients(campaign_id, [NewRecipient(f"+1415555{i:04d}", n) for i, n in enumerate(names)])
    shown = [r.name for r in iter_recipients(campaign_id, RecipientFilter(sort=Sort.NAME))]
    assert shown == ["adam", "Adam", "élise", "Émile", "ZACH", "zoë", "Zoe", "", ""]


def test_the_last_update_comes_first_and_moves_a_row_that_changes() -> None:
    campaign_id, _ = _campaign(40)
    flt = RecipientFilter(sort=Sort.UPDATED)
    waiting = [r.id for r in iter_recipients(campaign_id, RecipientFilter(status=Status.UNKNOWN))]
    last = waiting[0]
    assert recipients_at(campaign_id, flt, 0, 1)[0].id != last
    apply_updates([StatusUpdate(last, classify_message("delivered"))], utcnow() + timedelta(1))
    assert recipients_at(campaign_id, flt, 0, 1)[0].id == last
    assert [r.id for r in iter_recipients(campaign_id, flt)] == _plain(campaign_id, flt)


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


def test_an_index_read_before_a_change_still_reads_what_matches_now() -> None:
    campaign_id, _ = _campaign(60)
    flt = RecipientFilter(search="a", status=Status.UNKNOWN)
    index = index_recipients(campaign_id, flt)
    assert index is not None and index.total > 4
    first = [r.id for r in indexed_recipients(index, 0, 4)]
    apply_updates([StatusUpdate(first[0], classify_message("delivered"))], utcnow())
    again = indexed_recipients(index, 0, 4)
    assert [r.id for r in again] == first[1:]
    assert all(r.status is Status.UNKNOWN for r in again)
