"""``examine``: each check reads the workspace and reports what it finds; nothing changes.

What is checked and why it is checkable: see ``notify_tui.store.doctor``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from peewee import JOIN, PostgresqlDatabase, SqliteDatabase, fn

from notify_tui.domain.status import UNSENT, CampaignState, SendState, Status
from notify_tui.domain.text import visible
from notify_tui.store import counters, insights, name_search, sending
from notify_tui.store.db import SCHEMA_VERSION, schema_version
from notify_tui.store.doctor.findings import Check, Examination, Problem
from notify_tui.store.doctor.storage import (
    check_storage,
    check_text,
    clean,
    guarded,
    is_damage,
    note_damage,
)
from notify_tui.store.faults import fault_summary
from notify_tui.store.models import (
    ALL_MODELS,
    Campaign,
    Contact,
    Message,
    OptOutEvent,
    StatusTally,
    database,
    utcnow,
)

__all__ = ["examine", "expired_lease", "never_polled", "orphan_lease"]


def _backend() -> str:
    db = database.obj
    if isinstance(db, PostgresqlDatabase):
        params = db.connect_params
        where = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}"
        row = db.execute_sql("SELECT current_schema()").fetchone()
        schema = f", schema {row[0]}" if row and row[0] and row[0] != "public" else ""
        return f"PostgreSQL database {db.database}{schema} on {where}"
    if isinstance(db, SqliteDatabase):
        return f"SQLite file {db.database}"
    return type(db).__name__


@contextmanager
def _snapshot() -> Iterator[None]:
    """One consistent view of the workspace for every query of the examination, without
    blocking writers: a deferred SQLite transaction (WAL readers see a snapshot), PostgreSQL
    at REPEATABLE READ."""
    db = database.obj
    if isinstance(db, PostgresqlDatabase):
        with db.atomic(isolation_level="REPEATABLE READ"):
            yield
    elif isinstance(db, SqliteDatabase):
        with db.atomic(lock_type="DEFERRED"):
            yield
    else:  # pragma: no cover - the store knows only these two
        with db.atomic():
            yield


def _label(campaign_id: int, name: str) -> str:
    shown = visible(name)
    if len(shown) > 40:
        shown = shown[:39] + "…"
    return f"campaign {campaign_id} ({shown})"


def _tally_totals() -> dict[int, tuple[int, int]]:
    select = StatusTally.select(
        StatusTally.campaign, fn.SUM(StatusTally.delivered), fn.SUM(StatusTally.failed)
    ).group_by(StatusTally.campaign)
    return {int(c): (int(d or 0), int(f or 0)) for c, d, f in select.tuples()}


def expired_lease(now: datetime) -> Any:
    """A lease past its time on an Unknown message: harmless, cleared by ``repair``."""
    return (
        Message.lease_owner.is_null(False)
        & Message.lease_until.is_null(False)
        & (Message.lease_until < now)
        & (Message.status == Status.UNKNOWN.value)
    )


def orphan_lease() -> Any:
    """Half a lease, or a lease on a message that is no longer Unknown."""
    held = Message.lease_owner.is_null(False) | Message.lease_until.is_null(False)
    half = Message.lease_owner.is_null() | Message.lease_until.is_null()
    return held & (half | (Message.status != Status.UNKNOWN.value))


def never_polled() -> Any:
    """An Unknown message with a sid that no poller is scheduled to look at again."""
    return (
        (Message.status == Status.UNKNOWN.value)
        & Message.sid.is_null(False)
        & Message.next_poll_at.is_null()
        & Message.note.is_null()
    )


def _sender_running(campaign_id: int) -> bool:
    """Whether some process holds the right to send this campaign now."""
    if sending.try_lock_campaign(campaign_id):
        sending.unlock_campaign(campaign_id)
        return False
    return True


def _check_schema(found: Examination) -> None:
    db = database.obj
    tables = set(db.get_tables())
    missing = sorted(m._meta.table_name for m in ALL_MODELS if m._meta.table_name not in tables)
    version = found.schema_version
    if version != SCHEMA_VERSION or missing:
        parts = []
        if version != SCHEMA_VERSION:
            parts.append(f"schema version {version}, expected {SCHEMA_VERSION}")
        if missing:
            parts.append(f"missing tables: {', '.join(missing)}")
        found.problems.append(Problem(Check.SCHEMA, "; ".join(parts)))
    else:
        found.healthy.append(f"schema version {version} (current), all {len(ALL_MODELS)} tables")
    if isinstance(db, SqliteDatabase):
        quick = [str(row[0]) for row in db.execute_sql("PRAGMA quick_check(10)").fetchall()]
        keys = db.execute_sql("PRAGMA foreign_key_check").fetchall()
        if quick != ["ok"]:
            found.damaged = True
            found.problems.append(
                Problem(
                    Check.INTEGRITY,
                    "the SQLite file is damaged (quick_check: "
                    f"{clean('; '.join([q for q in quick if not q.startswith('***')][:3]))})",
                )
            )
        elif keys:
            found.problems.append(
                Problem(Check.INTEGRITY, f"{len(keys):,} rows refer to rows that do not exist")
            )
        else:
            found.healthy.append("SQLite file integrity (quick_check, foreign keys)")


def _check_campaigns(found: Examination) -> None:
    names = {int(c): name or "" for c, name in Campaign.select(Campaign.id, Campaign.name).tuples()}
    kept = counters.stored()
    rows = counters.count()
    tallies = _tally_totals()
    message_total = 0
    bad_counters = bad_tallies = 0
    for campaign_id, stored in kept.items():
        name = names.get(campaign_id, "")
        actual = rows.get(campaign_id, counters.Counters())
        message_total += actual.recipients
        if not stored.agrees(actual):
            bad_counters += 1
            found.problems.append(
                Problem(
                    Check.COUNTERS,
                    f"{_label(campaign_id, name)}: its counters say {stored.describe()}; its "
                    f"messages say {actual.describe()}",
                    campaign_id,
                    (campaign_id,),
                )
            )
        tallied = tallies.get(campaign_id, (0, 0))
        resolved = (actual.delivered, actual.failed - actual.invalid)
        if tallied != resolved:
            bad_tallies += 1
            found.problems.append(
                Problem(
                    Check.TALLIES,
                    f"{_label(campaign_id, name)}: its status history counts {tallied[0]:,} "
                    f"deliveries and {tallied[1]:,} failures; its messages show {resolved[0]:,} "
                    f"delivered and {resolved[1]:,} failed by the provider",
                    campaign_id,
                    (campaign_id,),
                )
            )
    strays = sorted(set(rows) - set(kept))
    if strays:
        found.problems.append(
            Problem(Check.INTEGRITY, f"messages of campaigns that do not exist: {strays[:5]}")
        )
    n = len(kept)
    if not bad_counters:
        found.healthy.append(
            f"counters of {n:,} campaign{'s' if n != 1 else ''} agree with their "
            f"{message_total:,} messages"
        )
    if not bad_tallies:
        found.healthy.append(f"status history of {n:,} campaign{'s' if n != 1 else ''}")
    wrong = insights.disagreeing(list(kept))
    for campaign_id, why in sorted(wrong.items()):
        found.problems.append(
            Problem(
                Check.BREAKDOWNS,
                f"{_label(campaign_id, names.get(campaign_id, ''))}: {why}",
                campaign_id,
                (campaign_id,),
            )
        )
    if not wrong:
        found.healthy.append(
            f"breakdowns and delivery times of {n:,} campaign{'s' if n != 1 else ''}"
        )


def _check_leases(found: Examination) -> None:
    now = found.at
    expired = Message.select().where(expired_lease(now)).count()
    orphans = Message.select().where(orphan_lease()).count()
    live = (
        Message.select(fn.COUNT(Message.id), fn.MAX(Message.lease_until))
        .where(
            Message.lease_owner.is_null(False)
            & (Message.lease_until >= now)
            & (Message.status == Status.UNKNOWN.value)
        )
        .tuples()
        .first()
    )
    if expired:
        found.problems.append(
            Problem(
                Check.EXPIRED_LEASES,
                f"{_count(expired, 'expired poller lease')} (a poller stopped without giving "
                "them back; other pollers can take the messages, but the leases should go)",
            )
        )
    if orphans:
        found.problems.append(
            Problem(
                Check.ORPHAN_LEASES,
                f"{_count(orphans, 'lease')} on messages that are no longer Unknown, or "
                "half-written",
            )
        )
    if live and live[0]:
        until = live[1]
        until_text = f" until {until:%Y-%m-%d %H:%M:%S} UTC" if isinstance(until, datetime) else ""
        found.notes.append(
            f"{int(live[0]):,} messages leased by a poller{until_text} (a running poller, or one "
            "that stopped: the leases expire on their own)"
        )
    if not expired and not orphans:
        found.healthy.append("no expired or orphan poller leases")


def _check_sending(found: Examination) -> None:
    states = (
        Message.select(Message.campaign, Message.send_state, fn.COUNT(Message.id))
        .where(Message.send_state.in_(UNSENT))
        .group_by(Message.campaign, Message.send_state)
        .tuples()
    )
    unsent: dict[int, dict[str, int]] = defaultdict(dict)
    for campaign_id, state, count in states:
        unsent[int(campaign_id)][state] = int(count)
    marked_sending = {
        int(cid): name or ""
        for cid, name in Campaign.select(Campaign.id, Campaign.name)
        .where(Campaign.state == CampaignState.SENDING)
        .tuples()
    }
    names = {
        int(cid): name or ""
        for cid, name in Campaign.select(Campaign.id, Campaign.name)
        .where(Campaign.id.in_(sorted(set(unsent) | set(marked_sending)) or [0]))
        .tuples()
    }
    trouble = False
    for campaign_id in sorted(set(unsent) | set(marked_sending)):
        label = _label(campaign_id, names.get(campaign_id, ""))
        counts = unsent.get(campaign_id, {})
        attempting, pending = counts.get(SendState.ATTEMPTING, 0), counts.get(SendState.PENDING, 0)
        if _sender_running(campaign_id):
            found.notes.append(f"{label} is being sent now ({pending + attempting:,} to go)")
            continue
        if campaign_id in marked_sending:
            trouble = True
            found.problems.append(
                Problem(
                    Check.ABANDONED_SEND,
                    f"{label} is marked as sending but no sender is running (it was stopped "
                    "or killed)",
                    campaign_id,
                    (campaign_id,),
                )
            )
        if attempting:
            trouble = True
            found.problems.append(
                Problem(
                    Check.ATTEMPTING,
                    f"{label}: {_count(attempting, 'message')} of unknown outcome (the sender "
                    "stopped while creating them). Run notify-tui send --resume "
                    f"{campaign_id}: it looks each one up and sends only those the provider "
                    "does not have",
                    campaign_id,
                    (campaign_id,),
                )
            )
        elif pending:
            found.notes.append(
                f"{label}: {pending:,} messages not sent yet (resume with notify-tui send "
                f"--resume {campaign_id})"
            )
    if not trouble:
        found.healthy.append("no message left attempting by a stopped sender")
    # Settled by a person, never by a repair: a note, with the command that settles them.
    waiting = (
        Message.select(Message.campaign, fn.COUNT(Message.id))
        .where(Message.send_state == SendState.NEEDS_REVIEW)
        .group_by(Message.campaign)
        .tuples()
    )
    for campaign_id, count in waiting:
        found.notes.append(
            f"campaign {campaign_id}: {int(count):,} messages of unknown outcome need review "
            f"(notify-tui review {campaign_id})"
        )


def _check_polling(found: Examination) -> None:
    forgotten = Message.select().where(never_polled()).count()
    if forgotten:
        found.problems.append(
            Problem(
                Check.NEVER_POLLED,
                f"{_count(forgotten, 'Unknown message')} that no poller is scheduled to look "
                "at again",
            )
        )
    else:
        found.healthy.append("every Unknown message inside the polling window is scheduled")


def _check_opt_outs(found: Examination) -> None:
    last = (
        OptOutEvent.select(OptOutEvent.contact, fn.MAX(OptOutEvent.id).alias("last_id"))
        .group_by(OptOutEvent.contact)
        .alias("last")
    )
    event = OptOutEvent.alias("event")
    select = (
        Contact.select(Contact.phone, Contact.opted_out, event.action)
        .join(last, JOIN.LEFT_OUTER, on=(last.c.contact_id == Contact.id))
        .join(event, JOIN.LEFT_OUTER, on=(event.id == last.c.last_id))
        .where(Contact.opted_out | event.id.is_null(False))
    )
    disagree = [
        phone
        for phone, opted_out, action in select.tuples()
        if bool(opted_out) != (action == "opt_out")
    ]
    if disagree:
        shown = ", ".join(disagree[:3]) + (" ..." if len(disagree) > 3 else "")
        found.problems.append(
            Problem(
                Check.OPT_OUT_TRAIL,
                f"{_count(len(disagree), 'contact')} whose opt-out state disagrees with the "
                f"last entry of the audit trail ({shown}); check with notify-tui optouts",
            )
        )
    else:
        found.healthy.append("opt-outs agree with their audit trail")


FAULT_WINDOW = timedelta(days=7)
"""Provider faults this recent are a problem ``doctor`` reports; older ones only a note."""


def _check_provider_faults(found: Examination, now: datetime) -> None:
    recent = fault_summary(since=now - FAULT_WINDOW)
    if recent.total:
        when = f"{recent.latest_at:%Y-%m-%d %H:%M} UTC" if recent.latest_at else "lately"
        found.problems.append(
            Problem(
                Check.PROVIDER_FAULTS,
                f"{_count(recent.total, 'provider answer')} rejected in the last "
                f"{FAULT_WINDOW.days} days, never applied ({recent.kinds}); latest, {when}: "
                f"{recent.latest}. The provider, or a proxy before it, answers what was not "
                "asked: check NOTIFY_PROVIDER_URL and tell the provider",
            )
        )
        return
    older = fault_summary()
    if older.total:
        found.notes.append(
            f"{_count(older.total, 'provider answer')} rejected more than {FAULT_WINDOW.days} "
            "days ago, never applied"
        )
    found.healthy.append("no provider answer rejected lately")


_SEARCHED_AS = {"message": "recipients", "contact": "contacts"}


def _check_search_index(found: Examination) -> None:
    """The search index of names (``store.name_search``) is there and (SQLite) holds a row for
    every row of its table: a missing or partial one makes searches scan or miss rows. On
    PostgreSQL without ``pg_trgm`` and no right to create it, none can be: a note that says why
    (searches scan), not a problem that ``repair`` could fix."""
    healthy = []
    for state in name_search.states():
        what = _SEARCHED_AS.get(state.table, state.table)
        if not state.present and state.why_missing:
            found.notes.append(
                f"no search index of the {what}' names: {state.why_missing}; searches read "
                "every row (once a database owner runs CREATE EXTENSION pg_trgm, "
                "doctor --repair builds it)"
            )
        elif not state.present:
            found.problems.append(
                Problem(
                    Check.SEARCH_INDEX,
                    f"the search index of the {what}' names is missing (searches read every row)",
                )
            )
        elif not state.in_sync:
            found.problems.append(
                Problem(
                    Check.SEARCH_INDEX,
                    f"the search index of the {what}' names holds {state.indexed:,} rows of "
                    f"{state.rows:,} (a search may miss some)",
                )
            )
        else:
            healthy.append(f"{what} ({state.rows:,})")
    if healthy:
        found.healthy.append(f"search index of names: {', '.join(healthy)}")


def examine(now: datetime | None = None) -> Examination:
    """Check the open workspace; changes nothing. A damaged SQLite file is checked as far as it
    can be read; ``salvaged`` then says which tables still read to the end."""
    now = now or utcnow()
    started: Examination | None = None
    try:
        with _snapshot():
            found = started = Examination(now, _backend(), schema_version(database.obj))
            guarded(found, "the schema and the file", _check_schema)
            guarded(found, "the text of every row", check_text)
            guarded(found, "the campaigns", _check_campaigns)
            guarded(found, "the poller leases", _check_leases)
            guarded(found, "the polling schedule", _check_polling)
            guarded(found, "the opt-outs", _check_opt_outs)
            guarded(found, "the search index", _check_search_index)
            guarded(found, "the provider faults", lambda f: _check_provider_faults(f, now))
    except Exception as exc:
        # SQLite may fail even to end a read on a damaged file (or have ended it itself, after
        # the damage a check ran into: "no transaction is active").
        if started is None or not (is_damage(exc) or started.damaged):
            raise
        found = started
        if not found.damaged:
            note_damage(found, "the file", exc)
    # Outside the snapshot: taking a campaign's send lock must see the current state.
    guarded(found, "the sends", _check_sending)
    check_storage(found)
    return found


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
