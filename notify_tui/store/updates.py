"""Applying what the provider said to messages, counters and the time series, atomically.

A status only moves forward: a Delivered or Failed message never returns to Unknown, whatever
order answers arrive in. The campaign's counters change in the same transaction as the messages
they count, so the chart never needs a full scan and never disagrees with the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from peewee import PostgresqlDatabase

from notify_tui.domain.insights import bucket_of
from notify_tui.domain.status import Classification, SendState, Status
from notify_tui.store import counters, insights
from notify_tui.store.counters import CounterDelta
from notify_tui.store.models import Message, StatusTally, database, utcnow

_BATCH = 500

Via = Literal["push", "pull"]
"""How a final status arrived: a status callback, or a poller."""
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
    send_state: SendState | None = None
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
class AppliedUpdates:
    """What a batch changed: for the UI to redraw and the opt-out policy to act on."""

    changed_ids: set[int] = field(default_factory=set)
    resolutions: list[Resolution] = field(default_factory=list)
    campaigns: dict[int, CounterDelta] = field(default_factory=dict)
    tallies: dict[tuple[int, datetime], list[int]] = field(default_factory=dict)
    """Resolutions per (campaign, minute): [delivered, failed]."""
    groups: dict[insights.TallyKey, list[int]] = field(default_factory=dict)
    buckets: dict[insights.BucketKey, int] = field(default_factory=dict)
    """How this batch moves the insights' tallies (``store.insights.add``); not carried over by
    ``merge``: they are written by then."""

    def merge(self, other: AppliedUpdates) -> None:
        """Add what ``other`` (a later batch) changed to this report."""
        self.changed_ids |= other.changed_ids
        self.resolutions.extend(other.resolutions)
        for campaign_id, delta in other.campaigns.items():
            self.campaigns.setdefault(campaign_id, CounterDelta()).add(delta)
        for key, (delivered, failed) in other.tallies.items():
            tally = self.tallies.setdefault(key, [0, 0])
            tally[0] += delivered
            tally[1] += failed


@lru_cache(maxsize=4096)
def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


CURRENT_COLUMNS = (
    "id",
    "campaign_id",
    "status",
    "price",
    "contact_id",
    "phone",
    "provider_status",
    "profile_id",
    "reason",
    "error_code",
    "date_sent",
    "attempted_at",
)
"""What applying an answer reads of a message's row, in this order."""

CURRENT_SELECT = ", ".join(f'"{column}"' for column in CURRENT_COLUMNS)
"""``CURRENT_COLUMNS`` as the column list of a ``SELECT``."""

CurrentRows = Mapping[int, Sequence[object]]
"""Rows of ``CURRENT_COLUMNS`` by message id, as the database holds them."""


def apply_updates(
    updates: Sequence[StatusUpdate],
    now: datetime | None = None,
    *,
    current: CurrentRows | None = None,
    via: Via | None = None,
) -> AppliedUpdates:
    """Apply a batch of answers in one transaction and report what changed.

    ``current``: the messages' rows, when the caller has just read them in the same transaction
    (``polling.claim_listed`` does, with the lock that keeps them current); else they are read
    here. An update about a message not in it is skipped. ``via``: how these answers came
    (``push``, ``pull``): each message they resolve records it (``resolved_by``) and its
    campaign counts it (``pushed``, ``pulled``); ``None`` for what is settled at send time.
    """
    now = now or utcnow()
    result = AppliedUpdates()
    if not updates:
        return result
    with database.atomic():
        for start in range(0, len(updates), _BATCH):
            chunk = updates[start : start + _BATCH]
            rows = current if current is not None else _current([u.message_id for u in chunk])
            _apply_chunk(chunk, rows, now, result, via)
        _apply_counters(result, now)
    return result


@dataclass(slots=True)
class _Effect:
    """What one message's row change means, counted once the change is known to be written."""

    message_id: int
    campaign_id: int
    contact_id: int | None
    phone: str
    classification: Classification
    new_price: Decimal | None
    resolves: bool
    resolved_at: datetime
    tally: insights.TallyKey
    """The message's insights tally key once changed: campaign, profile, status, reason,
    code."""
    cost: int
    """The price it just got, in whole millionths (0 for none)."""
    carried: int
    """The price it got while Unknown, in whole millionths, moved with it when it resolves."""
    started: datetime | None
    """When it was sent, for its delivery time: the provider's ``date_sent``, else ours."""
    via: Via | None = None
    """How its final status came, when it resolves."""


_PLAN_CACHE: dict[tuple[str, tuple[str, ...]], str] = {}


def _update_sql(columns: tuple[str, ...]) -> str:
    """``UPDATE message SET ... WHERE id = ? AND status = ?`` for these columns (``+polls``
    bumps the poll count), built once per shape and database dialect."""
    param = database.param
    sql = _PLAN_CACHE.get((param, columns))
    if sql is None:
        assignments = [
            '"polls" = "polls" + 1' if column == "+polls" else f'"{column}" = {param}'
            for column in columns
        ]
        sql = (
            f'UPDATE "{Message._meta.table_name}" SET {", ".join(assignments)} '
            f'WHERE "id" = {param} AND "status" = {param}'
        )
        _PLAN_CACHE[(param, columns)] = sql
    return sql


_F = Message._meta.fields
_STATUSES = {status.value: status for status in Status}
_UNKNOWN = Status.UNKNOWN.value


def _current(ids: Sequence[int]) -> dict[int, tuple[object, ...]]:
    """The rows the answers apply to (raw SQL: this runs for every thousand answers)."""
    param = database.param
    sql = (
        f"SELECT {CURRENT_SELECT} "
        f'FROM "{Message._meta.table_name}" WHERE "id" IN ({", ".join(param for _ in ids)}) '
        'ORDER BY "id"'
    )
    if isinstance(database.obj, PostgresqlDatabase):
        # Held until commit, so every status guard below holds (SQLite's write lock, taken
        # when the transaction began, does the same there).
        sql += " FOR UPDATE"
    return {row[0]: row for row in database.execute_sql(sql, list(ids)).fetchall()}


def _apply_chunk(
    chunk: Sequence[StatusUpdate],
    current: CurrentRows,
    now: datetime,
    result: AppliedUpdates,
    via: Via | None = None,
) -> None:
    db_time = _time_adapter()
    now_db = db_time(now)
    price_value = _F["price"].db_value
    # One prepared statement per shape of change, run with executemany: a poll cycle's
    # thousand answers cost a handful of statements instead of a thousand.
    groups: dict[tuple[str, ...], list[tuple[list[object], _Effect]]] = {}
    later: list[tuple[tuple[str, ...], list[object], _Effect]] = []
    seen: set[int] = set()
    repeats: list[StatusUpdate] = []
    for update in chunk:
        if update.message_id in seen:
            # A second answer about the same message in one batch is judged against the row
            # as the first one leaves it (read again below), or its price would count twice.
            repeats.append(update)
            continue
        row = current.get(update.message_id)
        if row is None:
            continue
        _, campaign_id, status, old_price, contact_id, phone, old_raw = row[:7]
        profile_id, old_reason, old_code, old_sent, attempted = row[7:12]
        old = _STATUSES[status]
        new = update.classification.status
        fields: dict[str, object] = {}
        if update.sid is not None:
            fields["sid"] = update.sid
        if update.send_state is not None:
            fields["send_state"] = update.send_state
        if update.num_segments is not None:
            fields["num_segments"] = update.num_segments
        if update.date_sent is not None:
            fields["date_sent"] = db_time(update.date_sent)
        raw = update.provider_status
        # "read" may refine "delivered"; a stale "sent" never overwrites a final status.
        if raw is not None and raw != old_raw and (old is Status.UNKNOWN or new is old):
            fields["provider_status"] = raw
            fields["updated_at"] = now_db
        new_price = update.price if update.price is not None and old_price is None else None
        cost = 0
        if new_price is not None:
            fields["price"] = micros = price_value(new_price)
            cost = abs(micros)
            fields["price_unit"] = update.price_unit
        polled = old is Status.UNKNOWN
        resolves = polled and new is not Status.UNKNOWN
        if polled:
            fields["lease_owner"] = None
            fields["lease_until"] = None
            next_poll_at = None if resolves else update.next_poll_at
            fields["next_poll_at"] = None if next_poll_at is None else db_time(next_poll_at)
            if update.note is not None:
                fields["note"] = update.note
        resolved_at = min(update.resolved_at or now, now)
        started = None
        if resolves:
            classification = update.classification
            tally = (
                campaign_id,
                _int(profile_id),
                new.value,
                classification.reason.value if classification.reason else "",
                classification.code or 0,
            )
            if new is Status.DELIVERED:
                started = update.date_sent or _moment(old_sent) or _moment(attempted)
        else:
            tally = (
                campaign_id,
                _int(profile_id),
                old.value,
                str(old_reason or ""),
                _int(old_code),
            )
        if resolves:
            fields["status"] = new.value
            fields["reason"] = classification.reason.value if classification.reason else None
            fields["detail"] = classification.detail or None
            fields["error_code"] = classification.code
            fields["error_message"] = update.error_message
            fields["resolved_at"] = db_time(resolved_at)
            fields["updated_at"] = now_db
            if via is not None:
                fields["resolved_by"] = via
        if not fields:
            continue
        shape = (*fields, "+polls") if polled else tuple(fields)
        # The status guard makes the move forward-only even against a concurrent writer.
        params = [*fields.values(), update.message_id, old.value]
        effect = _Effect(
            update.message_id,
            campaign_id,
            contact_id,
            phone,
            update.classification,
            new_price,
            resolves,
            resolved_at,
            tally,
            cost,
            abs(_int(old_price)) if resolves else 0,
            started,
            via if resolves else None,
        )
        seen.add(update.message_id)
        groups.setdefault(shape, []).append((params, effect))
    cursor = database.cursor()
    postgres = isinstance(database.obj, PostgresqlDatabase)
    for shape, items in groups.items():
        if postgres:
            # One statement per shape: psycopg2's executemany is a round trip per row.
            updated = _update_many_pg(cursor, shape, [params for params, _ in items])
            for _, effect in items:
                if effect.message_id in updated:
                    _count(effect, result)
            continue
        sql = _update_sql(shape)
        with database.atomic() as savepoint:
            cursor.executemany(sql, [params for params, _ in items])
            if cursor.rowcount == len(items):
                for _, effect in items:
                    _count(effect, result)
                continue
            # Some guard failed (a writer that does not lock the rows): find out which.
            savepoint.rollback()
        later[:0] = [(shape, params, effect) for params, effect in items]
    for shape, params, effect in later:
        cursor.execute(_update_sql(shape), params)
        if cursor.rowcount:
            _count(effect, result)
    if repeats:
        _apply_chunk(repeats, _current([u.message_id for u in repeats]), now, result, via)


def _int(value: object) -> int:
    return int(value) if isinstance(value, int) else 0


def _moment(value: object) -> datetime | None:
    """A timestamp as the database returned it raw: PostgreSQL a ``datetime``, SQLite text."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


_PG_TYPES: dict[str, str] = {}
"""The PostgreSQL type of each column of ``message``, as ``format_type`` writes it."""


def _update_many_pg(cursor: Any, columns: tuple[str, ...], rows: list[list[object]]) -> set[int]:
    """``_update_sql(columns)`` for every row of ``rows`` in one ``UPDATE ... FROM (VALUES
    ...)``; answers the ids it changed (a row whose status guard failed is not among them)."""
    from psycopg2.extras import execute_values

    table = Message._meta.table_name
    names = [column for column in columns if column != "+polls"]
    if any(column not in _PG_TYPES for column in (*names, "id", "status")):
        # Read once (and again should a workspace gain a column the cache has not seen).
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [f'"{table}"'],
        )
        _PG_TYPES.update(cursor.fetchall())
    assignments = [
        '"polls" = m."polls" + 1' if column == "+polls" else f'"{column}" = v."{column}"'
        for column in columns
    ]
    # Each value is cast to its column's type: a column that is NULL in every row would
    # otherwise be text.
    template = "(" + ", ".join(f"%s::{_PG_TYPES[c]}" for c in [*names, "id", "status"]) + ")"
    value_names = ", ".join(f'"{c}"' for c in [*names, "id", "old_status"])
    sql = (
        f'UPDATE "{table}" AS m SET {", ".join(assignments)} '
        f"FROM (VALUES %s) AS v({value_names}) "
        'WHERE m."id" = v."id" AND m."status" = v."old_status" RETURNING m."id"'
    )
    changed = execute_values(cursor, sql, rows, template=template, page_size=len(rows), fetch=True)
    return {int(message_id) for (message_id,) in changed}


def _time_adapter() -> Callable[[datetime], object]:
    """How a datetime is handed to the database. SQLite gets the text its driver's adapter
    would write (``isoformat(" ")``), made here once per distinct value: a batch of answers
    shares a handful of timestamps, and the driver would convert each parameter anew."""
    if isinstance(database.obj, PostgresqlDatabase):
        return _as_is
    return _sqlite_time


def _as_is(moment: datetime) -> object:
    return moment


@lru_cache(maxsize=8192)
def _sqlite_time(moment: datetime) -> object:
    return moment.isoformat(" ")


def _count(effect: _Effect, result: AppliedUpdates) -> None:
    result.changed_ids.add(effect.message_id)
    delta = result.campaigns.setdefault(effect.campaign_id, CounterDelta())
    if effect.new_price is not None:
        delta.cost += abs(effect.new_price)
    if effect.resolves or effect.cost:
        # The insights' tallies: the message moves from (its profile, Unknown) to its key,
        # taking along the price it got while Unknown.
        groups = result.groups
        entry = groups.get(effect.tally)
        if entry is None:
            entry = groups[effect.tally] = [0, 0]
        entry[1] += effect.cost + effect.carried
        if effect.resolves:
            entry[0] += 1
            campaign_id, profile_id = effect.tally[0], effect.tally[1]
            was = (campaign_id, profile_id, _UNKNOWN, "", 0)
            left = groups.get(was)
            if left is None:
                left = groups[was] = [0, 0]
            left[0] -= 1
            left[1] -= effect.carried
            if effect.started is not None:
                seconds = (effect.resolved_at - effect.started).total_seconds()
                bucket = (campaign_id, profile_id, bucket_of(seconds))
                result.buckets[bucket] = result.buckets.get(bucket, 0) + 1
    if effect.resolves:
        delta.unknown -= 1
        if effect.via == "push":
            delta.pushed += 1
        elif effect.via == "pull":
            delta.pulled += 1
        tally = result.tallies.setdefault((effect.campaign_id, _minute(effect.resolved_at)), [0, 0])
        if effect.classification.status is Status.DELIVERED:
            delta.delivered += 1
            tally[0] += 1
        else:
            delta.failed += 1
            tally[1] += 1
        result.resolutions.append(
            Resolution(
                effect.message_id,
                effect.campaign_id,
                effect.contact_id,
                effect.phone,
                effect.classification,
            )
        )


def _apply_counters(result: AppliedUpdates, now: datetime) -> None:
    for campaign_id, delta in result.campaigns.items():
        counters.apply(campaign_id, delta, checked_at=now)
    insights.add(result.groups, result.buckets)
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
