"""What a campaign's messages still wait for: to be sent, or a delivery receipt.

Unknown covers three different waits, and a user acts differently on each: a message not sent
yet (its turn to be submitted, or a resume), one sent and waiting for the carrier's receipt
(carriers report for up to 72 h), and one past that window, which will keep Unknown: no receipt.
Each is counted from a small partial index (the never-sent messages, the messages still being
polled), never by reading a campaign's messages, so a million-recipient campaign costs the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from peewee import SQL, fn

from notify_tui.domain.status import SendState, Status
from notify_tui.store.campaigns import CampaignSummary
from notify_tui.store.models import Message

NEVER_SENT = (
    SendState.PENDING.value,
    SendState.ATTEMPTING.value,
    SendState.NEEDS_REVIEW.value,
    SendState.INVALID.value,
)
"""The send states of ``message_never_sent`` (models.py): a message not (yet) submitted."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """A campaign's figures beside its counters: what sending and receipts have left to do."""

    recipients: int = 0
    unknown: int = 0
    not_sent: int = 0
    """Unknown, waiting their turn to be submitted (pending, or a create on its way)."""
    needs_review: int = 0
    """Unknown, a create of unknown outcome a person must settle."""
    invalid: int = 0
    """Not valid numbers: counted Failed, never sent."""
    awaiting_receipt: int = 0
    """Sent, Unknown, inside the carriers' window: still asked about."""

    @property
    def no_receipt(self) -> int:
        """Sent, Unknown, and no longer asked about: past the window, they keep Unknown."""
        waiting = self.not_sent + self.needs_review + self.awaiting_receipt
        return max(self.unknown - waiting, 0)

    @property
    def to_send(self) -> int:
        """The messages a sender submits in all: the recipients less the invalid numbers."""
        return max(self.recipients - self.invalid, 0)

    @property
    def sent(self) -> int:
        """Of ``to_send``, those submitted or refused (the sender is done with them)."""
        return max(self.to_send - self.not_sent - self.needs_review, 0)


def waiting_of(campaigns: Sequence[CampaignSummary]) -> dict[int, Waiting]:
    """Each campaign's `Waiting` figures, in two small grouped queries for all of them."""
    if not campaigns:
        return {}
    ids = [c.id for c in campaigns]
    never: dict[int, dict[str, int]] = {c.id: {} for c in campaigns}
    for campaign_id, state, n in _never_sent(ids):
        never[campaign_id][state] = n
    awaiting = dict(_awaiting(ids))
    figures = {}
    for c in campaigns:
        states = never[c.id]
        figures[c.id] = Waiting(
            recipients=c.recipients,
            unknown=c.unknown,
            not_sent=states.get(SendState.PENDING.value, 0)
            + states.get(SendState.ATTEMPTING.value, 0),
            needs_review=states.get(SendState.NEEDS_REVIEW.value, 0),
            invalid=states.get(SendState.INVALID.value, 0),
            awaiting_receipt=awaiting.get(c.id, 0),
        )
    return figures


def waiting_of_one(campaign: CampaignSummary) -> Waiting:
    """One campaign's `Waiting` figures."""
    return waiting_of([campaign])[campaign.id]


def _never_sent(ids: Iterable[int]) -> list[tuple[int, str, int]]:
    # The partial index's own condition, in literals: SQLite uses a partial index only when it
    # can prove the query's condition implies the index's, which a bound parameter never does.
    states = ", ".join(f"'{state}'" for state in NEVER_SENT)
    select = (
        Message.select(Message.campaign, Message.send_state, fn.COUNT(Message.id))
        .where(Message.campaign.in_(list(ids)) & SQL(f'"send_state" IN ({states})'))
        .group_by(Message.campaign, Message.send_state)
    )
    return [(int(c), str(s), int(n)) for c, s, n in select.tuples()]


def _awaiting(ids: Iterable[int]) -> list[tuple[int, int]]:
    # The messages still polled (``message_pending``: only they are in it).
    select = (
        Message.select(Message.campaign, fn.COUNT(Message.id))
        .where(
            Message.campaign.in_(list(ids))
            & (Message.status == Status.UNKNOWN.value)
            & Message.next_poll_at.is_null(False)
        )
        .group_by(Message.campaign)
    )
    return [(int(c), int(n)) for c, n in select.tuples()]
