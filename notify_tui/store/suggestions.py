"""Opt-out suggestions, and the per-number history the opt-out policy judges."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN, fn

from notify_tui.domain.optout_policy import Attempt, SuggestionState
from notify_tui.domain.status import Status
from notify_tui.store import optouts
from notify_tui.store.models import (
    Campaign,
    Contact,
    Message,
    OptOutEvent,
    OptOutSuggestion,
    database,
    utcnow,
)

HISTORY_DEPTH = 20
"""How many of a number's latest outcomes the policy looks at."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A pending suggestion as the review dialog and ``notify-tui suggestions`` show it."""

    id: int
    phone: str
    name: str
    campaign_id: int | None
    rule: str
    code: int | None
    reason: str
    evidence: dict[str, object]
    held: bool
    created_at: datetime


def phone_histories(phones: Iterable[str]) -> dict[str, list[Attempt]]:
    """Each number's latest final outcomes across campaigns, oldest first."""
    wanted = sorted(set(phones))
    found: dict[str, list[Attempt]] = defaultdict(list)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        select = (
            Message.select(
                Message.phone,
                Message.campaign,
                Message.status,
                Message.error_code,
                Message.reason,
                Message.resolved_at,
            )
            .where(Message.phone.in_(chunk) & (Message.status != Status.UNKNOWN.value))
            .order_by(Message.phone, Message.resolved_at, Message.id)
        )
        for phone, campaign_id, status, code, reason, at in select.tuples():
            found[phone].append(Attempt(campaign_id, Status(status), code, reason, at))
    return {phone: attempts[-HISTORY_DEPTH:] for phone, attempts in found.items()}


def failed_phones(after_id: int = 0, limit: int = 5000) -> list[tuple[int, str]]:
    """(message id, phone) of failed messages after ``after_id``: for re-judging all history."""
    select = (
        Message.select(Message.id, Message.phone)
        .where((Message.status == Status.FAILED.value) & (Message.id > after_id))
        .order_by(Message.id)
        .limit(limit)
    )
    return list(select.tuples())


def automatic_opt_outs(campaign_id: int) -> int:
    """How many numbers the policy opted out automatically because of this campaign."""
    return int(
        OptOutEvent.select()
        .where(
            (OptOutEvent.campaign == campaign_id)
            & (OptOutEvent.action == "opt_out")
            & (OptOutEvent.source == optouts.SOURCE_POLICY)
        )
        .count()
    )


def campaign_recipients(campaign_ids: Iterable[int]) -> dict[int, int]:
    """Recipients per campaign."""
    ids = list(set(campaign_ids))
    if not ids:
        return {}
    select = Campaign.select(Campaign.id, Campaign.recipients).where(Campaign.id.in_(ids))
    return dict(select.tuples())


@dataclass(frozen=True, slots=True)
class NewSuggestion:
    """A suggestion to record: the number, why, and the failures that led to it."""

    phone: str
    campaign_id: int | None
    rule: str
    code: int | None
    reason: str
    evidence: Mapping[str, object]
    held: bool = False


def suggest(
    phone: str,
    *,
    campaign_id: int | None,
    rule: str,
    code: int | None,
    reason: str,
    evidence: Mapping[str, object],
    held: bool = False,
    now: datetime | None = None,
) -> bool:
    """Record a pending suggestion (one per number: a newer one replaces the older)."""
    entry = NewSuggestion(phone, campaign_id, rule, code, reason, evidence, held)
    return bool(suggest_many([entry], now))


def suggest_many(entries: Sequence[NewSuggestion], now: datetime | None = None) -> list[str]:
    """Record pending suggestions in bulk; returns the numbers suggested.

    One pending suggestion per number: a newer one replaces the older. Numbers without a
    contact, or already opted out, are skipped.
    """
    now = now or utcnow()
    latest = {entry.phone: entry for entry in entries}
    phones = sorted(latest)
    done: list[str] = []
    with database.atomic():
        for start in range(0, len(phones), 500):
            chunk = phones[start : start + 500]
            contacts = {
                phone: contact_id
                for phone, contact_id, opted_out in Contact.select(
                    Contact.phone, Contact.id, Contact.opted_out
                )
                .where(Contact.phone.in_(chunk))
                .tuples()
                if not opted_out
            }
            pending_ids: dict[str, int] = dict(
                OptOutSuggestion.select(OptOutSuggestion.phone, OptOutSuggestion.id)
                .where(
                    OptOutSuggestion.phone.in_(chunk)
                    & (OptOutSuggestion.state == SuggestionState.PENDING)
                )
                .tuples()
            )
            new_rows: list[dict[str, object]] = []
            for phone in chunk:
                contact_id = contacts.get(phone)
                if contact_id is None:
                    continue
                entry = latest[phone]
                fields: dict[str, object] = {
                    "campaign": entry.campaign_id,
                    "rule": entry.rule,
                    "code": entry.code,
                    "reason": entry.reason,
                    "evidence": json.dumps(dict(entry.evidence), default=str),
                    "held": entry.held,
                }
                if phone in pending_ids:
                    OptOutSuggestion.update(fields).where(
                        OptOutSuggestion.id == pending_ids[phone]
                    ).execute()
                else:
                    new_rows.append(
                        {"contact": contact_id, "phone": phone, "created_at": now, **fields}
                    )
                done.append(phone)
            if new_rows:
                OptOutSuggestion.insert_many(new_rows).execute()
    return done


def _suggestion(row: tuple[object, ...]) -> Suggestion:
    sid, phone, name, campaign_id, rule, code, reason, evidence, held, created = row
    try:
        parsed = json.loads(str(evidence or "{}"))
    except ValueError:
        parsed = {}
    return Suggestion(
        int(sid),  # type: ignore[call-overload]
        str(phone),
        str(name or ""),
        campaign_id,
        str(rule),
        code,
        str(reason),
        parsed if isinstance(parsed, dict) else {},
        bool(held),
        created,
    )


def pending(campaign_id: int | None = None) -> list[Suggestion]:
    """Pending suggestions, oldest first; only those from one campaign if given."""
    select = (
        OptOutSuggestion.select(
            OptOutSuggestion.id,
            OptOutSuggestion.phone,
            Contact.name,
            OptOutSuggestion.campaign,
            OptOutSuggestion.rule,
            OptOutSuggestion.code,
            OptOutSuggestion.reason,
            OptOutSuggestion.evidence,
            OptOutSuggestion.held,
            OptOutSuggestion.created_at,
        )
        .join(Contact, JOIN.LEFT_OUTER, on=(OptOutSuggestion.contact == Contact.id))
        .where(OptOutSuggestion.state == SuggestionState.PENDING)
        .order_by(OptOutSuggestion.id)
    )
    if campaign_id is not None:
        select = select.where(OptOutSuggestion.campaign == campaign_id)
    return [_suggestion(row) for row in select.tuples()]


def pending_counts(campaign_ids: Sequence[int] | None = None) -> dict[int, int]:
    """Pending suggestions per campaign (for History's mark)."""
    count = fn.COUNT(OptOutSuggestion.id)
    select = (
        OptOutSuggestion.select(OptOutSuggestion.campaign, count)
        .where(
            (OptOutSuggestion.state == SuggestionState.PENDING)
            & OptOutSuggestion.campaign.is_null(False)
        )
        .group_by(OptOutSuggestion.campaign)
    )
    if campaign_ids is not None:
        select = select.where(OptOutSuggestion.campaign.in_(list(campaign_ids)))
    return {int(c): int(n) for c, n in select.tuples()}


def accept(ids: Iterable[int], actor: str, now: datetime | None = None) -> int:
    """Opt out the numbers of these pending suggestions; returns how many were opted out."""
    now = now or utcnow()
    wanted = list(ids)
    accepted = 0
    with database.atomic():
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = list(
                OptOutSuggestion.select().where(
                    OptOutSuggestion.id.in_(chunk)
                    & (OptOutSuggestion.state == SuggestionState.PENDING)
                )
            )
            requests = [
                optouts.OptOutRequest(
                    row.phone,
                    source=optouts.SOURCE_POLICY,
                    reason=f"suggestion accepted: {row.reason}",
                    actor=actor,
                    campaign_id=row.campaign_id,  # type: ignore[attr-defined]  # FK id
                    code=row.code,
                    evidence=json.loads(row.evidence or "{}"),
                )
                for row in rows
            ]
            accepted += len(optouts.opt_out_many(requests, now))
            OptOutSuggestion.update(
                state=SuggestionState.ACCEPTED, decided_at=now, decided_by=actor
            ).where(OptOutSuggestion.id.in_([row.id for row in rows])).execute()
    return accepted


def dismiss(ids: Iterable[int], actor: str, now: datetime | None = None) -> int:
    """Dismiss these pending suggestions; returns how many."""
    return int(
        OptOutSuggestion.update(
            state=SuggestionState.DISMISSED, decided_at=now or utcnow(), decided_by=actor
        )
        .where(
            OptOutSuggestion.id.in_(list(ids)) & (OptOutSuggestion.state == SuggestionState.PENDING)
        )
        .execute()
    )


def dismiss_for_phones(phones: Iterable[str], actor: str, rule: str | None = None) -> int:
    """Dismiss pending suggestions of these numbers (a delivery since, or an opt-out)."""
    pending = OptOutSuggestion.select(OptOutSuggestion.phone).where(
        OptOutSuggestion.state == SuggestionState.PENDING
    )
    if rule is not None:
        pending = pending.where(OptOutSuggestion.rule == rule)
    # A poll cycle reports tens of thousands of deliveries, and few numbers (often none) have
    # a suggestion pending: read those (from the state index) and update only them.
    wanted = sorted({phone for (phone,) in pending.tuples()}.intersection(phones))
    now = utcnow()
    dismissed = 0
    for start in range(0, len(wanted), 500):
        condition = OptOutSuggestion.phone.in_(wanted[start : start + 500]) & (
            OptOutSuggestion.state == SuggestionState.PENDING
        )
        if rule is not None:
            condition &= OptOutSuggestion.rule == rule
        dismissed += (
            OptOutSuggestion.update(
                state=SuggestionState.DISMISSED, decided_at=now, decided_by=actor
            )
            .where(condition)
            .execute()
        )
    return int(dismissed)
