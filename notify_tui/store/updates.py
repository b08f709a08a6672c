"""Applying what the provider said to messages, counters and the time series, atomically.

A status only moves forward: a Delivered or Failed message never returns to Unknown, whatever
order answers arrive in. The campaign's counters change in the same transaction as the messages
they count, so the chart never needs a full scan and never disagrees with the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from notify_tui.domain.status import Classification, Status
from notify_tui.store.models import Campaign, Message, StatusTally, database, utcnow

_BATCH = 500
"""Ids per ``IN (...)``: well under SQLite's variable limit."""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One answer about one message: the raw provider fields and what they mean."""

    message_id: int
    classification: Classification
    provider_status: str | None = None
    error_message: str | None = None
    price: Decimal | None = None
    price_unit: str | None = None
    num_segments: int | None = None
    date_sent: datetime | None = None
    sid: str | None = None
    next_poll_at: datetime | None = None
    """When to look again if the message is still Unknown (``None``: stop polling)."""
    note: str | None = None
    send_state: str | None = None
    resolved_at: datetime | None = None
    """When the provider says the status last changed (its ``date_updated``); default: now."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """A message that just became final."""

    message_id: int
    campaign_id: int
    contact_id: int | None
    phone: str
    classification: Classification


@dataclass
class CounterDelta:
    """How one campaign's counters moved."""

    delivered: int = 0
    failed: int = 0
    unknown: int = 0
    cost: Decimal = Decimal(0)

    @property
    def empty(self) -> bool:
        """True when nothing moved."""
        return not (self.delivered or self.failed or self.unknown or self.cost)


@dataclass
class AppliedUpdates:
    """What a batch changed: for the UI to redraw and the opt-out policy to act on."""

    changed_ids: set[int] = field(default_factory=set)
    resolutions: list[Resolution] = field(default_factory=list)
    campaigns: dict[int, CounterDelta] = field(default_factory=dict)
    tallies: dict[tuple[int, datetime], list[int]] = field(default_factory=dict)
    """Resolutions per (campaign, minute): [delivered, failed]."""


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def apply_updates(updates: Sequence[StatusUpdate], now: datetime | None = None) -> AppliedUpdates:
    """Apply a batch of answers in one transaction and report what changed."""
    now = now or utcnow()
    result = AppliedUpdates()
    if not updates:
        return result
    with database.atomic():
        for start in range(0, len(updates), _BATCH):
            _apply_chunk(updates[start : start + _BATCH], now, result)
        _apply_counters(result, now)
    return result


def _apply_chunk(chunk: Sequence[StatusUpdate], now: datetime, result: AppliedUpdates) -> None:
    ids = [u.message_id for u in chunk]
    current = {
        row[0]: row
        for row in Message.select(
            Message.id,
            Message.campaign,
            Message.status,
            Message.price,
            Message.contact,
            Message.phone,
            Message.provider_status,
        )
        .where(Message.id.in_(ids))
        .tuples()
    }
    for update in chunk:
        row = current.get(update.message_id)
        if row is None:
            continue
        _, campaign_id, status, old_price, contact_id, phone, old_raw = row
        old = Status(status)
        new = update.classification.status
        fields: dict[object, object] = {}
        if update.sid is not None:
            fields[Message.sid] = update.sid
        if update.send_state is not None:
            fields[Message.send_state] = update.send_state
        if update.num_segments is not None:
            fields[Message.num_segments] = update.num_segments
        if update.date_sent is not None:
            fields[Message.date_sent] = update.date_sent
        raw = update.provider_status
        # "read" may refine "delivered"; a stale "sent" never overwrites a final status.
        if raw is not None and raw != old_raw and (old is Status.UNKNOWN or new is old):
            fields[Message.provider_status] = raw
            fields[Message.updated_at] = now
        new_price = update.price if update.price is not None and old_price is None else None
        if new_price is not None:
            fields[Message.price] = new_price
            fields[Message.price_unit] = update.price_unit
        resolves = old is Status.UNKNOWN and new is not Status.UNKNOWN
        if old is Status.UNKNOWN:
            fields[Message.lease_owner] = None
            fields[Message.lease_until] = None
            fields[Message.polls] = Message.polls + 1
            fields[Message.next_poll_at] = None if resolves else update.next_poll_at
            if update.note is not None:
                fields[Message.note] = update.note
        resolved_at = min(update.resolved_at or now, now)
        if resolves:
            classification = update.classification
            reason = classification.reason.value if classification.reason else None
            fields.update(
                {
                    Message.status: new.value,
                    Message.reason: reason,
                    Message.detail: classification.detail or None,
                    Message.error_code: classification.code,
                    Message.error_message: update.error_message,
                    Message.resolved_at: resolved_at,
                    Message.updated_at: now,
                }
            )
        if not fields:
            continue
        # The status guard makes the move forward-only even against a concurrent writer.
        query = Message.update(fields).where(
            (Message.id == update.message_id) & (Message.status == old.value)
        )
        if query.execute() == 0:
            continue
        result.changed_ids.add(update.message_id)
        delta = result.campaigns.setdefault(campaign_id, CounterDelta())
        if new_price is not None:
            delta.cost += abs(new_price)
        if resolves:
            delta.unknown -= 1
            tally = result.tallies.setdefault((campaign_id, _minute(resolved_at)), [0, 0])
            if new is Status.DELIVERED:
                delta.delivered += 1
                tally[0] += 1
            else:
                delta.failed += 1
                tally[1] += 1
            result.resolutions.append(
                Resolution(update.message_id, campaign_id, contact_id, phone, update.classification)
            )


def _apply_counters(result: AppliedUpdates, now: datetime) -> None:
    for campaign_id, delta in result.campaigns.items():
        Campaign.update(
            {
                Campaign.delivered: Campaign.delivered + delta.delivered,
                Campaign.failed: Campaign.failed + delta.failed,
                Campaign.unknown: Campaign.unknown + delta.unknown,
                Campaign.cost: Campaign.cost + delta.cost,
                Campaign.last_checked_at: now,
            }
        ).where(Campaign.id == campaign_id).execute()
    for (campaign_id, minute), (delivered, failed) in sorted(result.tallies.items()):
        StatusTally.insert(
            campaign=campaign_id, minute=minute, delivered=delivered, failed=failed
        ).on_conflict(
            conflict_target=[StatusTally.campaign, StatusTally.minute],
            update={
                StatusTally.delivered: StatusTally.delivered + delivered,
                StatusTally.failed: StatusTally.failed + failed,
            },
        ).execute()


def touch_checked(campaign_ids: Sequence[int], now: datetime | None = None) -> None:
    """Record that these campaigns were just checked with the provider."""
    if campaign_ids:
        Campaign.update(last_checked_at=now or utcnow()).where(
            Campaign.id.in_(list(campaign_ids))
        ).execute()
