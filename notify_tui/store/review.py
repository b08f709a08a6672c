"""Recipients whose create's outcome a lookup could not prove: listing them and settling them.

A message is ``needs_review`` when the provider holds messages that match its create (number,
body, sender) but none provably made by it (``services.sender.lookup``). A person settles it:
adopt one provider message (``services.review.adopt``), send it again (``resend``), or leave it
(``skip``). Until then it is Unknown, not polled, and never sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from peewee import fn

from notify_tui.domain.status import CampaignState, SendState
from notify_tui.store.models import Campaign, Message, database, utcnow

_BATCH = 500


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A recipient waiting for review, and why."""

    message_id: int
    phone: str
    name: str
    note: str
    body: str | None = None
    """The recipient's own text (a personal message), or ``None``: the campaign's body."""


def needs_review(campaign_id: int, phone: str | None = None) -> list[ReviewItem]:
    """The campaign's recipients that need review (one number's, with ``phone``), by id."""
    condition = (Message.campaign == campaign_id) & (Message.send_state == SendState.NEEDS_REVIEW)
    if phone is not None:
        condition &= Message.phone == phone
    select = (
        Message.select(Message.id, Message.phone, Message.name, Message.note, Message.body)
        .where(condition)
        .order_by(Message.id)
    )
    return [
        ReviewItem(int(i), p, n or "", note or "", body) for i, p, n, note, body in select.tuples()
    ]


def review_counts(campaign_ids: Sequence[int]) -> dict[int, int]:
    """How many recipients of each campaign need review (campaigns with none are left out)."""
    found: dict[int, int] = {}
    ids = list(campaign_ids)
    for start in range(0, len(ids), _BATCH):
        select = (
            Message.select(Message.campaign, fn.COUNT(Message.id))
            .where(
                Message.campaign.in_(ids[start : start + _BATCH])
                & (Message.send_state == SendState.NEEDS_REVIEW)
            )
            .group_by(Message.campaign)
        )
        found.update({int(c): int(n) for c, n in select.tuples()})
    return found


def resend(campaign_id: int, message_ids: Sequence[int], now: datetime | None = None) -> int:
    """Put reviewed messages back to pending, for ``send --resume`` (or the app's resume) to
    send again; the campaign becomes resumable. Answers how many moved."""
    now = now or utcnow()
    moved = 0
    with database.atomic():
        for start in range(0, len(message_ids), _BATCH):
            moved += (
                Message.update(
                    send_state=SendState.PENDING,
                    note="resent after review",
                    attempted_at=None,
                    attempt_deadline=None,
                    updated_at=now,
                )
                .where(
                    Message.id.in_(list(message_ids[start : start + _BATCH]))
                    & (Message.campaign == campaign_id)
                    & (Message.send_state == SendState.NEEDS_REVIEW)
                )
                .execute()
            )
        if moved:
            Campaign.update(state=CampaignState.INTERRUPTED).where(
                (Campaign.id == campaign_id) & (Campaign.state == CampaignState.SENT)
            ).execute()
    return moved


def skip(
    campaign_id: int, message_ids: Sequence[int], actor: str, now: datetime | None = None
) -> int:
    """Leave reviewed messages as they are: neither adopted nor sent again. They stay Unknown
    (nobody knows whether the person got the message). Answers how many were skipped."""
    now = now or utcnow()
    moved = 0
    with database.atomic():
        for start in range(0, len(message_ids), _BATCH):
            moved += (
                Message.update(
                    send_state=SendState.SKIPPED,
                    note=f"skipped in review by {actor}: outcome unknown, not sent again",
                    updated_at=now,
                )
                .where(
                    Message.id.in_(list(message_ids[start : start + _BATCH]))
                    & (Message.campaign == campaign_id)
                    & (Message.send_state == SendState.NEEDS_REVIEW)
                )
                .execute()
            )
    return moved
