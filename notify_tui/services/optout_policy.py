"""Applying the opt-out policy as statuses resolve, at send time, and over existing history.

Idempotent: a number already opted out is left alone, a suggestion is kept once per number, and
judging the same history twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from notify_tui.domain.optout_policy import (
    STOP_CODE,
    Decision,
    OptOutPolicy,
    Rule,
    evaluate,
)
from notify_tui.domain.status import Status
from notify_tui.store import optouts, suggestions
from notify_tui.store.models import SchemaInfo, database
from notify_tui.store.updates import AppliedUpdates, Resolution

POLICY_KEY = "optout_policy"
ACTOR = "policy"


@dataclass
class PolicyOutcome:
    """What applying the policy did."""

    opted_out: list[str] = field(default_factory=list)
    suggested: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    """Automatic opt-outs turned into suggestions by the mass opt-out threshold."""

    def __bool__(self) -> bool:
        return bool(self.opted_out or self.suggested or self.held)

    def merge(self, other: PolicyOutcome) -> None:
        """Add ``other``'s numbers to this outcome."""
        self.opted_out += other.opted_out
        self.suggested += other.suggested
        self.held += other.held


def _evidence(decision: Decision) -> dict[str, object]:
    return {
        "rule": decision.rule.value,
        "failures": [{"campaign": c, "code": code} for c, code in decision.evidence],
    }


def judge(phones_by_campaign: dict[int, set[str]], policy: OptOutPolicy) -> PolicyOutcome:
    """Judge these numbers by their history and act, campaign by campaign."""
    outcome = PolicyOutcome()
    everyone = set().union(*phones_by_campaign.values()) if phones_by_campaign else set()
    if not everyone:
        return outcome
    histories = suggestions.phone_histories(everyone)
    already_out = optouts.opted_out_phones(everyone)
    recipients = suggestions.campaign_recipients(phones_by_campaign)
    to_opt_out: list[optouts.OptOutRequest] = []
    to_suggest: list[suggestions.NewSuggestion] = []
    for campaign_id, phones in sorted(phones_by_campaign.items()):
        decisions = {
            phone: decision
            for phone in sorted(phones - already_out)
            if (decision := evaluate(histories.get(phone, []), policy)) is not None
        }
        automatic = [p for p, d in decisions.items() if d.automatic and d.code != STOP_CODE]
        hold = policy.holds(
            suggestions.automatic_opt_outs(campaign_id) + len(automatic),
            recipients.get(campaign_id, 0),
        )
        for phone, decision in decisions.items():
            evidence = _evidence(decision)
            if decision.automatic and not (hold and decision.code != STOP_CODE):
                is_stop = decision.code == STOP_CODE
                to_opt_out.append(
                    optouts.OptOutRequest(
                        phone,
                        source=optouts.SOURCE_PROVIDER if is_stop else optouts.SOURCE_POLICY,
                        reason=decision.reason,
                        actor=ACTOR,
                        campaign_id=campaign_id,
                        code=decision.code,
                        evidence=evidence,
                    )
                )
                already_out.add(phone)
                continue
            held = decision.automatic
            reason = decision.reason
            if held:
                reason += (
                    " (held for review: this campaign would opt out more than "
                    f"{policy.threshold_share:.0%} of its recipients)"
                )
            to_suggest.append(
                suggestions.NewSuggestion(
                    phone, campaign_id, decision.rule.value, decision.code, reason, evidence, held
                )
            )
    # Bulk writes: a poll cycle can bring thousands of opt-outs and suggestions.
    opted_out = optouts.opt_out_many(to_opt_out)
    outcome.opted_out = [r.phone for r in to_opt_out if r.phone in opted_out]
    suggestions.dismiss_for_phones(opted_out, ACTOR)
    latest = {entry.phone: entry for entry in to_suggest}
    for phone in suggestions.suggest_many(to_suggest):
        (outcome.held if latest[phone].held else outcome.suggested).append(phone)
    return outcome


def apply_to_resolutions(resolutions: Sequence[Resolution], policy: OptOutPolicy) -> PolicyOutcome:
    """Judge the numbers of freshly resolved messages; a delivery clears repeat suggestions."""
    failed: dict[int, set[str]] = defaultdict(set)
    delivered: set[str] = set()
    for resolution in resolutions:
        if resolution.classification.status is Status.FAILED:
            failed[resolution.campaign_id].add(resolution.phone)
        elif resolution.classification.status is Status.DELIVERED:
            delivered.add(resolution.phone)
    with database.atomic():
        if delivered:
            suggestions.dismiss_for_phones(delivered, "policy: delivered since", Rule.REPEAT.value)
        return judge(failed, policy)


def apply_to_updates(applied: AppliedUpdates, policy: OptOutPolicy) -> PolicyOutcome:
    """``apply_to_resolutions`` for what ``store.updates.apply_updates`` reported."""
    return apply_to_resolutions(applied.resolutions, policy)


def apply_to_history(policy: OptOutPolicy, batch: int = 5000) -> PolicyOutcome:
    """Judge every number that ever failed (when the policy changed); idempotent."""
    outcome = PolicyOutcome()
    after = 0
    while True:
        rows = suggestions.failed_phones(after, batch)
        if not rows:
            break
        after = rows[-1][0]
        by_campaign = _latest_campaign(phone for _, phone in rows)
        with database.atomic():
            outcome.merge(judge(by_campaign, policy))
    return outcome


def _latest_campaign(phones: Iterable[str]) -> dict[int, set[str]]:
    grouped: dict[int, set[str]] = defaultdict(set)
    for phone, attempts in suggestions.phone_histories(phones).items():
        if attempts:
            grouped[attempts[-1].campaign_id].add(phone)
    return grouped


def ensure_applied(policy: OptOutPolicy) -> PolicyOutcome | None:
    """Re-judge history once whenever the policy differs from the last one applied."""
    row = SchemaInfo.get_or_none(SchemaInfo.key == POLICY_KEY)
    if row is not None and row.value == policy.fingerprint:
        return None
    outcome = apply_to_history(policy)
    SchemaInfo.insert(key=POLICY_KEY, value=policy.fingerprint).on_conflict(
        conflict_target=[SchemaInfo.key], update={SchemaInfo.value: policy.fingerprint}
    ).execute()
    return outcome
