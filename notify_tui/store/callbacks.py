"""What status callbacks (push) need of the store: the messages they name and the callbacks that
came before their message.

A callback's status is applied by ``updates.apply_updates``, the poller's path: same
classification, same forward-only status, same counters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import fn

from notify_tui.store.models import Campaign, EarlyCallback, Message, SchemaInfo, database

__all__ = [
    "EARLY_LIMIT",
    "EARLY_TTL",
    "CallbackTarget",
    "expire_early",
    "keep_early",
    "last_received",
    "note_received",
    "take_early",
    "targets",
]

EARLY_LIMIT = 10_000
"""Callbacks about unknown SIDs kept at most, workspace-wide, by default (the
``callback_early_limit`` setting); past it, new ones are dropped."""

EARLY_TTL = timedelta(minutes=5)
"""How long a callback about an unknown SID waits for its message by default (the
``callback_early_ttl`` setting); then it is foreign."""

_BATCH = 500


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    """Our message a callback names, with what its answer is checked against."""

    message_id: int
    campaign_id: int
    phone: str
    attempted_at: datetime | None
    sender: str | None
    messaging_service_sid: str | None


def targets(sids: Sequence[str]) -> dict[str, CallbackTarget]:
    """The messages holding these SIDs, by SID."""
    found: dict[str, CallbackTarget] = {}
    wanted = sorted(set(sids))
    for start in range(0, len(wanted), _BATCH):
        rows = (
            Message.select(
                Message.sid,
                Message.id,
                Message.campaign,
                Message.phone,
                Message.attempted_at,
                Campaign.sender,
                Campaign.messaging_service_sid,
            )
            .join(Campaign)
            .where(Message.sid.in_(wanted[start : start + _BATCH]))
            .tuples()
        )
        for sid, *rest in rows:
            found[sid] = CallbackTarget(*rest)
    return found


def keep_early(
    callbacks: Sequence[tuple[str, Mapping[str, str]]], now: datetime, limit: int = EARLY_LIMIT
) -> int:
    """Keep callbacks about SIDs no message holds yet, up to ``limit`` in all; answers how many
    were kept (the rest are dropped)."""
    if not callbacks:
        return 0
    with database.atomic():
        room = limit - EarlyCallback.select(fn.COUNT(EarlyCallback.id)).scalar()
        kept = list(callbacks[: max(room, 0)])
        if kept:
            EarlyCallback.insert_many(
                [
                    {"sid": sid, "params": json.dumps(dict(params)), "received_at": now}
                    for sid, params in kept
                ]
            ).execute()
    return len(kept)


def take_early(now: datetime) -> list[dict[str, str]]:
    """The kept callbacks whose SID a message now holds, removed from keeping (call inside the
    transaction that applies them: a crash keeps both or neither). Taken by one ``DELETE ...
    RETURNING``: two receivers never take the same one."""
    held = Message.select(Message.sid).where(Message.sid.is_null(False))
    taken = (
        EarlyCallback.delete()
        .where(EarlyCallback.sid.in_(held))
        .returning(EarlyCallback.id, EarlyCallback.params)
        .tuples()
        .execute()
    )
    return [json.loads(params) for _, params in sorted(taken)]


def expire_early(now: datetime, ttl: timedelta = EARLY_TTL) -> list[dict[str, str]]:
    """Drop the kept callbacks older than ``ttl`` (their SID never appeared): answers them, each
    to one receiver only."""
    taken = (
        EarlyCallback.delete()
        .where(EarlyCallback.received_at < now - ttl)
        .returning(EarlyCallback.params)
        .tuples()
        .execute()
    )
    return [json.loads(params) for (params,) in taken]


def early_count() -> int:
    """Callbacks kept waiting for their message."""
    return int(EarlyCallback.select(fn.COUNT(EarlyCallback.id)).scalar() or 0)


_LAST = "callbacks:last"


def note_received(now: datetime) -> None:
    """Say, workspace-wide, that callbacks were received at ``now`` (the app shows push as
    working while they keep coming)."""
    value = now.isoformat()
    SchemaInfo.insert(key=_LAST, value=value).on_conflict(
        conflict_target=[SchemaInfo.key], update={SchemaInfo.value: value}
    ).execute()


def last_received() -> datetime | None:
    """When any receiver of the workspace last received a callback."""
    row = SchemaInfo.get_or_none(SchemaInfo.key == _LAST)
    if row is None:
        return None
    try:
        return datetime.fromisoformat(row.value)
    except ValueError:
        return None
