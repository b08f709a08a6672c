"""A campaign's counters: the one place that moves them, and the one place that counts them.

A campaign keeps ``recipients``, ``delivered``, ``failed``, ``unknown`` (the three add up to the
recipients), ``submitted``, ``skipped_opted_out``, ``cost``, and ``pushed`` and ``pulled`` (its
messages resolved by push and by pull, ``Message.resolved_by``) on its row, so that History and the
chart never scan its messages. Every writer moves them with ``apply``, in the transaction that
changes the messages they count; ``count`` says what the messages say, ``stored`` what the row
says, and ``recount`` sets the row from the messages (``doctor --repair``). ``mismatches`` is the
invariant itself: ``doctor`` and the tests check it the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from peewee import Case, PostgresqlDatabase, fn

from notify_tui.domain.money import exact, from_micros
from notify_tui.domain.status import SendState, Status
from notify_tui.store.models import Campaign, Message, database

__all__ = [
    "CounterDelta",
    "Counters",
    "apply",
    "count",
    "lock",
    "mismatches",
    "recount",
    "stored",
]


@dataclass
class CounterDelta:
    """How a change moves one campaign's counters."""

    recipients: int = 0
    delivered: int = 0
    failed: int = 0
    unknown: int = 0
    submitted: int = 0
    skipped_opted_out: int = 0
    cost: Decimal = Decimal(0)
    pushed: int = 0
    """Resolutions that came by status callback (``Message.resolved_by`` ``push``)."""
    pulled: int = 0
    """Resolutions a poller fetched or listed (``pull``)."""

    @property
    def empty(self) -> bool:
        """True when nothing moved."""
        return not any(getattr(self, f.name) for f in fields(self))

    def add(self, other: CounterDelta) -> None:
        """Add ``other`` (a later change) to this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def apply(campaign_id: int, delta: CounterDelta, *, checked_at: object = None) -> None:
    """Move the campaign's counters by ``delta`` (and stamp ``last_checked_at`` when given).

    Call it inside the transaction that changes the messages: the counters then never disagree
    with them, whoever else writes meanwhile (the update adds to the row as it is at commit).
    """
    update: dict[Any, Any] = {}
    for f in fields(delta):
        value = getattr(delta, f.name)
        if value:
            column = getattr(Campaign, f.name)
            update[column] = column + value
    if checked_at is not None:
        update[Campaign.last_checked_at] = checked_at
    if update:
        Campaign.update(update).where(Campaign.id == campaign_id).execute()


@dataclass(frozen=True, slots=True)
class Counters:
    """A campaign's counters, as its row keeps them or as its messages say they should be."""

    recipients: int = 0
    delivered: int = 0
    failed: int = 0
    unknown: int = 0
    submitted: int = 0
    cost: Decimal = Decimal(0)
    invalid: int = 0
    """Messages recorded Failed by the app's own validation (never tallied in the status
    history). Counted from the messages only: the row keeps no such counter."""
    pushed: int = 0
    """Final statuses that came by push (status callback)."""
    pulled: int = 0
    """Final statuses that came by pull (a poller)."""

    def _kept(self) -> tuple[object, ...]:
        return (
            self.recipients,
            self.delivered,
            self.failed,
            self.unknown,
            self.submitted,
            self.cost,
            self.pushed,
            self.pulled,
        )

    def agrees(self, other: Counters) -> bool:
        """True when the kept counters are the same (exactly: amounts are stored and summed as
        integer millionths, ``models.MoneyField``)."""
        return self._kept() == other._kept()

    def describe(self) -> str:
        """One line for the user."""
        return (
            f"{self.recipients:,} recipients: {self.delivered:,} delivered, "
            f"{self.failed:,} failed, {self.unknown:,} unknown, {self.submitted:,} submitted, "
            f"cost {exact(self.cost)}, {self.pushed:,} by push, {self.pulled:,} by pull"
        )


def _decimal(value: object) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def stored(campaign_ids: Iterable[int] | None = None) -> dict[int, Counters]:
    """What each campaign's row says (every campaign, or those of ``campaign_ids``)."""
    select = Campaign.select(
        Campaign.id,
        Campaign.recipients,
        Campaign.delivered,
        Campaign.failed,
        Campaign.unknown,
        Campaign.submitted,
        Campaign.cost,
        Campaign.pushed,
        Campaign.pulled,
    ).order_by(Campaign.id)
    if campaign_ids is not None:
        select = select.where(Campaign.id.in_(list(campaign_ids)))
    return {
        int(cid): Counters(
            int(r), int(d), int(f), int(u), int(s), _decimal(cost), pushed=int(ps), pulled=int(pl)
        )
        for cid, r, d, f, u, s, cost, ps, pl in select.tuples()
    }


def count(campaign_ids: Iterable[int] | None = None) -> dict[int, Counters]:
    """What each campaign's messages say, in one pass over them (a campaign without messages
    is absent: its counters should all be zero)."""
    submitted = fn.SUM(Case(None, [(Message.send_state == SendState.SUBMITTED, 1)], 0))
    invalid = fn.SUM(Case(None, [(Message.send_state == SendState.INVALID, 1)], 0))
    pushed = fn.SUM(Case(None, [(Message.resolved_by == "push", 1)], 0))
    pulled = fn.SUM(Case(None, [(Message.resolved_by == "pull", 1)], 0))
    select = Message.select(
        Message.campaign,
        Message.status,
        fn.COUNT(Message.id),
        submitted,
        fn.SUM(fn.ABS(Message.price)),
        invalid,
        pushed,
        pulled,
    ).group_by(Message.campaign, Message.status)
    if campaign_ids is not None:
        select = select.where(Message.campaign.in_(list(campaign_ids)))
    found: dict[int, dict[str, Any]] = defaultdict(
        lambda: {
            "recipients": 0,
            "submitted": 0,
            "cost": Decimal(0),
            "invalid": 0,
            "pushed": 0,
            "pulled": 0,
        }
    )
    for campaign_id, status, n, sent, cost, bad, push, pull in select.tuples():
        entry = found[int(campaign_id)]
        entry["recipients"] += int(n)
        entry["submitted"] += int(sent or 0)
        entry["cost"] += from_micros(int(cost or 0))  # a raw SUM: millionths
        entry["invalid"] += int(bad or 0)
        entry["pushed"] += int(push or 0)
        entry["pulled"] += int(pull or 0)
        if status in (Status.DELIVERED.value, Status.FAILED.value, Status.UNKNOWN.value):
            entry[status] = entry.get(status, 0) + int(n)
    return {campaign_id: Counters(**values) for campaign_id, values in found.items()}


def mismatches(campaign_ids: Iterable[int] | None = None) -> dict[int, tuple[Counters, Counters]]:
    """The campaigns whose row disagrees with their messages: ``{id: (stored, counted)}``.

    Empty when the invariant holds: Delivered + Failed + Unknown are the messages in each
    status and add up to the recipients, ``submitted`` and ``cost`` agree with the messages.
    """
    wanted = None if campaign_ids is None else list(campaign_ids)
    rows = count(wanted)
    return {
        campaign_id: (kept, rows.get(campaign_id, Counters()))
        for campaign_id, kept in stored(wanted).items()
        if not kept.agrees(rows.get(campaign_id, Counters()))
    }


def lock(campaign_ids: list[int]) -> None:
    """Inside a transaction, on PostgreSQL: hold the campaigns' rows until commit, so that a
    writer committing meanwhile adds its deltas after a recount (or a rebuild) instead of being
    overwritten by a count that missed it."""
    if isinstance(database.obj, PostgresqlDatabase):
        list(
            Campaign.select(Campaign.id)
            .where(Campaign.id.in_(campaign_ids))
            .order_by(Campaign.id)
            .for_update()
            .tuples()
        )


def recount(campaign_ids: Iterable[int]) -> dict[int, Counters]:
    """Set the campaigns' counters to what their messages say, in one transaction; returns what
    was set. ``skipped_opted_out`` counts messages never written: it is left as it is."""
    wanted = sorted(set(campaign_ids))
    if not wanted:
        return {}
    done: dict[int, Counters] = {}
    with database.atomic():
        lock(wanted)
        rows = count(wanted)
        for campaign_id in wanted:
            counted = rows.get(campaign_id, Counters())
            Campaign.update(
                {
                    Campaign.recipients: counted.recipients,
                    Campaign.delivered: counted.delivered,
                    Campaign.failed: counted.failed,
                    Campaign.unknown: counted.unknown,
                    Campaign.submitted: counted.submitted,
                    Campaign.cost: counted.cost,
                    Campaign.pushed: counted.pushed,
                    Campaign.pulled: counted.pulled,
                }
            ).where(Campaign.id == campaign_id).execute()
            done[campaign_id] = counted
        # The breakdowns' tallies count the same messages: recounted with them.
        from notify_tui.store import insights

        insights.rebuild(wanted)
    return done
