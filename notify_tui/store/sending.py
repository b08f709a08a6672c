"""Recording a campaign's recipients before anything is sent, and the queue of what to submit.

Every message is written before it is submitted, so a crash at any point leaves a record of
what may have gone out; ``(campaign, phone)`` is unique, so no number can be queued twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from peewee import Field, PostgresqlDatabase, fn

from notify_tui.domain.numbers import NumberProfile
from notify_tui.domain.status import UNSENT, Reason, SendState, Status
from notify_tui.domain.text import folded_name
from notify_tui.store import counters, insights
from notify_tui.store.bulk import INSERT_CONTACT, executemany
from notify_tui.store.counters import CounterDelta
from notify_tui.store.models import Contact, Message, database, utcnow
from notify_tui.store.optouts import opted_out_phones

_BATCH = 500


@dataclass(frozen=True, slots=True)
class NewRecipient:
    """A recipient to add: a valid E.164 number, or the raw input and why it is invalid."""

    phone: str
    name: str = ""
    invalid_reason: str | None = None
    attributes: Mapping[str, str] | None = None
    """The contact's attribute columns, for a personal message's fields."""
    body: str | None = None
    """This recipient's own text (a personal message), or ``None``: the campaign's body."""


@dataclass(frozen=True, slots=True)
class AddedRecipients:
    """What ``add_recipients`` did."""

    queued: int
    invalid: int
    skipped_opted_out: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class Submission:
    """A message waiting to be (or being) submitted to the provider."""

    message_id: int
    phone: str
    send_state: SendState
    attempted_at: datetime | None
    attempt_deadline: datetime | None = None
    body: str | None = None
    """The recipient's own text, or ``None``: the campaign's body."""


def _contact_ids(phones: Sequence[str], names: dict[str, str], now: datetime) -> dict[str, int]:
    ids: dict[str, int] = {}
    stamp = Contact.created_at.db_value(now)
    for start in range(0, len(phones), _BATCH):
        chunk = phones[start : start + _BATCH]
        executemany(
            INSERT_CONTACT,
            [
                (p, name, folded_name(name), "{}", stamp, stamp, False)
                for p in chunk
                for name in (names.get(p, ""),)
            ],
        )
        select = Contact.select(Contact.phone, Contact.id, Contact.opted_out).where(
            Contact.phone.in_(chunk)
        )
        for phone, contact_id, opted_out in select.tuples():
            ids[phone] = -contact_id if opted_out else contact_id
    return ids


_INSERT_MESSAGE = (
    f'INSERT INTO "{Message._meta.table_name}" ("campaign_id", "contact_id", "phone", "name", '
    '"send_state", "status", "reason", "detail", "updated_at", "resolved_at", "body", '
    '"name_folded", "profile_id", "polls") '
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, 0)"
)


def add_recipients(
    campaign_id: int, recipients: Iterable[NewRecipient], now: datetime | None = None
) -> AddedRecipients:
    """Queue valid numbers (skipping opted-out ones) and record invalid ones as Failed."""
    now = now or utcnow()
    seen: set[str] = set()
    valid: list[NewRecipient] = []
    invalid: list[NewRecipient] = []
    duplicates = 0
    for recipient in recipients:
        if recipient.phone in seen:
            duplicates += 1
            continue
        seen.add(recipient.phone)
        (invalid if recipient.invalid_reason else valid).append(recipient)
    with database.atomic():
        existing = {
            row[0]
            for row in Message.select(Message.phone).where(Message.campaign == campaign_id).tuples()
        }
        duplicates += sum(1 for r in valid + invalid if r.phone in existing)
        valid = [r for r in valid if r.phone not in existing]
        invalid = [r for r in invalid if r.phone not in existing]
        names = {r.phone: r.name for r in valid}
        contact_ids = _contact_ids([r.phone for r in valid], names, now)
        del names
        # Written a batch at a time as they are built: a million rows never sit in memory.
        rows: list[tuple[object, ...]] = []
        written = queued = skipped = 0
        stamp = Message.updated_at.db_value(now)

        profiles: dict[NumberProfile, int] = {}

        def write(final: bool = False) -> None:
            nonlocal rows, written
            if rows and (final or len(rows) >= _BATCH):
                # Each number's region, carrier and line type, found once now: breakdowns
                # never parse numbers (store.insights).
                phones = [str(row[2]) for row in rows]
                ids = insights.profile_ids(phones, profiles)
                executemany(
                    _INSERT_MESSAGE,
                    [(*row, ids[phone]) for row, phone in zip(rows, phones, strict=True)],
                )
                insights.record_new(
                    campaign_id,
                    (
                        (ids[phone], str(row[5]), None if row[6] is None else str(row[6]), None)
                        for row, phone in zip(rows, phones, strict=True)
                    ),
                )
                written += len(rows)
                rows = []

        pending, unknown = SendState.PENDING.value, Status.UNKNOWN.value
        for r in valid:
            contact_id = contact_ids[r.phone]
            if contact_id < 0:
                skipped += 1
                continue
            queued += 1
            write()
            rows.append(
                (
                    campaign_id,
                    contact_id,
                    r.phone,
                    r.name,
                    pending,
                    unknown,
                    None,
                    None,
                    stamp,
                    None,
                    r.body,
                    folded_name(r.name),
                )
            )
        failed, invalid_number = Status.FAILED.value, Reason.INVALID_NUMBER.value
        for r in invalid:
            write()
            rows.append(
                (
                    campaign_id,
                    None,
                    r.phone,
                    r.name,
                    SendState.INVALID.value,
                    failed,
                    invalid_number,
                    r.invalid_reason,
                    stamp,
                    stamp,
                    r.body,
                    folded_name(r.name),
                )
            )
        write(final=True)
        counters.apply(
            campaign_id,
            CounterDelta(
                recipients=written,
                unknown=queued,
                failed=len(invalid),
                skipped_opted_out=skipped,
            ),
        )
    return AddedRecipients(queued, len(invalid), skipped, duplicates)


def to_submit(
    campaign_id: int, limit: int, after_id: int = 0, now: datetime | None = None
) -> list[Submission]:
    """Messages of the campaign not yet known to the provider, in id order after ``after_id``;
    with ``now``, none held by quiet hours past it."""
    held = Message.held_until.is_null() | (Message.held_until <= now) if now else True
    select = (
        Message.select(
            Message.id,
            Message.phone,
            Message.send_state,
            Message.attempted_at,
            Message.attempt_deadline,
            Message.body,
        )
        .where(
            (Message.campaign == campaign_id)
            & Message.send_state.in_(UNSENT)
            & (Message.id > after_id)
            & held
        )
        .order_by(Message.id)
        .limit(limit)
    )
    return [
        Submission(m, phone, SendState(state), at, deadline, body)
        for m, phone, state, at, deadline, body in select.tuples()
    ]


def mark_attempting(
    message_ids: Sequence[int], now: datetime | None = None, deadline: datetime | None = None
) -> None:
    """Record that a create is about to be sent: from now on its outcome must be looked up.

    ``deadline``: by when its answer is due. The sender sends no request for it that could be
    answered later: it moves the deadline first (``extend_attempts``).
    """
    if message_ids:
        Message.update(
            send_state=SendState.ATTEMPTING, attempted_at=now or utcnow(), attempt_deadline=deadline
        ).where(
            Message.id.in_(list(message_ids)) & (Message.send_state == SendState.PENDING)
        ).execute()


def extend_attempts(message_ids: Sequence[int], deadline: datetime) -> None:
    """Move the deadline of ``attempting`` messages to ``deadline``, before a late request."""
    ids = list(message_ids)
    for start in range(0, len(ids), _BATCH):
        Message.update(attempt_deadline=deadline).where(
            Message.id.in_(ids[start : start + _BATCH])
            & (Message.send_state == SendState.ATTEMPTING)
        ).execute()


def mark_needs_review(notes: Sequence[tuple[int, str]], now: datetime | None = None) -> None:
    """Leave ``attempting`` messages ``needs_review``, with why (``(message_id, note)``): their
    lookup could not prove which provider message, if any, is theirs. They stay Unknown."""
    now = now or utcnow()
    for message_id, note in notes:
        Message.update(send_state=SendState.NEEDS_REVIEW, note=note, updated_at=now).where(
            (Message.id == message_id) & (Message.send_state == SendState.ATTEMPTING)
        ).execute()


# -- submitting (used by services.sender) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    """Messages just marked ``attempting``, and those skipped because their number opted out."""

    messages: list[tuple[int, str]]
    """``(message_id, phone)`` of each message now ``attempting``, in id order."""
    attempted_at: datetime
    skipped_opted_out: int
    bodies: dict[int, str] = field(default_factory=dict)
    """The own text of each claimed message that has one (a personal message)."""
    held: int = 0
    """Messages left pending because their recipient is inside quiet hours (``held_until``)."""


HoldRule = Callable[[str], "tuple[datetime, str] | None"]
"""When a recipient (their number) may be texted, if not now (naive UTC), and how to say so
(``held until 08:00 America/Chicago``): quiet hours."""


def claim_for_submit(
    campaign_id: int,
    message_ids: Sequence[int],
    now: datetime | None = None,
    deadline: datetime | None = None,
    hold: HoldRule | None = None,
) -> Claimed:
    """Mark pending messages ``attempting`` just before their creates are sent.

    A message whose number opted out since the campaign was prepared is not sent: it leaves
    the campaign as if it had been skipped when the campaign was prepared (its row is removed,
    the counters move from Unknown to skipped). Messages no longer pending are left alone.
    ``hold`` (quiet hours) leaves a message pending with its ``held_until``, in the same
    transaction: a crash never loses a hold, and the message is claimed once it has passed.
    """
    now = now or utcnow()
    claimed: list[tuple[int, str]] = []
    bodies: dict[int, str] = {}
    skipped: list[int] = []
    held: list[tuple[int, tuple[datetime, str]]] = []
    with database.atomic():
        for start in range(0, len(message_ids), _BATCH):
            chunk = list(message_ids[start : start + _BATCH])
            rows = list(
                Message.select(Message.id, Message.phone, Message.body)
                .where(
                    Message.id.in_(chunk)
                    & (Message.campaign == campaign_id)
                    & (Message.send_state == SendState.PENDING)
                )
                .order_by(Message.id)
                .tuples()
            )
            opted = opted_out_phones(phone for _, phone, _ in rows)
            skipped.extend(message_id for message_id, phone, _ in rows if phone in opted)
            rows = [row for row in rows if row[1] not in opted]
            if hold is not None:
                waits = {m: wait for m, p, _ in rows if (wait := hold(p)) is not None}
                held.extend(waits.items())
                rows = [row for row in rows if row[0] not in waits]
            claimed.extend((m, p) for m, p, _ in rows)
            bodies.update((m, b) for m, _, b in rows if b is not None)
        by_time: dict[tuple[datetime, str], list[int]] = {}
        for message_id, hold_ in held:
            by_time.setdefault(hold_, []).append(message_id)
        for (until, why), ids in by_time.items():
            for start in range(0, len(ids), _BATCH):
                Message.update(held_until=until, note=why).where(
                    Message.id.in_(ids[start : start + _BATCH])
                ).execute()
        insights.forget(skipped)
        for start in range(0, len(skipped), _BATCH):
            Message.delete().where(Message.id.in_(skipped[start : start + _BATCH])).execute()
        if skipped:
            n = len(skipped)
            counters.apply(
                campaign_id, CounterDelta(recipients=-n, unknown=-n, skipped_opted_out=n)
            )
        ids = [m for m, _ in claimed]
        for start in range(0, len(ids), _BATCH):
            mark_attempting(ids[start : start + _BATCH], now, deadline)
            # A hold that has ended: its note goes with it.
            Message.update(held_until=None, note=None).where(
                Message.id.in_(ids[start : start + _BATCH]) & Message.held_until.is_null(False)
            ).execute()
    return Claimed(claimed, now, len(skipped), bodies, len(held))


def next_held(campaign_id: int) -> datetime | None:
    """When the first recipient of the campaign held by quiet hours may be texted, if any."""
    row = (
        Message.select(Message.held_until)
        .where(
            (Message.campaign == campaign_id)
            & (Message.send_state == SendState.PENDING)
            & Message.held_until.is_null(False)
        )
        .order_by(Message.held_until)
        .first()
    )
    return None if row is None else row.held_until


def held_count(campaign_id: int, now: datetime) -> int:
    """Pending messages of the campaign held by quiet hours past ``now``."""
    return int(
        Message.select()
        .where(
            (Message.campaign == campaign_id)
            & (Message.send_state == SendState.PENDING)
            & (Message.held_until > now)
        )
        .count()
    )


def release_to_pending(message_ids: Sequence[int]) -> None:
    """Put ``attempting`` messages back to ``pending``: their creates certainly made nothing."""
    ids = list(message_ids)
    for start in range(0, len(ids), _BATCH):
        Message.update(send_state=SendState.PENDING).where(
            Message.id.in_(ids[start : start + _BATCH])
            & (Message.send_state == SendState.ATTEMPTING)
        ).execute()


def count_submitted(campaign_id: int, submitted: int) -> None:
    """Add ``submitted`` messages the provider accepted to the campaign's counter."""
    counters.apply(campaign_id, CounterDelta(submitted=submitted))


def send_state_counts(campaign_id: int) -> dict[SendState, int]:
    """How many messages of the campaign are in each send state."""
    select = (
        Message.select(Message.send_state, fn.COUNT(Message.id))
        .where(Message.campaign == campaign_id)
        .group_by(Message.send_state)
    )
    return {SendState(state): int(count) for state, count in select.tuples()}


def linked_sids(sids: Iterable[str], except_message_id: int | None = None) -> set[str]:
    """Which of ``sids`` already belong to a message (other than ``except_message_id``)."""
    wanted = [s for s in sids if s]
    found: set[str] = set()
    for start in range(0, len(wanted), _BATCH):
        condition = Message.sid.in_(wanted[start : start + _BATCH])
        if except_message_id is not None:
            condition &= Message.id != except_message_id
        found |= {row[0] for row in Message.select(Message.sid).where(condition).tuples()}
    return found


def sid_holders(links: Sequence[tuple[int, str]]) -> dict[int, int]:
    """Of ``(message_id, sid)`` pairs about to be linked, those whose SID another message holds
    already, or an earlier pair of the same batch claims: ``message_id`` -> the holder's id."""
    holders: dict[str, int] = {}
    wanted = sorted({sid for _, sid in links if sid})
    for start in range(0, len(wanted), _BATCH):
        condition = Message.sid.in_(wanted[start : start + _BATCH])
        holders.update(dict(Message.select(Message.sid, Message.id).where(condition).tuples()))
    taken: dict[int, int] = {}
    for message_id, sid in links:
        holder = holders.setdefault(sid, message_id)
        if holder != message_id:
            taken[message_id] = holder
    return taken


_LOCK_NAMESPACE = "notify-tui send "
"""PostgreSQL advisory locks of campaign sends: ``(hashtext(namespace || schema), campaign id)``.
Advisory locks are database-wide: the schema keeps workspaces in two schemas of one database
from locking each other's campaigns."""
_lock_files: dict[tuple[str, int], int] = {}


def try_lock_campaign(campaign_id: int) -> bool:
    """Take the exclusive right to send a campaign; ``False`` when another process holds it.

    The lock dies with the process (or its connection), so a crashed sender never blocks the
    resume. PostgreSQL: a session advisory lock on this thread's connection. SQLite: a lock on a
    file beside the database.
    """
    db = database.obj
    if isinstance(db, PostgresqlDatabase):
        row = db.execute_sql(
            "SELECT pg_try_advisory_lock(hashtext(%s || current_schema()), %s)",
            (_LOCK_NAMESPACE, campaign_id),
        ).fetchone()
        return bool(row and row[0])
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock beyond the database's own
        return True

    path = f"{db.database}.send-{campaign_id}.lock"
    key = (path, campaign_id)
    if key in _lock_files:
        return False
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(handle)
        return False
    _lock_files[key] = handle
    return True


def unlock_campaign(campaign_id: int) -> None:
    """Give up the right to send a campaign (taken on this thread's connection)."""
    db = database.obj
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(
            "SELECT pg_advisory_unlock(hashtext(%s || current_schema()), %s)",
            (_LOCK_NAMESPACE, campaign_id),
        )
        return
    path = f"{db.database}.send-{campaign_id}.lock"
    handle = _lock_files.pop((path, campaign_id), None)
    if handle is not None:
        os.close(handle)


@dataclass(frozen=True, slots=True)
class Submitted:
    """A create the provider accepted, its message still Unknown (queued, sending, sent...)."""

    message_id: int
    sid: str
    provider_status: str | None
    num_segments: int | None
    date_sent: datetime | None
    next_poll_at: datetime
    note: str | None = None
    """What the user should know of the answer (a provider fault in its values)."""


def record_submitted(rows: Sequence[Submitted], now: datetime | None = None) -> int:
    """Link accepted creates to their messages: SID, raw status, ``submitted``, next poll.

    The bulk path for the common answer to a create (no status change, no price yet, so no
    counter moves): one prepared statement for the whole batch. Anything that resolves a
    message or carries a price goes through ``updates.apply_updates`` instead. Only messages
    still Unknown are touched. Answers how many messages changed.
    """
    if not rows:
        return 0
    now = now or utcnow()
    param = database.param
    columns: list[Field] = [
        Message.sid,
        Message.provider_status,
        Message.num_segments,
        Message.date_sent,
        Message.next_poll_at,
        Message.updated_at,
        Message.note,
    ]
    assignments = ", ".join(f'"{f.column_name}" = {param}' for f in columns)
    sql = (
        f'UPDATE "{Message._meta.table_name}" SET {assignments}, "send_state" = {param}, '
        f'"lease_owner" = NULL, "lease_until" = NULL WHERE "id" = {param} AND "status" = {param}'
    )
    updated_at = Message.updated_at.db_value(now)
    params = [
        (
            row.sid,
            row.provider_status,
            row.num_segments,
            Message.date_sent.db_value(row.date_sent),
            Message.next_poll_at.db_value(row.next_poll_at),
            updated_at,
            row.note,
            SendState.SUBMITTED.value,
            row.message_id,
            Status.UNKNOWN.value,
        )
        for row in rows
    ]
    with database.atomic():
        cursor = database.cursor()
        cursor.executemany(sql, params)
        return int(cursor.rowcount)
