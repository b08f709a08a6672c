"""A campaign's recipients, read a page at a time in a stable order.

The Details table is virtual: it asks for the rows at some offset of a filtered view. Reading
forwards from a known key is a keyset query; jumping far is an indexed ``OFFSET`` from whichever
end is nearer, so the last row of a million is as quick as the first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from peewee import JOIN, Tuple, fn

from notify_tui.domain.phone import search_digits
from notify_tui.domain.status import Status
from notify_tui.store.campaigns import contains
from notify_tui.store.models import Campaign, Contact, Message


@dataclass(frozen=True, slots=True)
class RecipientFilter:
    """Which recipients a view shows and in what order."""

    status: Status | None = None
    reason: str | None = None
    search: str = ""
    sort_by_status: bool = False

    @property
    def is_everything(self) -> bool:
        """True when no filter narrows the view."""
        return self.status is None and self.reason is None and not self.search.strip()


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
    send_state: str

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
)


def _row(values: tuple[object, ...]) -> RecipientRow:
    v = list(values)
    v[3] = Status(v[3])
    if v[10] is not None:
        v[10] = Decimal(str(v[10]))
    v[12] = bool(v[12])
    return RecipientRow(*v)


def _where(campaign_id: int, flt: RecipientFilter):  # type: ignore[no-untyped-def]
    condition = Message.campaign == campaign_id
    if flt.status is not None:
        condition &= Message.status == flt.status.value
    if flt.reason is not None:
        condition &= Message.reason == flt.reason
    text = flt.search.strip()
    if text:
        match = contains(Message.name, text) | contains(Message.phone, text)
        digits = search_digits(text)
        if digits:
            match |= contains(Message.phone, digits)
        condition &= match
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
    if flt.status is not None and flt.reason is None and not flt.search.strip():
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


def _key_at(
    campaign_id: int, flt: RecipientFilter, offset: int, descending: bool
) -> tuple[str, int] | int | None:
    keys = [Message.status, Message.id] if flt.sort_by_status else [Message.id]
    select = (
        Message.select(*keys)
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
