"""A campaign's recipients, read a page at a time in a stable order.

The Details table is virtual: it asks for the rows at some offset of a filtered view. Reading
forwards from a known key is a keyset query; jumping far is an indexed ``OFFSET`` from whichever
end is nearer, so the last row of a million is as quick as the first.

A search cannot use an index: it tests every recipient's name and number. ``index_recipients``
does that once (off the UI thread, stoppable between batches) and keeps the key of the first row
of every page; ``indexed_recipients`` then reads any page between two of those keys, touching
only the rows in between, however sparse the matches.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeAlias

from peewee import JOIN, Expression, PostgresqlDatabase, Tuple, fn

from notify_tui.domain.phone import search_digits
from notify_tui.domain.status import SendState, Status
from notify_tui.store.campaigns import contains, name_contains
from notify_tui.store.models import Campaign, Contact, Message, database

RowKey: TypeAlias = tuple[str, int] | int
"""Where a row sits in a view's order: its id, or ``(status, id)`` when sorted by status."""

INDEX_SPAN = 65_536
"""Message ids one query of `index_recipients` looks at; it can stop between two such queries."""

KEEP_EVERY_KEY = 16_384
"""A view of at most this many rows keeps the key of every row: any page is read by id."""


@dataclass(frozen=True, slots=True)
class RecipientFilter:
    """Which recipients a view shows and in what order."""

    status: Status | None = None
    reason: str | None = None
    search: str = ""
    sort_by_status: bool = False
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

    @property
    def sort_key(self) -> tuple[str, int]:
        """The keyset key of this row under status sorting."""
        return (self.status.value, self.id)


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
    name and the number.
    """
    if _is_number(text):
        match = contains(Message.phone, text)
        digits = search_digits(text)
        if digits:
            match |= contains(Message.phone, digits)
        return match
    return name_contains(Message.name, Message.name_folded, text) | contains(Message.phone, text)


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


def _order(flt: RecipientFilter, descending: bool) -> list[Any]:
    keys: list[Any] = [Message.status, Message.id] if flt.sort_by_status else [Message.id]
    return [k.desc() if descending else k for k in keys]


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


def recipients_after(
    campaign_id: int,
    flt: RecipientFilter,
    after: tuple[str, int] | int | None,
    limit: int,
) -> list[RecipientRow]:
    """The ``limit`` rows that follow the row with key ``after`` (keyset paging)."""
    select = _select(campaign_id, flt)
    if after is not None:
        if flt.sort_by_status:
            assert isinstance(after, tuple)
            select = select.where(Tuple(Message.status, Message.id) > Tuple(*after))
        else:
            key = after[1] if isinstance(after, tuple) else after
            select = select.where(Message.id > key)
    select = select.order_by(*_order(flt, descending=False)).limit(limit)
    return [_row(r) for r in select.tuples()]


def recipients_at(
    campaign_id: int, flt: RecipientFilter, offset: int, limit: int, total: int | None = None
) -> list[RecipientRow]:
    """The ``limit`` rows from position ``offset`` of the filtered, ordered view."""
    if offset < 0 or limit <= 0:
        return []
    if total is None:
        total = count_recipients(campaign_id, flt)
    limit = min(limit, max(total - offset, 0))
    if limit == 0:
        return []
    from_end = total - offset - limit
    descending = from_end < offset
    skip = from_end if descending else offset
    select = _select(campaign_id, flt)
    if skip:
        # Skip along the index alone to the page's first key, then read the page by key: an
        # OFFSET on the full query would read (and join) every row it skips.
        key = _key_at(campaign_id, flt, skip, descending)
        if key is None:
            return []
        select = select.where(_from_key(flt, key, descending))
    select = select.order_by(*_order(flt, descending)).limit(limit)
    rows = [_row(r) for r in select.tuples()]
    if descending:
        rows.reverse()
    return rows


def _keys(flt: RecipientFilter) -> list[Any]:
    """The columns of a row's key in the view's order."""
    return [Message.status, Message.id] if flt.sort_by_status else [Message.id]


def _key_at(
    campaign_id: int, flt: RecipientFilter, offset: int, descending: bool
) -> tuple[str, int] | int | None:
    select = (
        Message.select(*_keys(flt))
        .where(_where(campaign_id, flt))
        .order_by(*_order(flt, descending))
        .offset(offset)
        .limit(1)
    )
    row = select.tuples().first()
    if row is None:
        return None
    return (str(row[0]), int(row[1])) if flt.sort_by_status else int(row[0])


def _from_key(flt: RecipientFilter, key: tuple[str, int] | int, descending: bool) -> Any:
    """The rows at ``key`` and after it in view order (before it, ``descending``)."""
    if isinstance(key, tuple):
        pair, bound = Tuple(Message.status, Message.id), Tuple(*key)
        return pair <= bound if descending else pair >= bound
    return Message.id <= key if descending else Message.id >= key


@dataclass(frozen=True, slots=True)
class RecipientIndex:
    """A filtered view as one scan found it: how many rows, and where each page of them starts.

    A snapshot: when the data changes, reading by it still gives the rows that match now between
    the same keys (a page may come back a little short or long); read a new one to be exact.
    """

    campaign_id: int
    filter: RecipientFilter
    total: int
    page_size: int
    starts: tuple[RowKey, ...]
    """The key of row ``i * page_size``, for every page."""
    last: RowKey | None
    """The key of the last row; ``None`` when there is none."""
    keys: tuple[RowKey, ...] | None = None
    """The key of every row, when there are at most `KEEP_EVERY_KEY`."""


def index_recipients(
    campaign_id: int,
    flt: RecipientFilter,
    page_size: int = 256,
    cancelled: Callable[[], bool] = lambda: False,
) -> RecipientIndex | None:
    """Count the rows of a view and note the key of every ``page_size``-th one, in one scan.

    Returns ``None`` when ``cancelled`` said so: it is asked between the queries of the scan,
    each of which reads at most `INDEX_SPAN` ids of the campaign. The queries are not one
    transaction: a row that changes status meanwhile may be counted where it was or where it
    went; the next index puts it right.
    """
    found = _matching_ids(campaign_id, flt, cancelled)
    if found is None:
        return None
    total = 0
    starts: list[RowKey] = []
    every: list[RowKey] = []
    last: RowKey | None = None
    keep_every = sum(len(ids) for ids in found.values()) <= KEEP_EVERY_KEY
    # Statuses sort the same way in Python and in SQL: these are the (status, id) keys in order.
    by_status = flt.sort_by_status
    for status in sorted(found):
        ids = found[status]
        if not ids:
            continue
        starts.extend(_keyed(status, ids[(-total) % page_size :: page_size], by_status))
        if keep_every:
            every.extend(_keyed(status, ids, by_status))
        total += len(ids)
        last = _keyed(status, ids[-1:], by_status)[0]
    return RecipientIndex(
        campaign_id,
        flt,
        total,
        page_size,
        tuple(starts),
        last,
        tuple(every) if keep_every else None,
    )


def _keyed(status: str, ids: Iterable[int], by_status: bool) -> list[RowKey]:
    return [(status, i) for i in ids] if by_status else list(ids)


def _matching_ids(
    campaign_id: int, flt: RecipientFilter, cancelled: Callable[[], bool]
) -> dict[str, array[int]] | None:
    """The ids of the rows the view shows, in id order: all under ``""``, or by status when the
    view is sorted by status. ``None`` when cancelled."""
    found: dict[str, array[int]] = {}
    by_status = flt.sort_by_status
    text = flt.search.strip()
    if not by_status and _is_number(text) and not isinstance(database.obj, PostgresqlDatabase):
        # SQLite finds a number in its (campaign, phone) index alone, ids and all: one query of
        # that index is several times quicker than reading the table, batched or not.
        select = Message.select(Message.id).where(_where(campaign_id, flt))
        found[""] = array("q", sorted(i for (i,) in database.execute(select).fetchall()))
        return None if cancelled() else found
    low, high = (
        Message.select(fn.MIN(Message.id), fn.MAX(Message.id))
        .where(Message.campaign == campaign_id)
        .tuples()
        .first()
    ) or (None, None)
    if low is None or high is None:
        return found
    columns = _keys(flt)
    for start in range(int(low), int(high) + 1, INDEX_SPAN):
        if cancelled():
            return None
        span = (Message.id >= start) & (Message.id < start + INDEX_SPAN)
        select = Message.select(*columns).where(_where(campaign_id, flt) & span)
        rows = database.execute(select.order_by(Message.id)).fetchall()
        if not by_status:
            found.setdefault("", array("q")).extend(i for (i,) in rows)
            continue
        for status, i in rows:
            ids = found.get(status)
            if ids is None:
                ids = found[status] = array("q")
            ids.append(i)
    return found


def indexed_recipients(index: RecipientIndex, offset: int, limit: int) -> list[RecipientRow]:
    """The ``limit`` rows from position ``offset`` of an indexed view.

    Read by id when the index keeps every key, otherwise between the start of the page that holds
    ``offset`` and the start of the page after the last row wanted (or the last row): only the
    rows between those keys are read and tested, never a scan from either end.
    """
    if offset < 0 or limit <= 0 or offset >= index.total:
        return []
    limit = min(limit, index.total - offset)
    flt = index.filter
    order = _order(flt, descending=False)
    if index.keys is not None:
        keys = index.keys[offset : offset + limit]
        place = {key[1] if isinstance(key, tuple) else key: n for n, key in enumerate(keys)}
        # Put in order here: asked to order them, SQLite would walk the status index instead.
        select = _select(index.campaign_id, flt).where(Message.id.in_(list(place)))
        return sorted((_row(r) for r in select.tuples()), key=lambda row: place[row.id])
    page, skip = divmod(offset, index.page_size)
    after = (offset + limit - 1) // index.page_size + 1
    first = index.starts[page]
    end = index.starts[after] if after < len(index.starts) else index.last
    assert end is not None
    inclusive = after >= len(index.starts)
    wanted = skip + limit
    raw: list[tuple[Any, ...]] = []
    for condition in _ranges(first, end, inclusive):
        select = _select(index.campaign_id, flt).where(condition).order_by(*order)
        raw.extend(select.limit(wanted - len(raw)).tuples())
        if len(raw) >= wanted:
            break
    return [_row(r) for r in raw[skip:wanted]]


def _ranges(first: RowKey, end: RowKey, inclusive: bool) -> list[Any]:
    """Conditions for the rows from key ``first`` to key ``end``, one per index range.

    By id that is one range. By (status, id), one per status crossed: SQLite answers a
    row-value comparison by walking the whole status from its start.
    """
    if not isinstance(first, tuple) or not isinstance(end, tuple):
        assert isinstance(first, int) and isinstance(end, int)
        upper = Message.id <= end if inclusive else Message.id < end
        return [(Message.id >= first) & upper]
    (status, low), (last_status, high) = first, end
    upper = Message.id <= high if inclusive else Message.id < high
    if status == last_status:
        return [(Message.status == status) & (Message.id >= low) & upper]
    between = sorted(s.value for s in Status if status < s.value < last_status)
    return [
        (Message.status == status) & (Message.id >= low),
        *(Message.status == s for s in between),
        (Message.status == last_status) & upper,
    ]


def iter_recipients(
    campaign_id: int, flt: RecipientFilter = RecipientFilter(), batch: int = 2000
) -> Iterator[RecipientRow]:
    """Every recipient the filter shows, in view order, read in keyset batches."""
    after: tuple[str, int] | None = None
    while True:
        rows = recipients_after(campaign_id, flt, after, batch)
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].sort_key


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
