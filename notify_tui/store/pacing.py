"""One pace per sender, workspace-wide: the slots every campaign claims before it creates.

A sender (a From number, or a Messaging Service SID) has one row in ``sender_pace``. A campaign
that sends from it at ``rate`` claims ``count`` slots ``1 / rate`` apart in one statement that
moves the row's ``next_slot_at`` on; every campaign, in this process or another one sharing
the workspace, claims from the same row, so together they never go faster than the pace. The
statement takes the row's lock (an upsert: a row lock on PostgreSQL, the write lock on SQLite,
``BEGIN IMMEDIATE``), so two claims never get the same slot.

Times are seconds since the epoch on the database's clock (``now=None``): two machines sharing a
PostgreSQL workspace agree on it whatever their own clocks say. Tests pass ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import PostgresqlDatabase

from notify_tui.store.models import SenderPace, database

_TABLE = SenderPace._meta.table_name


@dataclass(frozen=True, slots=True)
class SlotClaim:
    """Slots a campaign may use: the first starts ``wait`` seconds after the claim was made."""

    wait: float
    """Seconds from the claim to the first slot (0 when the sender is free now)."""
    behind: int | None
    """Another campaign sending from this sender whose slots (or hold) this claim waits behind."""


def _now_sql() -> str:
    if isinstance(database.obj, PostgresqlDatabase):
        return "CAST(EXTRACT(EPOCH FROM statement_timestamp()) AS DOUBLE PRECISION)"
    return "((julianday('now') - 2440587.5) * 86400.0)"


def _greatest() -> str:
    # Both ignore no NULL here: the columns are NOT NULL.
    return "GREATEST" if isinstance(database.obj, PostgresqlDatabase) else "MAX"


def _clock(now: float | None) -> tuple[str, list[float]]:
    """The SQL for "now", and its parameter when a clock was given (each use takes one)."""
    if now is None:
        return _now_sql(), []
    return f"CAST({database.obj.param} AS DOUBLE PRECISION)", [now]


def claim_slots(
    sender: str, campaign_id: int, count: int, interval: float, now: float | None = None
) -> SlotClaim:
    """Claim ``count`` slots ``interval`` seconds apart for ``campaign_id`` on ``sender``.

    The first slot is the sender's next free one (never before a hold, never in the past).
    ``interval`` 0 claims nothing ahead: it only waits for a hold another campaign placed.
    """
    if count < 1 or interval < 0:
        raise ValueError("claim at least one slot, a non-negative interval apart")
    if interval == 0:
        return _hold_of(sender, campaign_id, now)
    p = database.obj.param
    at, at_args = _clock(now)
    top = _greatest()
    span = count * interval
    busy = f"{top}({_TABLE}.next_slot_at, {_TABLE}.held_until)"
    sql = (
        f"INSERT INTO {_TABLE} (sender, next_slot_at, held_until, campaign_id, behind_campaign_id) "
        f"VALUES ({p}, {at} + {p}, 0, {p}, NULL) "
        f"ON CONFLICT (sender) DO UPDATE SET "
        f"next_slot_at = {top}({busy}, {at}) + {p}, "
        f"behind_campaign_id = CASE WHEN {_TABLE}.campaign_id <> {p} AND {busy} > {at} "
        f"THEN {_TABLE}.campaign_id ELSE NULL END, "
        f"campaign_id = {p} "
        f"RETURNING next_slot_at, behind_campaign_id, {at}"
    )
    params = [
        sender,
        *at_args,
        span,
        campaign_id,
        *at_args,
        span,
        campaign_id,
        *at_args,
        campaign_id,
        *at_args,
    ]
    with database.atomic():
        next_slot_at, behind, moment = database.execute_sql(sql, params).fetchone()
    return SlotClaim(max(0.0, float(next_slot_at) - span - float(moment)), behind)


def _hold_of(sender: str, campaign_id: int, now: float | None) -> SlotClaim:
    at, at_args = _clock(now)
    p = database.obj.param
    row = database.execute_sql(
        f"SELECT held_until, campaign_id, {at} FROM {_TABLE} WHERE sender = {p}",
        [*at_args, sender],
    ).fetchone()
    if row is None:
        return SlotClaim(0.0, None)
    held_until, holder, moment = row
    wait = max(0.0, float(held_until) - float(moment))
    return SlotClaim(wait, holder if wait > 0 and holder != campaign_id else None)


def hold_sender(sender: str, campaign_id: int, seconds: float, now: float | None = None) -> None:
    """Send nothing from ``sender`` for ``seconds`` (the provider said it is busy), whichever
    campaign or process would."""
    if seconds <= 0:
        return
    p = database.obj.param
    at, at_args = _clock(now)
    top = _greatest()
    sql = (
        f"INSERT INTO {_TABLE} (sender, next_slot_at, held_until, campaign_id, behind_campaign_id) "
        f"VALUES ({p}, 0, {at} + {p}, {p}, NULL) "
        f"ON CONFLICT (sender) DO UPDATE SET "
        f"held_until = {top}({_TABLE}.held_until, {at} + {p}), campaign_id = {p}"
    )
    params = [sender, *at_args, seconds, campaign_id, *at_args, seconds, campaign_id]
    with database.atomic():
        database.execute_sql(sql, params)


def sender_paces() -> dict[str, tuple[float, float]]:
    """Every sender's ``(next_slot_at, held_until)``, for ``doctor`` and tests."""
    return {
        row.sender: (row.next_slot_at, row.held_until)
        for row in SenderPace.select().order_by(SenderPace.sender)
    }
