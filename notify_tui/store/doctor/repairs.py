"""``repair``: fix what an examination found that can be derived from the rows, each fix in one
transaction. Never touches a message's status; never guesses whether a create reached the
provider.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from peewee import PostgresqlDatabase, fn

from notify_tui.domain.status import CampaignState, SendState, Status
from notify_tui.store import counters, insights, name_search, sending
from notify_tui.store.doctor.checks import expired_lease, never_polled, orphan_lease
from notify_tui.store.doctor.findings import Check, Examination
from notify_tui.store.doctor.storage import make_private
from notify_tui.store.models import (
    Campaign,
    Message,
    StatusTally,
    database,
    utcnow,
)

__all__ = [
    "clear_leases",
    "mark_interrupted",
    "rebuild_search_index",
    "rebuild_tallies",
    "repair",
    "schedule_forgotten",
]


def _minute(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.replace(second=0, microsecond=0)
    return datetime.strptime(str(value)[:16], "%Y-%m-%d %H:%M")


def rebuild_tallies(campaign_ids: list[int]) -> int:
    """Rebuild the campaigns' status history from their messages' ``resolved_at``; answers how
    many minutes were written."""
    if not campaign_ids:
        return 0
    if isinstance(database.obj, PostgresqlDatabase):
        minute: Any = fn.date_trunc("minute", Message.resolved_at)
    else:
        minute = fn.strftime("%Y-%m-%d %H:%M:00", Message.resolved_at)
    written = 0
    with database.atomic():
        counters.lock(campaign_ids)
        select = (
            Message.select(Message.campaign, minute, Message.status, fn.COUNT(Message.id))
            .where(
                Message.campaign.in_(campaign_ids)
                & Message.status.in_([Status.DELIVERED.value, Status.FAILED.value])
                & (Message.send_state != SendState.INVALID)
                & Message.resolved_at.is_null(False)
            )
            .group_by(Message.campaign, minute, Message.status)
        )
        series: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0])
        for campaign_id, at, status, count in select.tuples():
            slot = series[(int(campaign_id), _minute(at))]
            slot[0 if status == Status.DELIVERED.value else 1] += int(count)
        StatusTally.delete().where(StatusTally.campaign.in_(campaign_ids)).execute()
        rows = [
            {"campaign": c, "minute": m, "delivered": d, "failed": f}
            for (c, m), (d, f) in sorted(series.items())
        ]
        for start in range(0, len(rows), 500):
            StatusTally.insert_many(rows[start : start + 500]).execute()
        written = len(rows)
    return written


def clear_leases(now: datetime | None = None) -> int:
    """Clear expired and orphan leases; answers how many."""
    now = now or utcnow()
    with database.atomic():
        return int(
            Message.update(lease_owner=None, lease_until=None)
            .where(expired_lease(now) | orphan_lease())
            .execute()
        )


def schedule_forgotten(now: datetime | None = None) -> int:
    """Make forgotten Unknown messages due now; the next poller cycle looks at them."""
    now = now or utcnow()
    with database.atomic():
        return int(Message.update(next_poll_at=now).where(never_polled()).execute())


def mark_interrupted(campaign_ids: list[int]) -> list[int]:
    """Mark campaigns ``interrupted`` that are marked ``sending`` with no sender running."""
    done = []
    for campaign_id in campaign_ids:
        if not sending.try_lock_campaign(campaign_id):
            continue
        try:
            updated = (
                Campaign.update(state=CampaignState.INTERRUPTED)
                .where((Campaign.id == campaign_id) & (Campaign.state == CampaignState.SENDING))
                .execute()
            )
        finally:
            sending.unlock_campaign(campaign_id)
        if updated:
            done.append(campaign_id)
    return done


def rebuild_search_index() -> str:
    """Build the search index of names again from the rows (one transaction); answers what was
    done, or why it could not be (PostgreSQL without ``pg_trgm`` and no right to create it)."""
    why = name_search.rebuild(database.obj)
    if why is not None:
        return f"could not build the search index of names: {why}; searches keep reading every row"
    rows = sum(state.rows for state in name_search.states())
    return f"rebuilt the search index of names from the rows ({rows:,} rows)"


def repair(found: Examination, now: datetime | None = None) -> list[str]:
    """Fix the repairable problems of ``found``; answers one line per thing done. A damaged
    SQLite file is not written to at all: restore a backup."""
    now = now or utcnow()
    done: list[str] = []
    if found.of(Check.PERMISSIONS):
        private = make_private()
        if private:
            done.append(f"made {', '.join(private)} readable by you only (600)")
    if found.damaged:
        return done
    recount = sorted({p.campaign_id for p in found.of(Check.COUNTERS) if p.campaign_id})
    if recount:
        counters.recount(recount)
        done.append(f"recomputed the counters of {_campaign_list(recount)} from the messages")
    breakdowns = sorted(
        {p.campaign_id for p in found.of(Check.BREAKDOWNS) if p.campaign_id} - set(recount)
    )
    if breakdowns:
        # (A recount above rebuilt them too.)
        with database.atomic():
            counters.lock(breakdowns)
            insights.rebuild(breakdowns)
        done.append(
            f"recounted the breakdowns and delivery times of {_campaign_list(breakdowns)} from "
            "the messages"
        )
    tallies = sorted({p.campaign_id for p in found.of(Check.TALLIES) if p.campaign_id})
    if tallies:
        minutes = rebuild_tallies(tallies)
        done.append(
            f"rebuilt the status history of {_campaign_list(tallies)} from the messages "
            f"({minutes:,} minutes)"
        )
    if found.of(Check.EXPIRED_LEASES) or found.of(Check.ORPHAN_LEASES):
        done.append(f"cleared {clear_leases(now):,} expired or orphan poller leases")
    if found.of(Check.NEVER_POLLED):
        done.append(f"scheduled {schedule_forgotten(now):,} forgotten Unknown messages for a look")
    if found.of(Check.SEARCH_INDEX):
        done.append(rebuild_search_index())
    abandoned = sorted({p.campaign_id for p in found.of(Check.ABANDONED_SEND) if p.campaign_id})
    if abandoned:
        marked = mark_interrupted(abandoned)
        if marked:
            done.append(
                f"marked {_campaign_list(marked)} interrupted (resume with notify-tui send "
                "--resume ID)"
            )
    return done


def _campaign_list(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
    return f"campaign{'s' if len(ids) != 1 else ''} {shown}"
