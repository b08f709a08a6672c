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


HORIZON = 3600.0
"""Seconds ahead past which a sender's turns or hold are stale (the clock went back, say): a
claim then starts from now instead of waiting that long."""


def _name(key: str) -> str:
    """A named parameter in this database's style."""
    return f"%({key})s" if isinstance(database.obj, PostgresqlDatabase) else f":{key}"


def _now(now: float | None) -> str:
    """Now in SQL: the parameter given, else the database's clock."""
    if now is not None:
        return f"CAST({_name('now')} AS DOUBLE PRECISION)"
    if isinstance(database.obj, PostgresqlDatabase):
        return "CAST(EXTRACT(EPOCH FROM statement_timestamp()) AS DOUBLE PRECISION)"
    return "((julianday('now') - 2440587.5) * 86400.0)"


def _greatest() -> str:
    # Both ignore no NULL here: the columns are NOT NULL.
    return "GREATEST" if isinstance(database.obj, PostgresqlDatabase) else "MAX"


def _busy(at: str) -> str:
    """Until when the sender is taken (turns claimed, or a hold), stale values left out."""
    busy = f"{_greatest()}({_TABLE}.next_slot_at, {_TABLE}.held_until)"
    return f"(CASE WHEN {busy} > {at} + {HORIZON} THEN {at} ELSE {busy} END)"


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
    at, busy = _now(now), _busy(_now(now))
    sender_, span, me = _name("sender"), _name("span"), _name("me")
    sql = (
        f"INSERT INTO {_TABLE} (sender, next_slot_at, held_until, campaign_id, behind_campaign_id) "
        f"VALUES ({sender_}, {at} + {span}, 0, {me}, NULL) "
        f"ON CONFLICT (sender) DO UPDATE SET "
        f"next_slot_at = {_greatest()}({busy}, {at}) + {span}, "
        f"behind_campaign_id = CASE WHEN {_TABLE}.campaign_id <> {me} AND {busy} > {at} "
        f"THEN {_TABLE}.campaign_id ELSE NULL END, "
        f"campaign_id = {me} "
        f"RETURNING next_slot_at, behind_campaign_id, {at}"
    )
    params = {"sender": sender, "span": count * interval, "me": campaign_id, "now": now}
    with database.atomic():
        next_slot_at, behind, moment = database.execute_sql(sql, params).fetchone()
    return SlotClaim(max(0.0, float(next_slot_at) - count * interval - float(moment)), behind)


def _hold_of(sender: str, campaign_id: int, now: float | None) -> SlotClaim:
    at = _now(now)
    row = database.execute_sql(
        f"SELECT held_until, campaign_id, {at} FROM {_TABLE} WHERE sender = {_name('sender')}",
        {"sender": sender, "now": now},
    ).fetchone()
    if row is None:
        return SlotClaim(0.0, None)
    held_until, holder, moment = row
    wait = float(held_until) - float(moment)
    if not 0 < wait <= HORIZON:
        return SlotClaim(0.0, None)
    return SlotClaim(wait, holder if holder != campaign_id else None)


def hold_sender(sender: str, campaign_id: int, seconds: float, now: float | None = None) -> None:
    """Send nothing from ``sender`` for ``seconds`` (the provider said it is busy), whichever
    campaign or process would."""
    if seconds <= 0:
        return
    at = _now(now)
    until = f"{at} + {_name('seconds')}"
    held = f"{_TABLE}.held_until"
    sql = (
        f"INSERT INTO {_TABLE} (sender, next_slot_at, held_until, campaign_id, behind_campaign_id) "
        f"VALUES ({_name('sender')}, 0, {until}, {_name('me')}, NULL) "
        f"ON CONFLICT (sender) DO UPDATE SET "
        f"held_until = CASE WHEN {held} > {until} AND {held} <= {at} + {HORIZON} "
        f"THEN {held} ELSE {until} END, campaign_id = {_name('me')}"
    )
    params = {"sender": sender, "seconds": min(seconds, HORIZON), "me": campaign_id, "now": now}
    with database.atomic():
        database.execute_sql(sql, params)


def sender_paces() -> dict[str, tuple[float, float]]:
    """Every sender's ``(next_slot_at, held_until)``, for ``doctor`` and tests."""
    return {
        row.sender: (row.next_slot_at, row.held_until)
        for row in SenderPace.select().order_by(SenderPace.sender)
    }
