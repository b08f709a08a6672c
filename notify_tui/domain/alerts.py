"""Is this normal? Alerts about a campaign, from its failure counts alone.

Each alert says what was seen (counts), why it matters, what to do, and which recipients show
it (``AlertFilter``: the table filter that lists them). They are computed from the tallies the
store keeps as messages resolve (``store.insights``), so asking costs a few hundred rows.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from notify_tui.domain.numbers import LineType
from notify_tui.domain.status import Reason

CARRIER_VIOLATION_SHARE = 0.01
"""Carrier violations (30007) above this share of the recipients raise an alert."""

RATE_LIMIT_SHARE = 0.01
"""10DLC rate limits (30022) above this share of the recipients raise an alert."""

UNREGISTERED_SHARE = 0.01
"""Unregistered-sender failures (30034) above this share of the recipients raise an alert: a
sender that is not registered loses nearly every message, while a stray 30034 from a carrier
that misjudged one message says nothing (every campaign showed ⚠ for one)."""

INVALID_SHARE = 0.05
"""Invalid numbers above this share of the recipients raise an alert."""

UNREACHABLE_SPIKE = 2.0
"""Unreachable handsets (30003) at this many times the sender's usual share raise an alert..."""

UNREACHABLE_MIN_POINTS = 2.0
"""... when also at least this many percentage points above it..."""

UNREACHABLE_MIN_MESSAGES = 10
"""... and at least this many messages (a handful says nothing)."""

UNREACHABLE_NO_HISTORY_SHARE = 0.10
"""Without enough history of the sender: unreachable handsets above this share alert."""

HISTORY_MIN_CAMPAIGNS = 3
"""The sender's usual share of unreachable handsets needs this many earlier campaigns."""

BELOW_USUAL_POINTS = 10.0
"""A campaign this many points under the median delivery rate of the recent ones is marked."""

RECENT_CAMPAIGNS = 20
"""How many recent campaigns the usual delivery rate is the median of."""

INVALID_CODES = (21211, 21265, 21268, 21604)
"""Provider codes for numbers that are not valid (``domain.status``: Invalid number)."""


class AlertKind(StrEnum):
    """The alerts. The value is the stable key in JSON."""

    CARRIER_VIOLATION = "carrier_violation"
    UNREGISTERED_SENDER = "unregistered_sender"
    RATE_LIMIT = "rate_limit"
    REGION_PERMISSION = "region_permission"
    UNREACHABLE_SPIKE = "unreachable_spike"
    INVALID_NUMBERS = "invalid_numbers"


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """The recipients an alert is about, as the recipients table filters them: failed with
    ``reason`` (when set) and one of ``codes`` (when set). Both unset: no filter."""

    reason: str | None = None
    codes: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing worth acting on about a campaign."""

    kind: AlertKind
    title: str
    seen: str
    """What was seen, with counts."""
    why: str
    """Why it matters."""
    action: str
    """What to do."""
    filter: AlertFilter
    messages: int
    """How many messages it is about."""
    regions: tuple[str, ...] = ()
    """The countries concerned, when the alert is about some (ISO codes)."""

    def to_json(self) -> dict[str, object]:
        """The alert as the JSON of ``campaigns --json`` and ``report --json`` shows it."""
        return {
            "kind": self.kind.value,
            "title": self.title,
            "seen": self.seen,
            "why": self.why,
            "action": self.action,
            "messages": self.messages,
            "regions": list(self.regions),
            "filter": {
                "status": "failed",
                "reason": self.filter.reason,
                "codes": None if self.filter.codes is None else list(self.filter.codes),
            },
        }


@dataclass(frozen=True, slots=True)
class FailureCount:
    """Failed messages of one code, reason, region and line type (``code`` 0: none)."""

    code: int
    reason: str
    region: str
    line_type: LineType
    messages: int


@dataclass(frozen=True, slots=True)
class SenderHistory:
    """The unreachable-handset share (0..1) of each earlier campaign from the same sender."""

    unreachable_shares: Sequence[float] = field(default_factory=tuple)

    @property
    def usual(self) -> float | None:
        """The sender's usual share (the median), or ``None`` with too little history."""
        if len(self.unreachable_shares) < HISTORY_MIN_CAMPAIGNS:
            return None
        return statistics.median(self.unreachable_shares)


def _pct(n: int, of: int) -> str:
    share = 100.0 * n / of if of else 0.0
    return f"{share:.1f}%" if share >= 0.1 or not n else "<0.1%"


def _n(count: int) -> str:
    return f"{count:,} message{'' if count == 1 else 's'}"


def _count(failures: Iterable[FailureCount], *codes: int) -> int:
    return sum(f.messages for f in failures if f.code in codes)


def _regions(failures: Iterable[FailureCount], *codes: int) -> tuple[str, ...]:
    by_region: dict[str, int] = {}
    for f in failures:
        if f.code in codes:
            by_region[f.region] = by_region.get(f.region, 0) + f.messages
    return tuple(r for r, _ in sorted(by_region.items(), key=lambda i: (-i[1], i[0])))


def campaign_alerts(
    recipients: int,
    failures: Sequence[FailureCount],
    history: SenderHistory | None = None,
) -> list[Alert]:
    """The alerts of a campaign of ``recipients`` whose failed messages are ``failures``;
    ``history``: its sender's earlier campaigns (for the unreachable-handset spike)."""
    if recipients <= 0:
        return []
    alerts: list[Alert] = []
    violations = _count(failures, 30007)
    if violations > CARRIER_VIOLATION_SHARE * recipients:
        alerts.append(
            Alert(
                AlertKind.CARRIER_VIOLATION,
                "Carriers are filtering this campaign",
                f"{violations:,} of {recipients:,} messages ({_pct(violations, recipients)}) "
                "failed with 30007 (carrier violation), above the 1% carriers tolerate",
                "Carriers blocked the content or the sender, not the numbers: every further "
                "message like it will be filtered too, and repeated filtering can get the "
                "sender blocked.",
                "Check the sender's A2P 10DLC brand and campaign registration (or toll-free "
                "verification), remove links on public URL shorteners, make the sender and "
                "opt-out (Reply STOP) clear, and avoid wording carriers flag (free, winner, "
                "urgent, all capitals). Send a small test before the next campaign.",
                AlertFilter(Reason.CARRIER_VIOLATION.value, (30007,)),
                violations,
            )
        )
    unregistered = _count(failures, 30034)
    if unregistered > UNREGISTERED_SHARE * recipients:
        alerts.append(
            Alert(
                AlertKind.UNREGISTERED_SENDER,
                "The sending number is not registered",
                f"{_n(unregistered)} ({_pct(unregistered, recipients)}) failed with 30034 "
                "(message from an unregistered number)",
                "US carriers block application-to-person texts from 10-digit numbers that are "
                "not registered for A2P 10DLC: until it is, most of this sender's messages "
                "will not get through.",
                "Register a brand and an A2P 10DLC campaign for this number (or its Messaging "
                "Service) in the provider's console, or send from a verified toll-free number "
                "or a short code; then send a follow-up.",
                AlertFilter(None, (30034,)),
                unregistered,
            )
        )
    limited = _count(failures, 30022)
    if limited > RATE_LIMIT_SHARE * recipients:
        alerts.append(
            Alert(
                AlertKind.RATE_LIMIT,
                "The sender went faster than its 10DLC limit",
                f"{_n(limited)} ({_pct(limited, recipients)}) failed with 30022 "
                "(US A2P 10DLC rate limit exceeded)",
                "Carriers cap how fast, and how much a day, a registered 10DLC sender may "
                "send; the messages over the cap are dropped.",
                "Lower the send rate (send_rate in the settings) to the throughput of the "
                "sender's registered campaign, spread large campaigns over the day, or raise "
                "the brand's trust score; the failed recipients can get a follow-up.",
                AlertFilter(None, (30022,)),
                limited,
            )
        )
    refused = _count(failures, 21408)
    if refused:
        regions = _regions(failures, 21408)
        named = ", ".join(r or "unknown" for r in regions)
        alerts.append(
            Alert(
                AlertKind.REGION_PERMISSION,
                "The account may not send to some countries",
                f"{_n(refused)} {'was' if refused == 1 else 'were'} refused with 21408 (no "
                f"permission for the region): {named}",
                "The provider refuses every message to a country the account's geographic "
                "permissions leave off; the numbers themselves are fine.",
                f"Enable {named} in the provider's Messaging geographic permissions (Twilio "
                "Console: Messaging > Settings > Geo permissions) if you mean to text there, "
                "then send a follow-up; otherwise remove those numbers from the list.",
                AlertFilter(Reason.HTTP_400.value, (21408,)),
                refused,
                regions,
            )
        )
    alerts.extend(_unreachable(recipients, failures, history))
    invalid = sum(f.messages for f in failures if f.reason == Reason.INVALID_NUMBER.value)
    if invalid > INVALID_SHARE * recipients:
        invalid_failures = [f for f in failures if f.reason == Reason.INVALID_NUMBER.value]
        regions = _regions(invalid_failures, *{f.code for f in invalid_failures})
        alerts.append(
            Alert(
                AlertKind.INVALID_NUMBERS,
                "Many numbers are not valid",
                f"{invalid:,} of {recipients:,} numbers ({_pct(invalid, recipients)}) are "
                "not valid phone numbers",
                "So many invalid numbers usually means the list was read with the wrong "
                "default country: numbers written without their country code were taken as "
                "numbers of another country.",
                "Check the region the contacts were imported with (--region, or the region "
                "setting) and import the list again; fix or remove the numbers that stay "
                "invalid.",
                AlertFilter(Reason.INVALID_NUMBER.value, None),
                invalid,
                tuple(r for r in regions if r),
            )
        )
    return alerts


def _unreachable(
    recipients: int, failures: Sequence[FailureCount], history: SenderHistory | None
) -> list[Alert]:
    unreachable = _count(failures, 30003)
    share = unreachable / recipients
    usual = history.usual if history is not None else None
    if unreachable < UNREACHABLE_MIN_MESSAGES:
        return []
    if usual is None:
        if share <= UNREACHABLE_NO_HISTORY_SHARE:
            return []
        compared = "with no history of this sender to compare with, above 10%"
    else:
        if share < UNREACHABLE_SPIKE * usual or 100 * (share - usual) < UNREACHABLE_MIN_POINTS:
            return []
        compared = f"against {100 * usual:.1f}% usually from this sender"
    return [
        Alert(
            AlertKind.UNREACHABLE_SPIKE,
            "Many more handsets were unreachable than usual",
            f"{_n(unreachable)} ({_pct(unreachable, recipients)}) failed with 30003 "
            f"(unreachable destination handset), {compared}",
            "Phones that are off or out of coverage do not receive the message; a spike "
            "against the sender's usual share points at the timing (night, a holiday) or at a "
            "carrier outage rather than at the numbers.",
            "Look at the carrier and country breakdowns for a concentration (an outage), "
            "check the local time it was sent at, and send a follow-up to these recipients in "
            "a few hours.",
            AlertFilter(Reason.UNREACHABLE_HANDSET.value, (30003,)),
            unreachable,
        )
    ]


def below_usual(rate: float, recent: Sequence[float]) -> bool:
    """Whether a delivery rate (percent) is far below the usual one: ``BELOW_USUAL_POINTS``
    under the median of ``recent`` rates (the last ``RECENT_CAMPAIGNS``, newest first)."""
    window = list(recent[:RECENT_CAMPAIGNS])
    if len(window) < HISTORY_MIN_CAMPAIGNS:
        return False
    return rate < statistics.median(window) - BELOW_USUAL_POINTS


__all__ = [
    "Alert",
    "AlertFilter",
    "AlertKind",
    "FailureCount",
    "SenderHistory",
    "below_usual",
    "campaign_alerts",
]
