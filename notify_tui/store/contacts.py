"""Contacts: pages for the Contacts screen, one number's delivery history, and bulk imports.

An import never clears an opt-out and never blanks what it does not know: it only adds contacts
and fills in or changes their name and attributes. Within one import the first line that names a
number wins; later lines with the same number count as duplicates. Which numbers an import has
already seen is kept in a temporary table rather than in memory, so a file of any size imports in
bounded memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from peewee import CharField, Field, IntegerField

from notify_tui.domain.phone import search_digits
from notify_tui.domain.text import folded_name
from notify_tui.store import name_search
from notify_tui.store.bulk import INSERT_CONTACT, executemany
from notify_tui.store.campaigns import contains, name_contains
from notify_tui.store.models import BaseModel, Campaign, Contact, Message, database, utcnow

_BATCH = 500
"""Numbers per ``IN (...)``: well under SQLite's variable limit."""


@dataclass(frozen=True, slots=True)
class ContactRow:
    """One contact as the Contacts screen shows it, with its opt-out state."""

    id: int
    phone: str
    name: str
    attributes_json: str
    created_at: datetime
    updated_at: datetime
    opted_out: bool
    opt_out_source: str | None
    opt_out_reason: str | None
    opted_out_at: datetime | None

    @property
    def attributes(self) -> dict[str, str]:
        """The contact's other columns, as imported (an empty dict if unreadable)."""
        return decode_attributes(self.attributes_json)


class DeliveryRecord(NamedTuple):
    """What happened to one message sent to a number, newest first in ``delivery_history``."""

    campaign_id: int
    campaign_name: str
    status: str
    reason: str | None
    updated_at: datetime


_COLUMNS = (
    Contact.id,
    Contact.phone,
    Contact.name,
    Contact.attributes,
    Contact.created_at,
    Contact.updated_at,
    Contact.opted_out,
    Contact.opt_out_source,
    Contact.opt_out_reason,
    Contact.opted_out_at,
)


def _row(values: tuple[Any, ...]) -> ContactRow:
    v = list(values)
    v[2] = v[2] or ""
    v[3] = v[3] or "{}"
    v[6] = bool(v[6])
    return ContactRow(*v)


def decode_attributes(text: str | None) -> dict[str, str]:
    """A contact's stored attributes as a dict; anything unreadable reads as empty."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def encode_attributes(attributes: Mapping[str, str]) -> str:
    """The stored form of attributes: stable, so equal attributes store equal text."""
    return json.dumps(dict(attributes), ensure_ascii=False, sort_keys=True)


def _search(search: str):  # type: ignore[no-untyped-def]
    select = Contact.select(*_COLUMNS)
    text = search.strip()
    if text:
        match = contains(Contact.phone, text) | name_contains(
            Contact.name, Contact.name_folded, text
        )
        digits = search_digits(text)
        if digits:
            match |= contains(Contact.phone, digits)
        select = select.where(name_search.narrowed(Contact, text, match, alone=True))
    return select


def count_contacts(search: str = "") -> int:
    """How many contacts match ``search`` (a part of the number or the name, any case)."""
    return int(_search(search).count())


def contact_page(search: str = "", offset: int = 0, limit: int = 100) -> list[ContactRow]:
    """Contacts matching ``search`` in the order they were added, from ``offset``."""
    select = _search(search).order_by(Contact.id).offset(max(offset, 0)).limit(max(limit, 0))
    return [_row(row) for row in select.tuples()]


def get_contact(phone: str) -> ContactRow | None:
    """The contact with this E.164 number, or ``None``."""
    row = Contact.select(*_COLUMNS).where(Contact.phone == phone).tuples().first()
    return _row(row) if row else None


def delivery_history(phone: str) -> list[DeliveryRecord]:
    """Every message of every campaign sent to ``phone``, newest campaign first."""
    select = (
        Message.select(
            Campaign.id, Campaign.name, Message.status, Message.reason, Message.updated_at
        )
        .join(Campaign, on=(Message.campaign == Campaign.id))
        .where(Message.phone == phone)
        .order_by(Campaign.id.desc(), Message.id.desc())
    )
    return [
        DeliveryRecord(int(cid), name or "", status, reason, updated)
        for cid, name, status, reason, updated in select.tuples()
    ]


def _pages(column: Field, batch: int) -> Iterator[tuple[str, str, Any]]:
    """Every contact as ``(phone, name, column)``, in id order, a page at a time (keyset paging:
    a million contacts cost a thousand cheap reads, never one that holds them all)."""
    after = 0
    while True:
        rows = list(
            Contact.select(Contact.id, Contact.phone, Contact.name, column)
            .where(Contact.id > after)
            .order_by(Contact.id)
            .limit(batch)
            .tuples()
        )
        if not rows:
            return
        for _, phone, name, value in rows:
            yield phone, name or "", value
        after = rows[-1][0]


def iter_contacts(batch: int = 1000) -> Iterator[tuple[str, str, bool]]:
    """Every contact as ``(phone, name, opted_out)``, in id order."""
    for phone, name, opted_out in _pages(Contact.opted_out, batch):
        yield phone, name, bool(opted_out)


def iter_audience(batch: int = 1000) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Every contact as ``(phone, name, attributes)``, in id order: a campaign's audience, its
    attributes for a personal message's fields."""
    for phone, name, attributes in _pages(Contact.attributes, batch):
        yield phone, name, decode_attributes(attributes)


# -- imports ---------------------------------------------------------------------------------


class _ImportSeen(BaseModel):
    """The numbers the running import has written: one connection's temporary table."""

    phone = CharField(max_length=32, primary_key=True)
    line = IntegerField(default=0)
    """The file's line that named the number first (0: not said)."""

    class Meta:
        table_name = "notify_import_seen"
        temporary = True


@dataclass(frozen=True, slots=True)
class ContactInput:
    """One valid line of an import: an E.164 number and what the file says about it.

    ``name`` is ``None`` when the file has no name column (the stored name is then kept).
    """

    phone: str
    name: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    line: int = 0
    """The line of the file it comes from, to name duplicates (0: not said)."""


@dataclass(frozen=True, slots=True)
class DuplicateLine:
    """A line of an import that repeats a number an earlier line named (the first one counts)."""

    line: int
    first_line: int
    phone: str


@dataclass
class ImportCounts:
    """What an import did to the workspace so far."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0


class ContactImport:
    """Writes an import's contacts a batch at a time; use through ``contact_import()``."""

    def __init__(self, keep_duplicates: int = 1000) -> None:
        self.counts = ImportCounts()
        self.duplicate_lines: list[DuplicateLine] = []
        """The first ``keep_duplicates`` duplicate lines, in the order they were found."""
        self._keep = keep_duplicates

    def _duplicate(self, item: ContactInput, first_line: int) -> None:
        self.counts.duplicates += 1
        if len(self.duplicate_lines) < self._keep:
            self.duplicate_lines.append(DuplicateLine(item.line, first_line, item.phone))

    def write(self, batch: Sequence[ContactInput], now: datetime | None = None) -> None:
        """Add or update the contacts of one batch, in one transaction."""
        now = now or utcnow()
        firsts: dict[str, ContactInput] = {}
        for item in batch:
            if item.phone in firsts:
                self._duplicate(item, firsts[item.phone].line)
            else:
                firsts[item.phone] = item
        with database.atomic():
            for start in range(0, len(firsts), _BATCH):
                chunk = list(firsts.values())[start : start + _BATCH]
                self._write_chunk(chunk, now)

    def _write_chunk(self, chunk: list[ContactInput], now: datetime) -> None:
        phones = [item.phone for item in chunk]
        seen: dict[str, int] = dict(
            _ImportSeen.select(_ImportSeen.phone, _ImportSeen.line)
            .where(_ImportSeen.phone.in_(phones))
            .tuples()
        )
        if seen:
            for item in chunk:
                if item.phone in seen:
                    self._duplicate(item, seen[item.phone])
            chunk = [item for item in chunk if item.phone not in seen]
            phones = [item.phone for item in chunk]
        if not chunk:
            return
        executemany(
            f'INSERT INTO "{_ImportSeen._meta.table_name}" ("phone", "line") VALUES ({{p}}, {{p}})',
            [(item.phone, item.line) for item in chunk],
        )
        existing = {
            phone: (contact_id, name or "", attributes)
            for contact_id, phone, name, attributes in Contact.select(
                Contact.id, Contact.phone, Contact.name, Contact.attributes
            )
            .where(Contact.phone.in_(phones))
            .tuples()
        }
        new_rows: list[tuple[object, ...]] = []
        stamp = Contact.created_at.db_value(now)
        for item in chunk:
            found = existing.get(item.phone)
            if found is None:
                encoded = encode_attributes(item.attributes)
                name = item.name or ""
                new_rows.append((item.phone, name, folded_name(name), encoded, stamp, stamp, False))
                continue
            contact_id, old_name, old_json = found
            old_attributes = decode_attributes(old_json)
            # Blank cells never erase what is known: only non-empty values are in the input.
            name = item.name if item.name else old_name
            attributes = {**old_attributes, **item.attributes}
            if name == old_name and attributes == old_attributes:
                self.counts.unchanged += 1
                continue
            Contact.update(
                name=name,
                name_folded=folded_name(name),
                attributes=encode_attributes(attributes),
                updated_at=now,
            ).where(Contact.id == contact_id).execute()
            self.counts.updated += 1
        if new_rows:
            # A concurrent writer may have added one of these since the select: ignore it.
            inserted = executemany(INSERT_CONTACT, new_rows)
            self.counts.imported += inserted
            self.counts.unchanged += len(new_rows) - inserted


@contextmanager
def contact_import(keep_duplicates: int = 1000) -> Iterator[ContactImport]:
    """An import in progress: call ``write`` with each batch; the counts add up across batches
    (and the first ``keep_duplicates`` duplicate lines are kept, to name them)."""
    _ImportSeen.drop_table(safe=True)
    _ImportSeen.create_table(safe=True)
    try:
        yield ContactImport(keep_duplicates)
    finally:
        _ImportSeen.drop_table(safe=True)
