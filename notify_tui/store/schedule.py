"""Scheduled messages: those the provider holds for a later time, and cancelling a campaign's.

A message created with ``ScheduleType=fixed`` is Unknown with the raw status ``scheduled`` until
its time. The provider cancels one only when asked (``services.schedule``), and never on its
own when the person opts out: these queries find what must be asked.
"""

from __future__ import annotations

from datetime import datetime

from peewee import JOIN, fn

from notify_tui.domain.status import CampaignState, SendState, Status, classify_message
from notify_tui.store.campaigns import set_state
from notify_tui.store.models import Contact, Message, database, utcnow
from notify_tui.store.updates import AppliedUpdates, StatusUpdate, apply_updates

SCHEDULED = "scheduled"
"""The provider's raw status of a message it holds for later."""


def _scheduled() -> object:
    return (
        (Message.provider_status == SCHEDULED)
        & (Message.status == Status.UNKNOWN.value)
        & Message.sid.is_null(False)
    )


def scheduled_messages(campaign_id: int) -> list[tuple[int, str]]:
    """``(message_id, sid)`` of the campaign's messages the provider holds for later."""
    select = (
        Message.select(Message.id, Message.sid)
        .where((Message.campaign == campaign_id) & _scheduled())
        .order_by(Message.id)
    )
    return [(int(m), str(sid)) for m, sid in select.tuples()]


def scheduled_to_opted_out(limit: int = 500) -> list[tuple[int, str]]:
    """``(message_id, sid)`` of messages the provider holds for numbers now opted out (a STOP,
    a person, the policy): each must be cancelled, the provider won't. A query, not a flag:
    whatever wrote the opt-out, and whenever the process died, the next look finds them."""
    select = (
        Message.select(Message.id, Message.sid)
        .join(Contact, JOIN.INNER, on=(Contact.phone == Message.phone))
        .where(Contact.opted_out & _scheduled())
        .order_by(Message.id)
        .limit(limit)
    )
    return [(int(m), str(sid)) for m, sid in select.tuples()]


def unsent_counts(campaign_id: int) -> tuple[int, int]:
    """``(pending, attempting)`` messages of the campaign."""
    pending = attempting = 0
    for state, count in (
        Message.select(Message.send_state, fn.COUNT(Message.id))
        .where(
            (Message.campaign == campaign_id)
            & Message.send_state.in_([SendState.PENDING.value, SendState.ATTEMPTING.value])
        )
        .group_by(Message.send_state)
        .tuples()
    ):
        if state == SendState.PENDING.value:
            pending = int(count)
        else:
            attempting = int(count)
    return pending, attempting


def cancel_unsent(campaign_id: int, now: datetime | None = None) -> AppliedUpdates:
    """Mark the campaign ``canceled`` and each message never created Failed, "Canceled"
    (``skipped``): nothing of it is sent from now on, by any process (a sender refuses a
    cancelled campaign). Messages ``attempting`` are left for the caller to settle."""
    now = now or utcnow()
    canceled = classify_message("canceled", None, None)
    with database.atomic():
        set_state(campaign_id, CampaignState.CANCELED, now=now)
        ids = [
            int(m)
            for (m,) in Message.select(Message.id)
            .where(
                (Message.campaign == campaign_id) & (Message.send_state == SendState.PENDING.value)
            )
            .tuples()
        ]
        updates = [
            StatusUpdate(
                m,
                canceled,
                provider_status=None,
                send_state=SendState.SKIPPED,
                note="cancelled before it was sent",
            )
            for m in ids
        ]
        return apply_updates(updates, now)


def attempting(
    campaign_id: int,
) -> list[tuple[int, str, datetime | None, datetime | None, str | None]]:
    """``(message_id, phone, attempted_at, attempt_deadline, body)`` of the campaign's creates
    of unknown outcome (a sender died with them on their way)."""
    select = (
        Message.select(
            Message.id, Message.phone, Message.attempted_at, Message.attempt_deadline, Message.body
        )
        .where(
            (Message.campaign == campaign_id) & (Message.send_state == SendState.ATTEMPTING.value)
        )
        .order_by(Message.id)
    )
    return [(int(m), str(p), at, deadline, body) for m, p, at, deadline, body in select.tuples()]
