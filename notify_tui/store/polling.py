"""Leases on Unknown messages, so that any number of pollers never work the same message twice.

A poller claims due messages for a while (its lease). It answers for them with
``updates.apply_updates``, which clears the lease; a poller that dies simply lets its leases
expire, and another picks the work up. On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED``;
SQLite has a single writer, and its ``BEGIN IMMEDIATE`` serialises claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import PostgresqlDatabase, fn

from notify_tui.domain.polling import POLL_WINDOW
from notify_tui.domain.status import NO_RECEIPT_NOTE, Status
from notify_tui.store.models import Campaign, Message, database, utcnow


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


def claim_due(
    owner: str,
    *,
    limit: int,
    lease_for: timedelta = timedelta(seconds=60),
    now: datetime | None = None,
    campaign_id: int | None = None,
) -> list[PollTask]:
    """Lease up to ``limit`` messages that are due for a look, oldest due first."""
    now = now or utcnow()
    until = now + lease_for
    with database.atomic():
        candidates = (
            Message.select(Message.id)
            .where(_due(now, campaign_id))
            .order_by(Message.next_poll_at)
            .limit(limit)
        )
        if isinstance(database.obj, PostgresqlDatabase):
            candidates = candidates.for_update("FOR UPDATE SKIP LOCKED")
        ids = [row[0] for row in candidates.tuples()]
        if not ids:
            return []
        Message.update(lease_owner=owner, lease_until=until).where(
            Message.id.in_(ids) & _due(now, campaign_id)
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


def release(owner: str, message_ids: list[int]) -> None:
    """Give back leases without an answer (the poller is stopping)."""
    if message_ids:
        Message.update(lease_owner=None, lease_until=None).where(
            Message.id.in_(message_ids) & (Message.lease_owner == owner)
        ).execute()


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
        )
        .execute()
    )
