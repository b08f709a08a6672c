"""Follow-ups: who of a campaign's recipients may get the message again, and what came of it.

A follow-up resends to recipients who failed for a cause that may pass (``RETRYABLE``: the
phone was off, a queue overflowed, an unknown error, a rate limit) and to nobody else: never to
the delivered, the still Unknown (they may yet be delivered), the opted out (a STOP among
them), landlines and numbers that are invalid or unknown to the network. The follow-up is a
campaign of its own, linked to the original (``Campaign.followup_of``); ``recovered`` says how
many of its recipients it delivered to.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from peewee import JOIN

from notify_tui.domain.numbers import LineType
from notify_tui.domain.status import Status
from notify_tui.store.contacts import decode_attributes
from notify_tui.store.models import Campaign, Contact, Message, NumberProfile, database

__all__ = [
    "RETRYABLE",
    "Candidates",
    "Recovery",
    "candidates",
    "followups_of",
    "link",
    "recovered",
]

RETRYABLE: dict[int, str] = {
    30003: "unreachable handset (the phone was off or out of coverage)",
    30001: "queue overflow",
    30008: "unknown error",
    30022: "10DLC rate limit exceeded",
}
"""The failure codes whose cause may pass: the only ones a follow-up resends to."""

_NOT_TEXTABLE = (*(t.value for t in LineType if t.landline), LineType.INVALID.value)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recipient a follow-up would send to: the original message and who it went to."""

    message_id: int
    phone: str
    name: str
    code: int
    body: str | None
    """Their own text in the original (a personal message), or ``None``: the campaign's."""
    attributes: dict[str, str] | None = None
    """The contact's attributes, for a personal message's fields."""
    invalid_reason: str | None = None
    """Always ``None``: every candidate's number is valid (a ``RecipientLike``)."""


@dataclass(frozen=True)
class Candidates:
    """Who a follow-up of a campaign would reach, and who it leaves out and why."""

    campaign_id: int
    chosen: list[Candidate] = field(repr=False)
    left_out: Counter[str] = field(default_factory=Counter)
    """How many recipients are left out, by why (``"delivered"``, ``"still unknown"``, ...)."""
    by_code: Counter[int] = field(default_factory=Counter)
    """The chosen, by failure code."""


def candidates(
    campaign_id: int,
    codes: Iterable[int] | None = None,
    failed_before: datetime | None = None,
) -> Candidates:
    """The recipients of the campaign a follow-up would send to (``codes``: only these of the
    ``RETRYABLE`` codes; ``failed_before``: only failures the provider dated before then).

    Reads the campaign's failed messages (the ``(campaign, status, reason)`` index) and its
    counters; nothing else of a large campaign."""
    wanted = sorted(set(RETRYABLE if codes is None else codes) & set(RETRYABLE))
    campaign = Campaign.get_by_id(campaign_id)
    left_out: Counter[str] = Counter()
    if campaign.delivered:
        left_out["delivered"] = int(campaign.delivered)
    if campaign.unknown:
        left_out["still unknown (may yet be delivered)"] = int(campaign.unknown)
    already = _already_followed_up(campaign_id)
    select = (
        Message.select(
            Message.id,
            Message.phone,
            Message.name,
            Message.error_code,
            Message.body,
            Message.resolved_at,
            Contact.opted_out,
            Contact.attributes,
            NumberProfile.line_type,
        )
        .join(Contact, JOIN.LEFT_OUTER, on=(Message.contact == Contact.id))
        .join(NumberProfile, JOIN.LEFT_OUTER, on=(Message.profile_id == NumberProfile.id))
        .where((Message.campaign == campaign_id) & (Message.status == Status.FAILED.value))
        .order_by(Message.id)
    )
    chosen: list[Candidate] = []
    by_code: Counter[int] = Counter()
    when = Message.resolved_at.python_value
    for mid, phone, name, code, body, resolved, opted_out, attrs, line_type in select.tuples():
        if code not in wanted:
            why = "failed for a cause a resend does not fix" if code not in RETRYABLE else None
            left_out[why or "failed with a code not chosen"] += 1
        elif opted_out:
            left_out["opted out"] += 1
        elif line_type in _NOT_TEXTABLE:
            left_out["a landline or invalid number"] += 1
        elif phone in already:
            left_out["in an earlier follow-up"] += 1
        elif failed_before is not None and (resolved is None or when(resolved) > failed_before):
            left_out["failed too recently"] += 1
        else:
            attributes = decode_attributes(attrs) if attrs else None
            chosen.append(Candidate(int(mid), phone, name or "", int(code), body, attributes))
            by_code[int(code)] += 1
    return Candidates(campaign_id, chosen, left_out, by_code)


def _already_followed_up(campaign_id: int) -> set[str]:
    children = followups_of(campaign_id)
    if not children:
        return set()
    select = Message.select(Message.phone).where(Message.campaign.in_(children))
    return {phone for (phone,) in select.tuples()}


def link(followup_id: int, original_id: int) -> None:
    """Record that ``followup_id`` follows ``original_id`` up."""
    Campaign.update(followup_of=original_id).where(Campaign.id == followup_id).execute()


def followups_of(campaign_id: int) -> list[int]:
    """The follow-ups of a campaign, oldest first."""
    select = Campaign.select(Campaign.id).where(Campaign.followup_of == campaign_id)
    return [int(cid) for (cid,) in select.order_by(Campaign.id).tuples()]


@dataclass(frozen=True, slots=True)
class Recovery:
    """What a campaign's follow-ups achieved: ``recovered`` of their ``of`` recipients were
    delivered to, ``unknown`` are still to be told."""

    recovered: int = 0
    of: int = 0
    unknown: int = 0
    followups: int = 0

    def describe(self) -> str:
        """``recovered 38 of 55`` (and how many are still unknown); "" without follow-ups."""
        if not self.followups:
            return ""
        text = f"recovered {self.recovered:,} of {self.of:,}"
        return f"{text} ({self.unknown:,} still unknown)" if self.unknown else text


def recovered(campaign_id: int) -> Recovery:
    """How many recipients the campaign's follow-ups delivered to (their counters: one row
    each, no scan)."""
    with database.atomic():
        rows = list(
            Campaign.select(Campaign.delivered, Campaign.recipients, Campaign.unknown)
            .where(Campaign.followup_of == campaign_id)
            .tuples()
        )
    return Recovery(
        sum(int(d) for d, _, _ in rows),
        sum(int(r) for _, r, _ in rows),
        sum(int(u) for _, _, u in rows),
        len(rows),
    )
