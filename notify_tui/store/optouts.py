"""Opt-outs belong to the contact (the phone number), and every change is kept as an audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from peewee import PostgresqlDatabase, fn

from notify_tui.errors import NotifyError
from notify_tui.store.bulk import INSERT_CONTACT, executemany
from notify_tui.store.campaigns import contains, name_contains
from notify_tui.store.models import Contact, OptOutEvent, database, utcnow

SOURCE_MANUAL = "manual"
SOURCE_POLICY = "policy"
SOURCE_PROVIDER = "provider"
"""The person replied STOP (code 21610): only they can undo it, by replying START."""

SOURCE_LABELS = {
    SOURCE_MANUAL: "manual",
    SOURCE_POLICY: "policy",
    SOURCE_PROVIDER: "provider (STOP)",
}


class OptInRefused(NotifyError):
    """The number cannot be opted back in by the app; the message says why."""


@dataclass(frozen=True, slots=True)
class OptOutRecord:
    """An opted-out number as the Opt-outs screen and ``notify-tui optouts`` show it."""

    phone: str
    name: str
    source: str
    reason: str
    actor: str
    opted_out_at: datetime | None
    contact_id: int = 0
    """With ``opted_out_at``, where it sits in the list: ``list_optouts(after=...)``."""


@dataclass(frozen=True, slots=True)
class OptOutRequest:
    """One number to opt out, with why and from where (see ``opt_out``)."""

    phone: str
    source: str
    reason: str
    actor: str
    campaign_id: int | None = None
    code: int | None = None
    evidence: Mapping[str, object] | None = None


def opt_out(
    phone: str,
    *,
    source: str,
    reason: str,
    actor: str,
    campaign_id: int | None = None,
    code: int | None = None,
    evidence: Mapping[str, object] | None = None,
    now: datetime | None = None,
) -> bool:
    """Opt ``phone`` (E.164) out; ``False`` when it already was (nothing recorded then)."""
    request = OptOutRequest(phone, source, reason, actor, campaign_id, code, evidence)
    return bool(opt_out_many([request], now))


def opt_out_many(requests: Sequence[OptOutRequest], now: datetime | None = None) -> set[str]:
    """Opt these numbers out in one transaction; returns the numbers that changed.

    A number already opted out is left alone, except that a STOP from the person (source
    ``provider``) outranks an earlier manual or policy opt-out and is recorded too. The first
    request for a number wins. A handful of statements per 500 numbers, whatever their count:
    the opt-out policy can act on thousands of numbers in one poll cycle.
    """
    now = now or utcnow()
    first: dict[str, OptOutRequest] = {}
    for request in requests:
        first.setdefault(request.phone, request)
    changed: set[str] = set()
    wanted = list(first)
    with database.atomic():
        for start in range(0, len(wanted), _CHUNK):
            chunk = [first[phone] for phone in wanted[start : start + _CHUNK]]
            changed |= _opt_out_chunk(chunk, now)
    return changed


_CHUNK = 500

_INSERT_EVENT = (
    f'INSERT INTO "{OptOutEvent._meta.table_name}" ("contact_id", "phone", "action", "source", '
    '"reason", "actor", "campaign_id", "code", "evidence", "created_at") '
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
)


def _opt_out_chunk(chunk: list[OptOutRequest], now: datetime) -> set[str]:
    phones = [request.phone for request in chunk]
    stamp = Contact.created_at.db_value(now)
    executemany(INSERT_CONTACT, [(phone, "", None, "{}", stamp, stamp, False) for phone in phones])
    select = Contact.select(Contact.id, Contact.phone, Contact.opted_out, Contact.opt_out_source)
    select = select.where(Contact.phone.in_(phones))
    if isinstance(database.obj, PostgresqlDatabase):
        select = select.for_update()  # another poller judging the same numbers waits here
    current = {phone: (cid, out, source) for cid, phone, out, source in select.tuples()}
    todo: list[tuple[int, OptOutRequest]] = []
    for request in chunk:
        contact_id, opted_out, source = current[request.phone]
        outranks = request.source == SOURCE_PROVIDER and source != SOURCE_PROVIDER
        if not opted_out or outranks:
            todo.append((contact_id, request))
    # One UPDATE per distinct (source, reason, actor): a cycle's opt-outs share a few reasons.
    groups: dict[tuple[str, str, str], list[int]] = {}
    for contact_id, request in todo:
        groups.setdefault((request.source, request.reason, request.actor), []).append(contact_id)
    for (source, reason, actor), ids in groups.items():
        Contact.update(
            opted_out=True,
            opt_out_source=source,
            opt_out_reason=reason,
            opted_out_at=now,
            opted_out_by=actor,
            updated_at=now,
        ).where(Contact.id.in_(ids)).execute()
    executemany(
        _INSERT_EVENT,
        [
            (
                contact_id,
                request.phone,
                "opt_out",
                request.source,
                request.reason,
                request.actor,
                request.campaign_id,
                request.code,
                json.dumps(dict(request.evidence or {}), default=str),
                stamp,
            )
            for contact_id, request in todo
        ],
    )
    return {request.phone for _, request in todo}


def opt_in(phone: str, *, actor: str, reason: str = "", now: datetime | None = None) -> bool:
    """Undo an opt-out; ``False`` when the number was not opted out.

    Raises ``OptInRefused`` when the person opted out themselves (STOP).
    """
    now = now or utcnow()
    with database.atomic():
        contact = Contact.get_or_none(Contact.phone == phone)
        if contact is None or not contact.opted_out:
            return False
        if contact.opt_out_source == SOURCE_PROVIDER:
            raise OptInRefused(
                f"{phone} replied STOP: the provider refuses every message to it until the "
                "person replies START. Only they can opt back in."
            )
        Contact.update(
            opted_out=False,
            opt_out_source=None,
            opt_out_reason=None,
            opted_out_at=None,
            opted_out_by=None,
            updated_at=now,
        ).where(Contact.id == contact.id).execute()
        OptOutEvent.create(
            contact=contact.id,
            phone=phone,
            action="opt_in",
            source=SOURCE_MANUAL,
            reason=reason,
            actor=actor,
            created_at=now,
        )
    return True


def opted_out_phones(phones: Iterable[str]) -> set[str]:
    """Which of ``phones`` are opted out."""
    found: set[str] = set()
    batch: list[str] = []
    for phone in phones:
        batch.append(phone)
        if len(batch) == 500:
            found |= _opted_out(batch)
            batch = []
    if batch:
        found |= _opted_out(batch)
    return found


def _opted_out(phones: list[str]) -> set[str]:
    select = Contact.select(Contact.phone).where(Contact.phone.in_(phones) & Contact.opted_out)
    return {row[0] for row in select.tuples()}


def _opted_out_matching(search: str, source: str = "") -> Any:
    # Written as the partial index's own condition, so that SQLite walks it in order.
    condition: Any = Contact.opted_out
    if source:
        condition &= Contact.opt_out_source == source
    if search.strip():
        condition &= contains(Contact.phone, search) | name_contains(
            Contact.name, Contact.name_folded, search
        )
    return condition


def optout_counts(search: str = "") -> dict[str, int]:
    """How many opted-out numbers match ``search``, by source (``manual``, ``policy``,
    ``provider``)."""
    select = (
        Contact.select(Contact.opt_out_source, fn.COUNT(Contact.id))
        .where(_opted_out_matching(search))
        .group_by(Contact.opt_out_source)
    )
    return {source or "": int(n) for source, n in select.tuples()}


def list_optouts(
    search: str = "",
    offset: int = 0,
    limit: int | None = None,
    *,
    source: str = "",
    after: OptOutRecord | None = None,
) -> list[OptOutRecord]:
    """Opted-out numbers, most recent first, optionally of one source and matching a number or
    name part; a page of them with ``offset`` and ``limit``.

    ``after`` starts the page after that record (by opt-out time, then id) rather than at
    ``offset``: it reads only the rows it returns, and a number opted out meanwhile can't shift
    a row into the page, which would show it twice or skip another. (Every opted-out contact
    has its opt-out time.)
    """
    condition = _opted_out_matching(search, source)
    if after is not None:
        at = Contact.opted_out_at
        condition &= (at < after.opted_out_at) | (
            (at == after.opted_out_at) & (Contact.id < after.contact_id)
        )
    select = _optouts_select(condition).offset(offset)
    if limit is not None:
        select = select.limit(limit)
    return [_record(row) for row in select.tuples()]


def iter_optouts(search: str = "", *, source: str = "", page: int = 5000) -> Iterator[OptOutRecord]:
    """Every matching opted-out number, newest first, read a page at a time (each after the
    last record of the one before)."""
    last: OptOutRecord | None = None
    while True:
        records = list_optouts(search, 0, page, source=source, after=last)
        yield from records
        if len(records) < page:
            return
        last = records[-1]


def _optouts_select(condition):  # type: ignore[no-untyped-def]
    return (
        Contact.select(
            Contact.phone,
            Contact.name,
            Contact.opt_out_source,
            Contact.opt_out_reason,
            Contact.opted_out_by,
            Contact.opted_out_at,
            Contact.id,
        )
        .where(condition)
        .order_by(Contact.opted_out_at.desc(), Contact.id.desc())
    )


def _record(row: tuple[Any, ...]) -> OptOutRecord:
    phone, name, source, reason, actor, at, contact_id = row
    return OptOutRecord(phone, name or "", source or "", reason or "", actor or "", at, contact_id)


def opt_out_history(phone: str) -> list[OptOutEvent]:
    """Every opt-out and opt-in of ``phone``, oldest first."""
    return list(OptOutEvent.select().where(OptOutEvent.phone == phone).order_by(OptOutEvent.id))
