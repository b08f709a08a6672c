"""Recording a campaign's recipients before anything is sent, and the queue of what to submit.

Every message is written before it is submitted, so a crash at any point leaves a record of
what may have gone out; ``(campaign, phone)`` is unique, so no number can be queued twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from notify_tui.domain.status import Reason, Status
from notify_tui.store.models import Campaign, Contact, Message, database, utcnow

_BATCH = 500


@dataclass(frozen=True, slots=True)
class NewRecipient:
    """A recipient to add: a valid E.164 number, or the raw input and why it is invalid."""

    phone: str
    name: str = ""
    invalid_reason: str | None = None


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
    send_state: str
    attempted_at: datetime | None


def _contact_ids(phones: Sequence[str], names: dict[str, str], now: datetime) -> dict[str, int]:
    ids: dict[str, int] = {}
    for start in range(0, len(phones), _BATCH):
        chunk = phones[start : start + _BATCH]
        rows = [
            {"phone": p, "name": names.get(p, ""), "created_at": now, "updated_at": now}
            for p in chunk
        ]
        Contact.insert_many(rows).on_conflict_ignore().execute()
        select = Contact.select(Contact.phone, Contact.id, Contact.opted_out).where(
            Contact.phone.in_(chunk)
        )
        for phone, contact_id, opted_out in select.tuples():
            ids[phone] = -contact_id if opted_out else contact_id
    return ids


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
        rows: list[dict[str, object]] = []
        skipped = 0
        for r in valid:
            contact_id = contact_ids[r.phone]
            if contact_id < 0:
                skipped += 1
                continue
            rows.append(
                {
                    "campaign": campaign_id,
                    "contact": contact_id,
                    "phone": r.phone,
                    "name": r.name,
                    "status": Status.UNKNOWN.value,
                    "reason": None,
                    "detail": None,
                    "send_state": "pending",
                    "updated_at": now,
                    "resolved_at": None,
                }
            )
        queued = len(rows)
        for r in invalid:
            rows.append(
                {
                    "campaign": campaign_id,
                    "phone": r.phone,
                    "name": r.name,
                    "status": Status.FAILED.value,
                    "reason": Reason.INVALID_NUMBER.value,
                    "detail": r.invalid_reason,
                    "send_state": "invalid",
                    "updated_at": now,
                    "resolved_at": now,
                }
            )
        # insert_many takes its columns from the first row: every row carries the same keys.
        for start in range(0, len(rows), _BATCH):
            Message.insert_many(rows[start : start + _BATCH]).execute()
        Campaign.update(
            {
                Campaign.recipients: Campaign.recipients + len(rows),
                Campaign.unknown: Campaign.unknown + queued,
                Campaign.failed: Campaign.failed + len(invalid),
                Campaign.skipped_opted_out: Campaign.skipped_opted_out + skipped,
            }
        ).where(Campaign.id == campaign_id).execute()
    return AddedRecipients(queued, len(invalid), skipped, duplicates)


def to_submit(campaign_id: int, limit: int, after_id: int = 0) -> list[Submission]:
    """Messages of the campaign not yet known to the provider, in id order after ``after_id``."""
    select = (
        Message.select(Message.id, Message.phone, Message.send_state, Message.attempted_at)
        .where(
            (Message.campaign == campaign_id)
            & Message.send_state.in_(["pending", "attempting"])
            & (Message.id > after_id)
        )
        .order_by(Message.id)
        .limit(limit)
    )
    return [Submission(*row) for row in select.tuples()]


def mark_attempting(message_ids: Sequence[int], now: datetime | None = None) -> None:
    """Record that a create is about to be sent: from now on its outcome must be looked up."""
    if message_ids:
        Message.update(send_state="attempting", attempted_at=now or utcnow()).where(
            Message.id.in_(list(message_ids)) & (Message.send_state == "pending")
        ).execute()
