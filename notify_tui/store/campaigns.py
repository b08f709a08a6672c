"""Campaigns with their counters, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from peewee import JOIN, SQL, Case, Expression, Field, NodeList, PostgresqlDatabase, Value, fn

from notify_tui.domain.campaign_sort import CampaignSort
from notify_tui.domain.status import UNFINISHED, CampaignState
from notify_tui.domain.text import fold, folded_name
from notify_tui.store.models import Campaign, Message, StatusTally, database, utcnow


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    """A campaign as History and Details show it."""

    id: int
    name: str
    body: str
    sender: str | None
    messaging_service_sid: str | None
    state: CampaignState
    created_at: datetime
    sent_at: datetime | None
    segments: int
    price_per_segment: Decimal
    recipients: int
    delivered: int
    failed: int
    unknown: int
    submitted: int
    skipped_opted_out: int
    cost: Decimal
    last_checked_at: datetime | None
    pushed: int = 0
    """Resolutions that came by status callback (its messages' ``resolved_by`` ``push``)."""
    followup_of: int | None = None
    """The campaign this one follows up (``store.followups``), if any."""
    send_at: datetime | None = None
    """When it is to go out (naive UTC), or ``None``: it went out when sent."""
    timezone: str | None = None
    quiet_hours: str | None = None
    wake_at: datetime | None = None
    """While it waits in the store (``scheduled``): when it is started."""
    pulled: int = 0
    """Resolutions a poller fetched or listed (``resolved_by`` ``pull``)."""
    archived_at: datetime | None = None
    """When it was archived (hidden from History, kept), or ``None``."""

    @property
    def statuses_by(self) -> str:
        """How this campaign's final statuses arrived, counted from its messages: ``push``,
        ``pull``, ``both``, or ``-`` when none came either way (none resolved yet, or all settled
        at send time, or before schema version 12 recorded it)."""
        if self.pushed and self.pulled:
            return "both"
        if self.pushed:
            return "push"
        return "pull" if self.pulled else "-"

    @property
    def delivered_pct(self) -> float:
        """Delivered as a share of recipients, 0 to 100."""
        return 100.0 * self.delivered / self.recipients if self.recipients else 0.0

    @property
    def money_saved(self) -> Decimal:
        """The estimated cost of the messages not sent to opted-out numbers."""
        return self.skipped_opted_out * self.segments * abs(self.price_per_segment)

    @property
    def estimated_cost(self) -> Decimal:
        """What sending every recipient was estimated to cost (invalid numbers included, which
        are never sent: an upper bound)."""
        return self.recipients * self.segments * abs(self.price_per_segment)

    @property
    def sending(self) -> bool:
        """True while messages are still being submitted."""
        return self.state in UNFINISHED


_COLUMNS = (
    Campaign.id,
    Campaign.name,
    Campaign.body,
    Campaign.sender,
    Campaign.messaging_service_sid,
    Campaign.state,
    Campaign.created_at,
    Campaign.sent_at,
    Campaign.segments,
    Campaign.price_per_segment,
    Campaign.recipients,
    Campaign.delivered,
    Campaign.failed,
    Campaign.unknown,
    Campaign.submitted,
    Campaign.skipped_opted_out,
    Campaign.cost,
    Campaign.last_checked_at,
    Campaign.pushed,
    Campaign.followup_of,
    Campaign.send_at,
    Campaign.timezone,
    Campaign.quiet_hours,
    Campaign.wake_at,
    Campaign.pulled,
    Campaign.archived_at,
)


def _summary(row: tuple[object, ...]) -> CampaignSummary:
    values = list(row)
    values[5] = CampaignState(values[5])
    values[9] = Decimal(str(values[9] or 0))
    values[16] = Decimal(str(values[16] or 0))
    return CampaignSummary(*values)


def _search(query: str, archived: bool | None = False):  # type: ignore[no-untyped-def]
    # History and ``campaigns`` show the campaigns in use, or (``archived``) the archived ones;
    # ``None``: every campaign.
    select = Campaign.select(*_COLUMNS)
    if archived is not None:
        select = select.where(Campaign.archived_at.is_null(not archived))
    if query.strip():
        select = select.where(name_contains(Campaign.name, Campaign.name_folded, query))
    return select


def contains(field: Field, text: str, *, lower: bool = False) -> Expression:
    """``field`` contains ``text``, ignoring case, with ``%`` and ``_`` taken literally
    (``lower``: the column holds lower case already, as a folded name does).

    Written out rather than peewee's ``**`` so that it escapes the same way on both databases.
    SQLite's ``LIKE`` already folds case (ASCII, exactly as its ``lower()`` does), so there the
    column is compared as it is: ``lower()`` on every row was a third of a search's scan.
    """
    escaped = text.strip().lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    postgres = isinstance(database.obj, PostgresqlDatabase)
    column = fn.LOWER(field) if postgres and not lower else field
    return NodeList((column, SQL("LIKE"), Value(f"%{escaped}%"), SQL("ESCAPE '!'")))  # type: ignore[return-value]


def name_contains(name: Field, folded: Field, text: str) -> Expression:
    """``name`` contains ``text`` with case and accents folded on both sides (``/siobhan``
    finds Siobhán, ``/SIOBHÁN`` too): an ASCII name by the database's case-insensitive ``LIKE``
    on the name itself, any other by its stored ``folded`` form (``domain.text.folded_name``),
    so that no row is folded at search time."""
    key = fold(text.strip())
    match = contains(name, key) | contains(folded, key, lower=True)
    typed = text.strip().lower()
    if typed != key:
        # As typed too: a row written without its folded form still matches its own accents.
        match |= contains(name, typed)
    return match


def count_campaigns(query: str = "", archived: bool | None = False) -> int:
    """How many campaigns match ``query`` (a part of the name, any case): of those in use, of
    the archived ones with ``archived``, of every one with ``None``."""
    return int(_search(query, archived).count())


def campaign_page(
    query: str = "",
    offset: int = 0,
    limit: int = 100,
    archived: bool = False,
    sort: CampaignSort = CampaignSort.NEWEST,
) -> list[CampaignSummary]:
    """Campaigns matching ``query`` in the order ``sort`` (newest first by default), from
    ``offset``; a follow-up comes right after the campaign it follows up (oldest follow-up
    first), whenever it was sent: the groups are ordered by the original's key, then the newest
    group first, so that the order is total and pages never repeat or skip a row. The archived
    campaigns are left out, or (``archived``) are the only ones."""
    original = Campaign.alias("original")
    group = fn.COALESCE(original.id, Campaign.id)
    select = (
        _search(query, archived)
        .join(
            original,
            JOIN.LEFT_OUTER,
            on=(original.id == fn.COALESCE(Campaign.followup_of, Campaign.id)),
        )
        .order_by(*_sort_keys(sort, original), group.desc(), Campaign.id)
        .offset(offset)
        .limit(limit)
    )
    return [_summary(row) for row in select.tuples()]


def _sort_keys(sort: CampaignSort, original: Any) -> list[Any]:
    """The keys ``sort`` orders the groups by: the original campaign's values (``original``, the
    row a follow-up follows up, or the campaign itself), before the tie-break on the group."""

    def of(name: str) -> Any:
        # The original's value (null or not); the campaign's own if the original is gone.
        gone = original.id.is_null()
        return Case(None, [(gone, getattr(Campaign, name))], getattr(original, name))

    postgres = isinstance(database.obj, PostgresqlDatabase)
    if sort is CampaignSort.FAILURES:
        return [of("failed").desc()]
    if sort is CampaignSort.DELIVERY:
        # Never sent, or nobody to send to: no rate, so last (not "0 % delivered").
        unrated = (of("recipients") == 0) | of("sent_at").is_null()
        rate = of("delivered") * 1.0 / fn.NULLIF(of("recipients"), 0)
        return [Case(None, [(unrated, 1)], 0).asc(), rate.asc()]
    if sort is CampaignSort.NAME:
        # An ASCII name has no folded form: lower case is its folded form. Byte order on both
        # databases (PostgreSQL's locale would order spaces and punctuation its own way).
        folded: Any = fn.COALESCE(of("name_folded"), fn.LOWER(of("name")))
        if postgres:
            folded = NodeList((folded, SQL('COLLATE "C"')))
        return [folded.asc()]
    if sort is CampaignSort.UPDATED:
        created = of("created_at")
        moments = [
            fn.COALESCE(of(name), created) for name in ("last_checked_at", "finished_at", "sent_at")
        ]
        # SQLite's max() of several arguments is the greatest of them, as GREATEST is.
        latest = (fn.GREATEST if postgres else fn.MAX)(created, *moments)
        return [latest.desc()]
    return []


def get_campaign(campaign_id: int) -> CampaignSummary | None:
    """One campaign, or ``None``."""
    row = Campaign.select(*_COLUMNS).where(Campaign.id == campaign_id).tuples().first()
    return _summary(row) if row else None


def create_campaign(
    name: str,
    body: str,
    *,
    sender: str | None = None,
    messaging_service_sid: str | None = None,
    segments: int = 1,
    price_per_segment: Decimal = Decimal(0),
    state: CampaignState = CampaignState.DRAFT,
    send_at: datetime | None = None,
    timezone: str | None = None,
    quiet_hours: str | None = None,
) -> int:
    """Record a new campaign (no recipients yet) and return its id.

    ``send_at`` (naive UTC): when it is to go out; ``timezone`` its own zone; ``quiet_hours``
    (``21:00-08:00``) when no recipient is texted, by their own clock."""
    campaign = Campaign.create(
        name=name,
        name_folded=folded_name(name),
        body=body,
        sender=sender,
        messaging_service_sid=messaging_service_sid,
        segments=segments,
        price_per_segment=price_per_segment,
        state=state,
        send_at=send_at,
        timezone=timezone,
        quiet_hours=quiet_hours,
    )
    return int(campaign.id)


def wait_in_store(campaign_id: int, wake_at: datetime) -> None:
    """Leave a campaign ``scheduled`` in the store until ``wake_at`` (naive UTC), when a
    running poller or app starts it (``due_to_start``). A cancelled one stays cancelled."""
    Campaign.update(state=CampaignState.SCHEDULED.value, wake_at=wake_at).where(
        (Campaign.id == campaign_id) & (Campaign.state != CampaignState.CANCELED.value)
    ).execute()


def due_to_start(now: datetime | None = None) -> list[int]:
    """Campaigns waiting in the store whose time has come, oldest first."""
    now = now or utcnow()
    select = (
        Campaign.select(Campaign.id)
        .where((Campaign.state == CampaignState.SCHEDULED.value) & (Campaign.wake_at <= now))
        .order_by(Campaign.wake_at, Campaign.id)
    )
    return [int(row) for (row,) in select.tuples()]


def next_wake_at() -> datetime | None:
    """When the next campaign waiting in the store is due, if any."""
    row = (
        Campaign.select(Campaign.wake_at)
        .where(Campaign.state == CampaignState.SCHEDULED.value)
        .order_by(Campaign.wake_at)
        .first()
    )
    return None if row is None else row.wake_at


def set_state(campaign_id: int, state: CampaignState, *, now: datetime | None = None) -> None:
    """Move a campaign to ``state``."""
    now = now or utcnow()
    update: dict[object, object] = {Campaign.state: state}
    if state == CampaignState.SENDING:
        update[Campaign.sent_at] = fn.COALESCE(Campaign.sent_at, now)
    if state == CampaignState.SENT:
        update[Campaign.finished_at] = now
    Campaign.update(update).where(Campaign.id == campaign_id).execute()


def last_interrupted_campaign() -> int | None:
    """The newest campaign whose sending stopped before the end (``interrupted``), if any; an
    archived one is put away, not offered."""
    row = (
        Campaign.select(Campaign.id)
        .where((Campaign.state == CampaignState.INTERRUPTED.value) & Campaign.archived_at.is_null())
        .order_by(Campaign.id.desc())
        .first()
    )
    return None if row is None else int(row.id)


def tally_series(campaign_id: int) -> list[tuple[datetime, int, int]]:
    """Resolutions per minute (minute, delivered, failed), oldest first: the sparkline's data."""
    select = (
        StatusTally.select(StatusTally.minute, StatusTally.delivered, StatusTally.failed)
        .where(StatusTally.campaign == campaign_id)
        .order_by(StatusTally.minute)
    )
    return [(minute, int(d), int(f)) for minute, d, f in select.tuples()]


def _shifted(field: Field, seconds: float) -> Any:
    """``field`` moved back by ``seconds``, in the dialect of the open database."""
    if isinstance(database.obj, PostgresqlDatabase):
        return field - SQL(f"interval '{float(seconds)} seconds'")
    return fn.strftime("%Y-%m-%d %H:%M:%f", field, f"-{float(seconds)} seconds")


def backdate_campaign(campaign_id: int, age: timedelta) -> None:
    """Move a campaign's timestamps, and its messages', back by ``age`` (for demo data)."""
    seconds = age.total_seconds()
    with database.atomic():
        Campaign.update(
            {
                Campaign.created_at: _shifted(Campaign.created_at, seconds),
                Campaign.sent_at: _shifted(Campaign.sent_at, seconds),
                Campaign.finished_at: _shifted(Campaign.finished_at, seconds),
                # Its statuses arrived then too: History's "last activity first" agrees.
                Campaign.last_checked_at: _shifted(Campaign.last_checked_at, seconds),
            }
        ).where(Campaign.id == campaign_id).execute()
        Message.update(
            {
                Message.attempted_at: _shifted(Message.attempted_at, seconds),
                Message.updated_at: _shifted(Message.updated_at, seconds),
                Message.next_poll_at: _shifted(Message.next_poll_at, seconds),
                Message.date_sent: _shifted(Message.date_sent, seconds),
            }
        ).where(Message.campaign == campaign_id).execute()
