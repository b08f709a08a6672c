"""Provider faults kept in the workspace: answers that were not applied, and why.

Written in the transaction of the batch they came with (so a crash keeps both or neither), read
by the CLI's summaries, the app's notifications and ``doctor``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from peewee import fn

from notify_tui.domain.faults import CLIP, Fault, clip
from notify_tui.store.bulk import executemany
from notify_tui.store.models import Message, ProviderFault, database, utcnow

__all__ = ["FaultSummary", "fault_summary", "recent_faults", "record_faults"]

_INSERT = (
    f'INSERT INTO "{ProviderFault._meta.table_name}" ("at", "operation", "kind", "campaign_id", '
    '"message_id", "sid", "asked", "answered") VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})'
)


def record_faults(faults: Sequence[Fault], now: datetime | None = None) -> int:
    """Keep ``faults`` (in the caller's transaction, if any); answers how many.

    A fault about a message names its campaign too, read here when the caller did not know it.
    """
    if not faults:
        return 0
    now = now or utcnow()
    # A message named by a fault may be gone (a skipped recipient's row is removed): keep the
    # fault, without the link.
    ids = sorted({f.message_id for f in faults if f.message_id is not None})
    campaigns: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        select = Message.select(Message.id, Message.campaign).where(Message.id.in_(chunk))
        campaigns.update(dict(select.tuples()))
    stamp = ProviderFault.at.db_value(now)
    rows = []
    for f in faults:
        message_id = f.message_id if f.message_id in campaigns else None
        campaign_id = f.campaign_id
        if campaign_id is None and message_id is not None:
            campaign_id = campaigns[message_id]
        rows.append(
            (
                stamp,
                str(f.operation),
                str(f.kind),
                campaign_id,
                message_id,
                clip(f.sid, 64) if f.sid else None,
                clip(f.asked, CLIP),
                clip(f.answered, CLIP),
            )
        )
    with database.atomic():
        executemany(_INSERT, rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class FaultSummary:
    """How many faults since a moment, by kind, and the latest one."""

    total: int
    by_kind: dict[str, int]
    latest: str | None
    """The latest fault in one line: ``fetch: foreign sid (asked ...; answered ...)``."""
    latest_at: datetime | None

    @property
    def kinds(self) -> str:
        """``2 foreign sid, 1 value outside the API``, most frequent first."""
        ranked = sorted(self.by_kind.items(), key=lambda item: (-item[1], item[0]))
        return ", ".join(f"{count:,} {kind}" for kind, count in ranked)


def fault_summary(
    since: datetime | None = None, campaign_id: int | None = None, after_id: int = 0
) -> FaultSummary:
    """The faults recorded since ``since`` (and after id ``after_id``), of one campaign or all."""
    condition = ProviderFault.id > after_id
    if since is not None:
        condition &= ProviderFault.at >= since
    if campaign_id is not None:
        condition &= ProviderFault.campaign == campaign_id
    by_kind = {
        str(kind): int(count)
        for kind, count in ProviderFault.select(ProviderFault.kind, fn.COUNT(ProviderFault.id))
        .where(condition)
        .group_by(ProviderFault.kind)
        .tuples()
    }
    latest = ProviderFault.select().where(condition).order_by(ProviderFault.id.desc()).first()
    text = None
    if latest is not None:
        text = (
            f"{latest.operation}: {latest.kind} (asked {latest.asked}; answered {latest.answered})"
        )
    return FaultSummary(
        sum(by_kind.values()), by_kind, text, latest.at if latest is not None else None
    )


def last_fault_id() -> int:
    """The id of the latest fault (0 when none): a mark to count the faults of a run from."""
    return int(ProviderFault.select(fn.MAX(ProviderFault.id)).scalar() or 0)


def recent_faults(limit: int = 20, campaign_id: int | None = None) -> list[ProviderFault]:
    """The latest faults, newest first."""
    select = ProviderFault.select().order_by(ProviderFault.id.desc()).limit(limit)
    if campaign_id is not None:
        select = select.where(ProviderFault.campaign == campaign_id)
    return list(select)
