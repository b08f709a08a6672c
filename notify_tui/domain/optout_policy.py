"""The opt-out policy: which failures opt a number out, at once or after repeats, or suggest it.

From the reference's "Opt-out consequences by code": landlines and STOPs opt out at once; numbers
that keep failing as unknown or unreachable handsets are suggested for opting out after a number
of failures in a row across campaigns (a delivery resets the count); malformed numbers are
suggested for fixing or opting out; failures that are not about the number never count. A mass
automatic opt-out within one campaign is held as suggestions instead, because a provider outage
can send wrong codes in bulk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from notify_tui.domain.status import CODE_RULES, Consequence, Reason, Status


class RuleMode(StrEnum):
    """What a rule does when it matches."""

    AUTO = "auto"
    SUGGEST = "suggest"
    OFF = "off"


class Rule(StrEnum):
    """Which rule of the policy matched."""

    IMMEDIATE = "immediate"
    REPEAT = "repeat"
    INVALID = "invalid"


class SuggestionState(StrEnum):
    """Where an opt-out suggestion is. The value is what the store holds."""

    PENDING = "pending"
    """Waiting for a person to accept or dismiss it."""
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


STOP_CODE = 21610
"""The person replied STOP: the provider refuses every send; recorded with source "provider"."""


def _codes(consequence: Consequence) -> frozenset[int]:
    return frozenset(c for c, rule in CODE_RULES.items() if rule.consequence is consequence)


@dataclass(frozen=True)
class OptOutPolicy:
    """The configurable policy (``[optout]`` in the config file)."""

    immediate_codes: frozenset[int] = field(
        default_factory=lambda: _codes(Consequence.OPT_OUT) | {STOP_CODE}
    )
    immediate_mode: RuleMode = RuleMode.AUTO
    repeat_codes: frozenset[int] = field(default_factory=lambda: _codes(Consequence.REPEAT))
    repeat_count: int = 2
    repeat_mode: RuleMode = RuleMode.SUGGEST
    invalid_mode: RuleMode = RuleMode.SUGGEST
    threshold_share: float = 0.10
    threshold_min: int = 50

    def __post_init__(self) -> None:
        if self.repeat_count < 1:
            raise ValueError("repeat_count must be at least 1")
        if not 0 <= self.threshold_share <= 1:
            raise ValueError("threshold_share must be between 0 and 1")
        if self.threshold_min < 0:
            raise ValueError("threshold_min must not be negative")

    @property
    def fingerprint(self) -> str:
        """A stable text of the policy: when it changes, existing history is re-evaluated."""
        return "|".join(
            [
                ",".join(map(str, sorted(self.immediate_codes))),
                self.immediate_mode.value,
                ",".join(map(str, sorted(self.repeat_codes))),
                str(self.repeat_count),
                self.repeat_mode.value,
                self.invalid_mode.value,
            ]
        )

    def holds(self, automatic: int, recipients: int) -> bool:
        """Whether ``automatic`` opt-outs in a campaign of ``recipients`` look like an outage."""
        return automatic >= self.threshold_min and automatic > self.threshold_share * recipients


@dataclass(frozen=True, slots=True)
class Attempt:
    """One final outcome of a message to a number, in one campaign."""

    campaign_id: int
    status: Status
    code: int | None
    reason: str | None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy says about a number, with the evidence."""

    rule: Rule
    mode: RuleMode
    code: int | None
    reason: str
    evidence: tuple[tuple[int, int | None], ...]
    """(campaign id, code) of the failures that led to it, oldest first."""

    @property
    def automatic(self) -> bool:
        """True when the number is opted out without asking."""
        return self.mode is RuleMode.AUTO


_NEVER = _codes(Consequence.NEVER)


def evaluate(history: Sequence[Attempt], policy: OptOutPolicy) -> Decision | None:
    """Judge a number by its outcomes, oldest first; ``None`` when nothing is to be done."""
    final = [a for a in history if a.status is not Status.UNKNOWN]
    if not final:
        return None
    last = final[-1]
    if last.status is Status.FAILED and last.code in policy.immediate_codes:
        if policy.immediate_mode is RuleMode.OFF:
            return None
        what = "replied STOP" if last.code == STOP_CODE else "not SMS-capable (landline)"
        return Decision(
            Rule.IMMEDIATE,
            RuleMode.AUTO if last.code == STOP_CODE else policy.immediate_mode,
            last.code,
            f"{what} ({last.code})",
            ((last.campaign_id, last.code),),
        )
    if last.status is Status.FAILED and last.reason == Reason.INVALID_NUMBER.value:
        if policy.invalid_mode is RuleMode.OFF:
            return None
        code = f" ({last.code})" if last.code else ""
        return Decision(
            Rule.INVALID,
            policy.invalid_mode,
            last.code,
            f"invalid number{code}: fix it or opt it out",
            ((last.campaign_id, last.code),),
        )
    if policy.repeat_mode is RuleMode.OFF:
        return None
    streak: list[Attempt] = []
    for attempt in reversed(final):
        if attempt.status is Status.DELIVERED:
            break
        if attempt.code in policy.repeat_codes:
            streak.append(attempt)
        elif attempt.code in _NEVER or attempt.reason == Reason.CANCELED.value:
            continue  # not about the number: neither counts nor resets
    if len(streak) < policy.repeat_count or last.code not in policy.repeat_codes:
        return None
    streak.reverse()
    return Decision(
        Rule.REPEAT,
        policy.repeat_mode,
        last.code,
        f"failed {len(streak)} times in a row as an unknown or unreachable handset",
        tuple((a.campaign_id, a.code) for a in streak),
    )
