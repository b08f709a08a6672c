"""Leases on Unknown messages, so that any number of pollers never work the same message twice.

A poller claims due messages for a while (its lease). It answers for them with
``updates.apply_updates``, which clears the lease; a poller that dies simply lets its leases
expire, and another picks the work up. On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED``;
SQLite has a single writer, and its ``BEGIN IMMEDIATE`` serialises claims.

Listing the provider's pages of one sender (a *sweep*) is leased too, so that two pollers never
read the same pages: while one sweeps a sender, the others leave that sender's messages alone
(``claim_due`` skips them), and the sweeper answers for every Unknown message its pages show
(``claim_listed``). A sweep's lease lives in ``schema_info`` under ``poll-sweep:<sender>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import Case, PostgresqlDatabase, fn

from notify_tui.domain.polling import POLL_WINDOW
from notify_tui.domain.status import NO_RECEIPT_NOTE, Status
from notify_tui.store.models import Campaign, Message, SchemaInfo, database, utcnow
from notify_tui.store.updates import CURRENT_SELECT

EVERY_SENDER = "*"
"""The sweep of a listing without a ``From`` filter (Messaging Service sends): it may show any
sender's messages, so it excludes, and is excluded by, every other sweep."""

_SWEEP_PREFIX = "poll-sweep:"
_BATCH = 500


@dataclass(frozen=True, slots=True)
class PollTask:
    """A message a poller holds the lease on."""

    message_id: int
    campaign_id: int
    sid: str
    phone: str
    sender: str | None
    messaging_service_sid: str | None
    attempted_at: datetime | None
    date_sent: datetime | None


def _due(now: datetime, campaign_id: int | None):  # type: ignore[no-untyped-def]
    condition = (
        (Message.next_poll_at <= now)
        & (Message.status == Status.UNKNOWN.value)
        & Message.sid.is_null(False)
        & (Message.lease_until.is_null() | (Message.lease_until < now))
    )
    if campaign_id is not None:
        condition &= Message.campaign == campaign_id
    return condition


def _campaigns_of(senders: Iterable[str | None]):  # type: ignore[no-untyped-def]
    """The campaigns sent from these senders (``None``: through a Messaging Service)."""
    numbers = sorted(s for s in senders if s is not None and s != EVERY_SENDER)
    condition = Campaign.messaging_service_sid.is_null() & Campaign.sender.in_(numbers)
    if any(s is None or s == EVERY_SENDER for s in senders):
        condition |= Campaign.messaging_service_sid.is_null(False)
    return Campaign.select(Campaign.id).where(condition)


def _claimable(owner: str, now: datetime, campaign_id: int | None):  # type: ignore[no-untyped-def]
    """Due messages no other poller holds, nor sweeps the sender of; ``None`` when another
    poller sweeps every sender."""
    condition = _due(now, campaign_id)
    swept = _sweeps(now, exclude_owner=owner)
    if EVERY_SENDER in swept:
        return None
    if swept:
        # Another poller is reading these senders' pages: it answers for their messages.
        condition &= Message.campaign.not_in(_campaigns_of(swept))
    return condition


def due_by_sender(
    owner: str, *, limit: int, now: datetime | None = None, campaign_id: int | None = None
) -> dict[str | None, int]:
    """How the next ``limit`` messages ``claim_due`` would lease split between senders
    (``None``: Messaging Service sends), without leasing anything."""
    now = now or utcnow()
    condition = _claimable(owner, now, campaign_id)
    if condition is None:
        return {}
    next_due = (
        Message.select(Message.campaign)
        .where(condition)
        .order_by(Message.next_poll_at)
        .limit(limit)
    )
    per_campaign: dict[int, int] = {}
    for (campaign,) in next_due.tuples():
        per_campaign[campaign] = per_campaign.get(campaign, 0) + 1
    counts: dict[str | None, int] = {}
    ids = list(per_campaign)
    for start in range(0, len(ids), _BATCH):
        senders = Campaign.select(Campaign.id, Campaign.sender, Campaign.messaging_service_sid)
        for campaign, sender, service in senders.where(
            Campaign.id.in_(ids[start : start + _BATCH])
        ).tuples():
            key = None if service else sender
            counts[key] = counts.get(key, 0) + per_campaign[campaign]
    return counts


def claim_due(
    owner: str,
    *,
    limit: int,
    lease_for: timedelta = timedelta(seconds=60),
    now: datetime | None = None,
    campaign_id: int | None = None,
    senders: Sequence[str | None] | None = None,
) -> list[PollTask]:
    """Lease up to ``limit`` messages that are due for a look, oldest due first (only those
    sent from ``senders``, when given; ``None`` among them: Messaging Service sends).

    Messages whose sender another poller is sweeping are left to that poller.
    """
    now = now or utcnow()
    until = now + lease_for
    with database.atomic():
        condition = _claimable(owner, now, campaign_id)
        if condition is None:
            return []
        if senders is not None:
            condition &= Message.campaign.in_(_campaigns_of(senders))
        candidates = (
            Message.select(Message.id).where(condition).order_by(Message.next_poll_at).limit(limit)
        )
        if isinstance(database.obj, PostgresqlDatabase):
            candidates = candidates.for_update("FOR UPDATE SKIP LOCKED")
        ids = [row[0] for row in candidates.tuples()]
        if not ids:
            return []
        Message.update(lease_owner=owner, lease_until=until).where(
            Message.id.in_(ids) & condition
        ).execute()
        rows = (
            Message.select(
                Message.id,
                Message.campaign,
                Message.sid,
                Message.phone,
                Campaign.sender,
                Campaign.messaging_service_sid,
                Message.attempted_at,
                Message.date_sent,
            )
            .join(Campaign)
            .where(Message.id.in_(ids) & (Message.lease_owner == owner))
            .order_by(Message.id)
            .tuples()
        )
        return [PollTask(*row) for row in rows]


def release(owner: str, message_ids: Sequence[int]) -> None:
    """Give back leases without an answer (the poller is stopping)."""
    ids = list(message_ids)
    for start in range(0, len(ids), _BATCH):
        Message.update(lease_owner=None, lease_until=None).where(
            Message.id.in_(ids[start : start + _BATCH]) & (Message.lease_owner == owner)
        ).execute()


def renew(owner: str, message_ids: Sequence[int], until: datetime) -> int:
    """Extend the leases ``owner`` still holds on these messages; answers how many it holds."""
    ids = list(message_ids)
    held = 0
    with database.atomic():
        for start in range(0, len(ids), _BATCH):
            held += (
                Message.update(lease_until=until)
                .where(
                    Message.id.in_(ids[start : start + _BATCH])
                    & (Message.lease_owner == owner)
                    & (Message.status == Status.UNKNOWN.value)
                )
                .execute()
            )
    return held


@dataclass(frozen=True, slots=True)
class ListedMessage:
    """An Unknown message a page of the provider's listing showed, now the poller's to answer."""

    message_id: int
    sid: str
    attempted_at: datetime | None
    current: tuple[object, ...]
    """Its row as ``updates.apply_updates`` reads it (``CURRENT_COLUMNS``): pass it on."""


def claim_listed(
    owner: str, sids: Iterable[str], now: datetime | None = None
) -> list[ListedMessage]:
    """The messages with these SIDs that are still Unknown, being polled, and not leased by
    another poller. Call it inside the transaction that applies their answers: on PostgreSQL
    the rows stay locked until it commits, and SQLite's writer lock covers the whole of it.
    Each comes with its row for ``apply_updates(current=...)``, which need not read it again."""
    now = now or utcnow()
    wanted = [sid for sid in sids if sid]
    found: list[ListedMessage] = []
    param = database.param
    postgres = isinstance(database.obj, PostgresqlDatabase)
    attempted = Message.attempted_at.python_value
    for start in range(0, len(wanted), _BATCH):
        chunk = wanted[start : start + _BATCH]
        # Raw SQL: this runs for every page of a sweep, a thousand SIDs each.
        sql = (
            f'SELECT "sid", "attempted_at", {CURRENT_SELECT} FROM "{Message._meta.table_name}" '
            f'WHERE "sid" IN ({", ".join(param for _ in chunk)}) AND "status" = {param} '
            'AND "next_poll_at" IS NOT NULL '
            f'AND ("lease_owner" IS NULL OR "lease_owner" = {param} OR "lease_until" < {param})'
        )
        if postgres:
            sql += ' ORDER BY "id" FOR UPDATE SKIP LOCKED'
        args = [*chunk, Status.UNKNOWN.value, owner, Message.lease_until.db_value(now)]
        for sid, at, *current in database.execute_sql(sql, args).fetchall():
            found.append(ListedMessage(current[0], sid, attempted(at), tuple(current)))
    return found


# -- sweeps: who reads which sender's pages ------------------------------------------------------


def _sweep_key(sender: str | None) -> str:
    return _SWEEP_PREFIX + (EVERY_SENDER if sender is None else sender)


def _sweeps(now: datetime, exclude_owner: str | None = None) -> dict[str, str]:
    """Senders (``EVERY_SENDER`` for all) whose pages a live sweep holds, and by whom."""
    held: dict[str, str] = {}
    rows = SchemaInfo.select(SchemaInfo.key, SchemaInfo.value).where(
        SchemaInfo.key.startswith(_SWEEP_PREFIX)
    )
    for key, value in rows.tuples():
        try:
            lease = json.loads(value)
            owner, until = str(lease["owner"]), datetime.fromisoformat(lease["until"])
        except (ValueError, KeyError, TypeError):
            continue  # unreadable: as good as expired
        if until >= now and owner != exclude_owner:
            held[key[len(_SWEEP_PREFIX) :]] = owner
    return held


def take_sweep(
    owner: str,
    sender: str | None,
    *,
    lease_for: timedelta = timedelta(seconds=60),
    now: datetime | None = None,
) -> bool:
    """Take (or renew) the right to read the listing of ``sender`` (``None``: the listing of
    every sender); ``False`` when another poller's sweep covers it."""
    now = now or utcnow()
    key = _sweep_key(sender)
    value = json.dumps({"owner": owner, "until": (now + lease_for).isoformat()})
    with database.atomic():
        if isinstance(database.obj, PostgresqlDatabase):
            # One sweep decision at a time: the version row is always there to lock.
            SchemaInfo.select().where(SchemaInfo.key == "version").for_update().execute()
        others = _sweeps(now, exclude_owner=owner)
        name = EVERY_SENDER if sender is None else sender
        if others and (name == EVERY_SENDER or EVERY_SENDER in others or name in others):
            return False
        SchemaInfo.insert(key=key, value=value).on_conflict(
            conflict_target=[SchemaInfo.key], update={SchemaInfo.value: value}
        ).execute()
    return True


def end_sweep(owner: str, sender: str | None) -> None:
    """Give up a sweep (finished, or the poller is stopping)."""
    key = _sweep_key(sender)
    with database.atomic():
        row = SchemaInfo.get_or_none(SchemaInfo.key == key)
        if row is None:
            return
        try:
            mine = json.loads(row.value).get("owner") == owner
        except (ValueError, AttributeError):
            mine = True
        if mine:
            SchemaInfo.delete().where(SchemaInfo.key == key).execute()


def pending_count(campaign_id: int | None = None) -> int:
    """Unknown messages that can still resolve (submitted, within the window)."""
    condition = (Message.status == Status.UNKNOWN.value) & Message.next_poll_at.is_null(False)
    if campaign_id is not None:
        condition &= Message.campaign == campaign_id
    return int(Message.select().where(condition).count())


def resolvable_now_count(
    now: datetime | None = None,
    campaign_id: int | None = None,
    receipt_grace: timedelta = timedelta(seconds=60),
) -> int:
    """Pending messages that can still be expected to resolve soon.

    A message the carrier accepted (``sent``) more than ``receipt_grace`` ago is waiting for a
    delivery receipt that may never come: it is still polled, but nothing is waiting on it.
    """
    now = now or utcnow()
    condition = (Message.status == Status.UNKNOWN.value) & Message.next_poll_at.is_null(False)
    condition &= (
        Message.provider_status.is_null()
        | (Message.provider_status != "sent")
        | (Message.updated_at > now - receipt_grace)
    )
    if campaign_id is not None:
        condition &= Message.campaign == campaign_id
    return int(Message.select().where(condition).count())


def pending_counts(
    now: datetime | None = None,
    campaign_id: int | None = None,
    receipt_grace: timedelta = timedelta(seconds=60),
) -> tuple[int, int]:
    """``pending_count`` and ``resolvable_now_count`` at once, in one pass over the rows."""
    now = now or utcnow()
    condition = (Message.status == Status.UNKNOWN.value) & Message.next_poll_at.is_null(False)
    if campaign_id is not None:
        condition &= Message.campaign == campaign_id
    waiting = (
        (Message.provider_status == "sent") & (Message.updated_at <= now - receipt_grace)
    ) | (Message.provider_status == "scheduled")  # held by the provider until its time
    row = (
        Message.select(fn.COUNT(Message.id), fn.SUM(Case(None, [(waiting, 1)], 0)))
        .where(condition)
        .tuples()
        .first()
    )
    pending, stale = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
    return pending, pending - stale


def next_due_at(campaign_id: int | None = None) -> datetime | None:
    """When the next pending message falls due, or ``None`` when nothing is pending."""
    condition = (Message.status == Status.UNKNOWN.value) & Message.next_poll_at.is_null(False)
    if campaign_id is not None:
        condition &= Message.campaign == campaign_id
    value = Message.select(fn.MIN(Message.next_poll_at)).where(condition).scalar()
    return value if isinstance(value, datetime) or value is None else None


def expire_old(now: datetime | None = None) -> int:
    """Stop polling messages past the carriers' window; they keep Unknown with a note."""
    now = now or utcnow()
    cutoff = now - POLL_WINDOW
    return int(
        Message.update(next_poll_at=None, note=NO_RECEIPT_NOTE, lease_owner=None, lease_until=None)
        .where(
            (Message.status == Status.UNKNOWN.value)
            & Message.next_poll_at.is_null(False)
            & (Message.attempted_at < cutoff)
            # A scheduled campaign's carriers' window starts at its time, not at its creates.
            & Message.campaign.not_in(
                Campaign.select(Campaign.id).where(Campaign.send_at >= cutoff)
            )
        )
        .execute()
    )
