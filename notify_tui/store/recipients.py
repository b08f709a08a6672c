"""A campaign's recipients, read a page at a time in the order the user chose.

The Details table is virtual: it asks for the rows at some offset of a filtered, sorted view.
Every order is read along an index. An order is a list of segments (``_Segment``): rows of one
condition in one keyed order each, such as the failed, then the unknown, then the delivered rows,
each in send order. Reading forwards from a known key is a keyset query; jumping far is an
indexed ``OFFSET`` into the segment that holds the row, from whichever end is nearer, so the last
row of a million is as quick as the first.

A search tests every recipient's name and number, or only those the search index of names
offers (``store.name_search``: 3 characters or more). ``index_recipients`` does that once (off
the UI thread, stoppable between batches) and keeps the id of every match in view order;
``indexed_recipients`` then reads any page by id, however sparse the matches.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeAlias

from peewee import JOIN, Expression, PostgresqlDatabase, fn

from notify_tui.domain.phone import search_digits
from notify_tui.domain.status import Reason, SendState, Status
from notify_tui.store import name_search
from notify_tui.store.campaigns import contains, name_contains
from notify_tui.store.models import NAME_KEY, Campaign, Contact, Message, database

RowKey: TypeAlias = tuple[Any, ...]
"""Where a row sits in a view's order: ``(segment, *values of its keys)``, the id last."""

INDEX_SPAN = 65_536
"""Matches `index_recipients` reads at a time; it can stop between two such reads."""


class Sort(StrEnum):
    """The orders the recipients can be shown in."""

    SENT = "sent"
    """The order they were sent in (the order of the audience)."""
    FAILURES = "failures"
    """Failed, then Unknown, then Delivered; each in send order."""
    REASON = "reason"
    """The failures by Failed Message Reason (A to Z), then Unknown, then Delivered."""
    UPDATED = "updated"
    """The most recently updated first."""
    NAME = "name"
    """By name, A to Z, case and accents folded; the recipients without a name last."""

    @property
    def label(self) -> str:
        """How the screens and the CLI's help name the order."""
        return _SORT_LABELS[self]


_SORT_LABELS = {
    Sort.SENT: "send order",
    Sort.FAILURES: "failures first",
    Sort.REASON: "by reason",
    Sort.UPDATED: "last update first",
    Sort.NAME: "by name",
}


@dataclass(frozen=True, slots=True)
class RecipientFilter:
    """Which recipients a view shows and in what order."""

    status: Status | None = None
    reason: str | None = None
    search: str = ""
    sort: Sort = Sort.SENT
    profiles: tuple[int, ...] | None = None
    """Only numbers of these profiles: a group of a country, carrier or line type breakdown
    (``store.insights.group_profile_ids``; profile 0 means none recorded)."""
    codes: tuple[int, ...] | None = None
    """Only messages that failed with one of these provider codes (an alert's filter)."""

    @property
    def is_everything(self) -> bool:
        """True when no filter narrows the view."""
        return (
            self.status is None
            and self.reason is None
            and self.profiles is None
            and self.codes is None
            and not self.search.strip()
        )


@dataclass(frozen=True, slots=True)
class RecipientRow:
    """One recipient as the Details table and the export show it."""

    id: int
    phone: str
    name: str
    status: Status
    reason: str | None
    detail: str | None
    error_code: int | None
    error_message: str | None
    sid: str | None
    num_segments: int | None
    price: Decimal | None
    updated_at: datetime
    opted_out: bool
    opt_out_source: str | None
    note: str | None
    provider_status: str | None
    send_state: SendState
    body: str | None = None
    """This recipient's own text (a personal message), or ``None``: the campaign's."""
    held_until: datetime | None = None
    """Held by quiet hours until then (naive UTC): not sent before (``note`` says till when
    where they are)."""

    @property
    def held(self) -> bool:
        """Waiting for the recipient's quiet hours to end: nothing was sent yet."""
        return self.held_until is not None and self.send_state is SendState.PENDING


_COLUMNS = (
    Message.id,
    Message.phone,
    Message.name,
    Message.status,
    Message.reason,
    Message.detail,
    Message.error_code,
    Message.error_message,
    Message.sid,
    Message.num_segments,
    Message.price,
    Message.updated_at,
    fn.COALESCE(Contact.opted_out, False),
    Contact.opt_out_source,
    Message.note,
    Message.provider_status,
    Message.send_state,
    Message.body,
    Message.held_until,
)


def _row(values: tuple[object, ...]) -> RecipientRow:
    v = list(values)
    v[3] = Status(v[3])
    if v[10] is not None:
        v[10] = Decimal(str(v[10]))
    v[12] = bool(v[12])
    v[16] = SendState(v[16])
    return RecipientRow(*v)


def _is_number(text: str) -> bool:
    """True when ``text`` is typed as a (part of a) phone number: digits, maybe formatted."""
    bare = text.isascii() and text.isdigit()
    return bool(text) and (bare or search_digits(text) is not None)


def _search(text: str) -> Expression:
    """Recipients whose number or name contains ``text``, in any case.

    The search reads every row of the campaign, so what it does per row counts. Text typed as a
    number ("4155", "(415) 555-01") has no letters and can only be part of a number: it is
    matched against the number alone, as typed and as digits. Other text is matched against the
    name and the number, narrowed by the search index of names where there is one (the same rows
    either way).
    """
    if _is_number(text):
        match = contains(Message.phone, text)
        digits = search_digits(text)
        if digits:
            match |= contains(Message.phone, digits)
        return match
    match = name_contains(Message.name, Message.name_folded, text) | contains(Message.phone, text)
    return name_search.narrowed(Message, text, match, alone=False)


def _where(campaign_id: int, flt: RecipientFilter):  # type: ignore[no-untyped-def]
    condition = Message.campaign == campaign_id
    if flt.status is not None:
        condition &= Message.status == flt.status.value
    if flt.reason is not None:
        condition &= Message.reason == flt.reason
    if flt.profiles is not None:
        in_group = Message.profile_id.in_(list(flt.profiles))
        if 0 in flt.profiles:
            in_group |= Message.profile_id.is_null()
        condition &= in_group
    if flt.codes is not None:
        condition &= Message.error_code.in_(list(flt.codes))
    text = flt.search.strip()
    if text:
        condition &= _search(text)
    return condition


def _select(campaign_id: int, flt: RecipientFilter):  # type: ignore[no-untyped-def]
    return (
        Message.select(*_COLUMNS)
        .join(Contact, JOIN.LEFT_OUTER, on=(Message.contact == Contact.id))
        .where(_where(campaign_id, flt))
    )


def count_recipients(campaign_id: int, flt: RecipientFilter = RecipientFilter()) -> int:
    """How many recipients of the campaign the filter shows."""
    if flt.is_everything:
        recipients = Campaign.select(Campaign.recipients).where(Campaign.id == campaign_id)
        value = recipients.scalar()
        if value is not None:
            return int(value)
    # The campaign's counters answer a status alone, not a status within a group or of codes.
    narrowed = flt.reason is not None or flt.profiles is not None or flt.codes is not None
    if flt.status is not None and not narrowed and not flt.search.strip():
        column = {
            Status.DELIVERED: Campaign.delivered,
            Status.FAILED: Campaign.failed,
            Status.UNKNOWN: Campaign.unknown,
        }[flt.status]
        value = Campaign.select(column).where(Campaign.id == campaign_id).scalar()
        if value is not None:
            return int(value)
    return int(Message.select().where(_where(campaign_id, flt)).count())


@dataclass(frozen=True, slots=True)
class _Segment:
    """Rows of one condition, in one order read along an index: a part of a view's order."""

    where: Any
    """Which rows (within the campaign and the filter); ``None``: every one."""
    keys: tuple[Any, ...]
    """The order within the segment, the message id last: one or two columns."""
    descending: bool = False
    """Highest first (the most recent update)."""
    status: Status | None = None
    """``where`` is exactly the rows of this status: counted as `count_recipients` counts one
    (from the campaign's counters, when nothing else narrows the view)."""
    rest: bool = False
    """Counted as what the other segments leave of the view: the biggest segment of an order
    is never counted row by row."""
    reasons: Callable[[str | None], bool] | None = None
    """``where`` is exactly the failures whose reason this says yes to: counted with the other
    reasons' segments, in one query by reason."""

    def order(self, reverse: bool) -> list[Any]:
        """``ORDER BY`` for reading the segment forwards, or backwards with ``reverse``."""
        down = self.descending != reverse
        return [key.desc() if down else key for key in self.keys]

    def onward(self, key: Sequence[Any], *, reverse: bool, inclusive: bool) -> list[Any]:
        """Conditions for the rows of the segment after ``key`` in its order (before it with
        ``reverse``; the row itself too with ``inclusive``), to be read one after the other.

        Two conditions for two keys, ``(v = x AND id > y)`` then ``v > x``: each one index range
        (and each implies the segment's own condition, which would only lead the database to a
        longer range). Asked for ``(v, id) > (x, y)`` in one, SQLite walks every row of ``v``.
        """
        ascending = self.descending == reverse
        if ascending:
            by_id = operator.ge if inclusive else operator.gt
        else:
            by_id = operator.le if inclusive else operator.lt
        *values, last_id = key
        if not values:
            after = by_id(Message.id, last_id)
            return [after if self.where is None else self.where & after]
        (column,), (value,) = self.keys[:-1], values
        beyond = column > value if ascending else column < value
        return [(column == value) & by_id(Message.id, last_id), beyond]


def _of_status(status: Status, rest: bool = False) -> _Segment:
    return _Segment(Message.status == status.value, (Message.id,), status=status, rest=rest)


_REASONS = sorted(reason.value for reason in Reason)

_SEGMENTS: dict[Sort, list[_Segment]] = {
    Sort.SENT: [_Segment(None, (Message.id,))],
    Sort.FAILURES: [
        _of_status(Status.FAILED),
        _of_status(Status.UNKNOWN),
        _of_status(Status.DELIVERED, rest=True),
    ],
    Sort.REASON: [
        *(
            _Segment(
                (Message.status == Status.FAILED.value) & (Message.reason == reason),
                (Message.id,),
                reasons=lambda r, reason=reason: r == reason,
            )
            for reason in _REASONS
        ),
        _Segment(
            (Message.status == Status.FAILED.value)
            & (Message.reason.is_null() | Message.reason.not_in(_REASONS)),
            (Message.id,),
            reasons=lambda r: r not in _REASONS,
        ),
        _of_status(Status.UNKNOWN),
        _of_status(Status.DELIVERED, rest=True),
    ],
    Sort.UPDATED: [_Segment(None, (Message.updated_at, Message.id), descending=True)],
    Sort.NAME: [
        _Segment(NAME_KEY > "", (NAME_KEY, Message.id), rest=True),
        _Segment(NAME_KEY == "", (Message.id,)),
    ],
}
"""Each order as its segments: every row of a campaign is in exactly one segment of each."""


def _segment_where(campaign_id: int, flt: RecipientFilter, segment: _Segment) -> Any:
    where = _where(campaign_id, flt)
    return where if segment.where is None else where & segment.where


def segment_counts(campaign_id: int, flt: RecipientFilter = RecipientFilter()) -> tuple[int, ...]:
    """How many rows of the view each segment of its order holds (their sum: the view's size).

    The view's size and a segment of one status come from the campaign's counters when nothing
    else narrows the view; the smaller segments are counted from an index; the biggest is what
    they leave. Not one snapshot: while statuses move, a count may be off by the rows that moved
    meanwhile, and the next read puts it right.
    """
    total = count_recipients(campaign_id, replace(flt, sort=Sort.SENT))
    segments = _SEGMENTS[flt.sort]
    if len(segments) == 1:
        return (total,)
    by_reason = None
    if any(segment.reasons for segment in segments):
        by_reason = _failures_by_reason(campaign_id, flt)
    counts = [
        0 if segment.rest else _count(campaign_id, flt, segment, by_reason) for segment in segments
    ]
    rest = next(n for n, segment in enumerate(segments) if segment.rest)
    counts[rest] = max(total - sum(counts), 0)
    return tuple(counts)


def _count(
    campaign_id: int,
    flt: RecipientFilter,
    segment: _Segment,
    by_reason: dict[str | None, int] | None,
) -> int:
    if segment.reasons is not None and by_reason is not None:
        return sum(n for reason, n in by_reason.items() if segment.reasons(reason))
    if segment.status is None:
        return int(Message.select().where(_segment_where(campaign_id, flt, segment)).count())
    if flt.status not in (None, segment.status):
        return 0
    return count_recipients(campaign_id, replace(flt, status=segment.status, sort=Sort.SENT))


def _failures_by_reason(campaign_id: int, flt: RecipientFilter) -> dict[str | None, int]:
    """The view's failures by reason, in one query of the (campaign, status, reason) index."""
    if flt.status not in (None, Status.FAILED):
        return {}
    failed = _where(campaign_id, flt) & (Message.status == Status.FAILED.value)
    select = Message.select(Message.reason, fn.COUNT(Message.id)).where(failed)
    return {reason: int(n) for reason, n in select.group_by(Message.reason).tuples()}


def _keyed_select(campaign_id: int, flt: RecipientFilter, segment: _Segment, condition: Any):  # type: ignore[no-untyped-def]
    """The rows of ``segment`` (or those of its rows that ``condition``, from ``onward``, keeps),
    with the values of its keys after the columns of a row (but the id: a column already)."""
    if condition is None:
        where = _segment_where(campaign_id, flt, segment)
    else:
        where = _where(campaign_id, flt) & condition
    return (
        Message.select(*_COLUMNS, *segment.keys[:-1])
        .join(Contact, JOIN.LEFT_OUTER, on=(Message.contact == Contact.id))
        .where(where)
    )


def _read(
    campaign_id: int,
    flt: RecipientFilter,
    number: int,
    conditions: Sequence[Any],
    limit: int,
    reverse: bool = False,
) -> list[tuple[RecipientRow, RowKey]]:
    """Up to ``limit`` rows of segment ``number`` meeting the conditions, read one condition
    after the other, each row with its key."""
    segment = _SEGMENTS[flt.sort][number]
    found: list[tuple[RecipientRow, RowKey]] = []
    width = len(_COLUMNS)
    for condition in conditions:
        if len(found) >= limit:
            break
        select = _keyed_select(campaign_id, flt, segment, condition)
        select = select.order_by(*segment.order(reverse)).limit(limit - len(found))
        for values in select.tuples():
            row = _row(values[:width])
            found.append((row, (number, *values[width:], row.id)))
    return found


def _page_after(
    campaign_id: int, flt: RecipientFilter, after: RowKey | None, limit: int
) -> list[tuple[RecipientRow, RowKey]]:
    """The ``limit`` rows that follow the row with key ``after``, each with its key."""
    found: list[tuple[RecipientRow, RowKey]] = []
    segments = _SEGMENTS[flt.sort]
    first = 0 if after is None else after[0]
    for number in range(first, len(segments)):
        if len(found) >= limit:
            break
        if after is not None and number == first:
            conditions = segments[number].onward(after[1:], reverse=False, inclusive=False)
        else:
            conditions = [None]
        found.extend(_read(campaign_id, flt, number, conditions, limit - len(found)))
    return found


def recipients_after(
    campaign_id: int, flt: RecipientFilter, after: RowKey | int | None, limit: int
) -> list[RecipientRow]:
    """The ``limit`` rows that follow the row with key ``after`` (keyset paging; in send order
    the key may be the id alone)."""
    if isinstance(after, int):
        assert flt.sort is Sort.SENT, "a bare id is a key of the send order only"
        after = (0, after)
    return [row for row, _ in _page_after(campaign_id, flt, after, limit)]


def recipients_at(
    campaign_id: int,
    flt: RecipientFilter,
    offset: int,
    limit: int,
    total: int | None = None,
    counts: Sequence[int] | None = None,
) -> list[RecipientRow]:
    """The ``limit`` rows from position ``offset`` of the filtered, ordered view.

    ``counts`` (`segment_counts`) or, for an order of one segment, ``total`` spare reading them
    again.
    """
    if offset < 0 or limit <= 0:
        return []
    if counts is None:
        single = len(_SEGMENTS[flt.sort]) == 1
        counts = (total,) if single and total is not None else segment_counts(campaign_id, flt)
    rows: list[RecipientRow] = []
    start = 0
    for number, size in enumerate(counts):
        if len(rows) >= limit:
            break
        if offset + len(rows) < start + size:
            inner = offset + len(rows) - start
            rows.extend(_segment_rows(campaign_id, flt, number, inner, limit - len(rows), size))
        start += size
    return rows


def _segment_rows(
    campaign_id: int, flt: RecipientFilter, number: int, offset: int, limit: int, size: int
) -> list[RecipientRow]:
    """The ``limit`` rows from ``offset`` of segment ``number``, of ``size`` rows."""
    limit = min(limit, max(size - offset, 0))
    if limit == 0:
        return []
    segment = _SEGMENTS[flt.sort][number]
    from_end = size - offset - limit
    reverse = from_end < offset
    skip = from_end if reverse else offset
    conditions: list[Any] = [None]
    if skip:
        # Skip along the index alone to the page's first key, then read the page by key: an
        # OFFSET on the full query would read (and join) every row it skips.
        select = (
            Message.select(*segment.keys)
            .where(_segment_where(campaign_id, flt, segment))
            .order_by(*segment.order(reverse))
            .offset(skip)
            .limit(1)
        )
        key = select.tuples().first()
        if key is None:
            return []
        conditions = segment.onward(key, reverse=reverse, inclusive=True)
    found = _read(campaign_id, flt, number, conditions, limit, reverse)
    rows = [row for row, _ in found]
    if reverse:
        rows.reverse()
    return rows


@dataclass(frozen=True, slots=True)
class RecipientIndex:
    """A filtered view as one scan found it: the id of every row, in view order.

    A snapshot: when the data changes, reading by it still gives the rows that still match (a
    page may come back a little short); read a new one to be exact.
    """

    campaign_id: int
    filter: RecipientFilter
    ids: array[int]

    @property
    def total(self) -> int:
        """How many rows the view had."""
        return len(self.ids)


def index_recipients(
    campaign_id: int,
    flt: RecipientFilter,
    cancelled: Callable[[], bool] = lambda: False,
) -> RecipientIndex | None:
    """Find the rows of a view, in view order, in one scan.

    Returns ``None`` when ``cancelled`` said so: it is asked between reads of `INDEX_SPAN`
    matches. The segments are not read in one transaction: a row that changes status meanwhile
    may be found where it was or where it went; the next index puts it right.
    """
    ids = array("q")
    sqlite = not isinstance(database.obj, PostgresqlDatabase)
    if sqlite and flt.sort is Sort.SENT and _is_number(flt.search.strip()):
        # SQLite finds a number in its (campaign, phone) index alone, ids and all: one query of
        # that index is several times quicker than reading the table in order.
        select = Message.select(Message.id).where(_where(campaign_id, flt))
        ids.extend(sorted(i for (i,) in database.execute(select).fetchall()))
        return None if cancelled() else RecipientIndex(campaign_id, flt, ids)
    text = flt.search.strip()
    indexed = bool(text) and not _is_number(text) and name_search.narrows(Message, text)
    if indexed:
        recipients = Campaign.select(Campaign.recipients).where(Campaign.id == campaign_id)
        indexed = name_search.pays(Message, text, int(recipients.scalar() or 0))
    for segment in _SEGMENTS[flt.sort]:
        where = _segment_where(campaign_id, flt, segment)
        order = segment.order(reverse=False)
        if indexed:
            # Only the rows the search index offers are read and tested, not the campaign's.
            select = name_search.matching(Message, [Message.id], where, text, order)
        else:
            select = Message.select(Message.id).where(where).order_by(*order)
        cursor = database.execute(select)
        try:
            while True:
                if cancelled():
                    return None
                batch = cursor.fetchmany(INDEX_SPAN)
                ids.extend(i for (i,) in batch)
                if len(batch) < INDEX_SPAN:
                    break
        finally:
            cursor.close()
    return RecipientIndex(campaign_id, flt, ids)


def indexed_recipients(index: RecipientIndex, offset: int, limit: int) -> list[RecipientRow]:
    """The ``limit`` rows from position ``offset`` of an indexed view, read by id."""
    if offset < 0 or limit <= 0 or offset >= index.total:
        return []
    place = {message_id: n for n, message_id in enumerate(index.ids[offset : offset + limit])}
    # Put in order here: asked to order them, SQLite would walk another index instead.
    select = _select(index.campaign_id, index.filter).where(Message.id.in_(list(place)))
    return sorted((_row(r) for r in select.tuples()), key=lambda row: place[row.id])


def iter_recipients(
    campaign_id: int, flt: RecipientFilter = RecipientFilter(), batch: int = 2000
) -> Iterator[RecipientRow]:
    """Every recipient the filter shows, in view order, read in keyset batches."""
    after: RowKey | None = None
    while True:
        found = _page_after(campaign_id, flt, after, batch)
        yield from (row for row, _ in found)
        if len(found) < batch:
            return
        after = found[-1][1]


def get_recipient(message_id: int) -> RecipientRow | None:
    """One recipient by message id."""
    select = (
        Message.select(*_COLUMNS)
        .join(Contact, JOIN.LEFT_OUTER, on=(Message.contact == Contact.id))
        .where(Message.id == message_id)
    )
    row = select.tuples().first()
    return _row(row) if row else None


def reason_counts(campaign_id: int) -> list[tuple[str, int]]:
    """Failed Message Reasons of the campaign with their counts, most frequent first."""
    count = fn.COUNT(Message.id)
    select = (
        Message.select(Message.reason, count)
        .where(
            (Message.campaign == campaign_id)
            & (Message.status == Status.FAILED.value)
            & Message.reason.is_null(False)
        )
        .group_by(Message.reason)
        .order_by(count.desc(), Message.reason)
    )
    return [(str(reason), int(n)) for reason, n in select.tuples()]
