"""What happens to each message the sandbox accepts, and when.

The outcome is chosen from the ``To`` number alone (a keyed hash of it), so a number gets the same
outcome in every campaign and every run, with one exception: half the numbers whose first message
fails for a cause that may pass (``PASSING_CODES``: the handset was off, a queue overflowed, an
error of the moment) get every later message delivered, as a phone switched back on does; the
other half keep failing (a phone that is gone for good), which is what the opt-out policy is for.
The table, as shares of numbers:

=======================  ===========  ======  ==============================================
outcome                  status       share   meaning (Twilio's title)
=======================  ===========  ======  ==============================================
refused at create 21610  (400)        0.5 %   Attempt to send to unsubscribed recipient
refused at create 21614  (400)        1.0 %   'To' number is not a valid mobile number
refused at create 21408  (400)        0.3 %   Permission to send an SMS has not been enabled
                                              (outside +1 only: see below)
refused at create 21612  (400)        0.2 %   The 'To' phone number is not currently reachable
undelivered 30003        undelivered  2.0 %   Unreachable destination handset
undelivered 30005        undelivered  1.5 %   Unknown destination handset
undelivered 30006        undelivered  1.0 %   Landline or unreachable carrier
undelivered 30007        undelivered  0.3 %   Message filtered (carrier violation)
undelivered 30008        undelivered  0.5 %   Unknown error
failed 30001             failed       0.3 %   Queue overflow
failed 30034             failed       0.2 %   US A2P 10DLC - Message from an Unregistered Number
no receipt               sent         3.0 %   stays ``sent`` forever: the carrier never reports
delivered                delivered    89.2 %  the rest
=======================  ===========  ======  ==============================================

Twilio's test numbers (``TEST_NUMBERS``) are always refused at create with their code.

Carrier filtering (30007) and unregistered-sender failures (30034) are rarer than the alerts'
thresholds (1 % of a campaign), so a campaign alerts only where a story puts them; and 21408 (no
permission for the region) is drawn only for numbers outside +1 (North America), since an
account's own region is always enabled: a North American number drawn for it is delivered.

Timeline, in seconds before dividing by the sandbox's ``speed`` (each step drawn uniformly):
``accepted`` (Messaging Service sends only) 0.2-0.6, ``queued`` 0.3-1.5, ``sending`` 0.2-0.8,
``sent`` 1-5 until ``delivered`` / ``undelivered`` (a scheduled message is ``scheduled`` until
its ``SendAt``, and its timeline starts there). A ``failed`` message goes from ``queued``
straight to ``failed`` after 0.5-2. ``date_sent`` is null until the message leaves the queue.

Price (negative, as Twilio writes it) is null until the message is final: every segment at the
per-segment price for delivered and undelivered messages, a small processing fee for failed ones.
A message that never gets a receipt is priced when its receipt would have come.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate
from random import Random
from typing import Literal

__all__ = [
    "OUTCOMES",
    "PASSING_CODES",
    "TEST_NUMBERS",
    "FinalStatus",
    "Outcome",
    "Progress",
    "Timeline",
    "format_price",
    "outcome_for",
    "plan_timeline",
    "progress",
]

FinalStatus = Literal["refused", "delivered", "undelivered", "failed", "sent"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where a message to some number ends."""

    final_status: FinalStatus
    error_code: int | None
    share: float
    """The share of numbers that get this outcome (0 for the test numbers)."""


OUTCOMES: tuple[Outcome, ...] = (
    Outcome("refused", 21610, 0.005),
    Outcome("refused", 21614, 0.010),
    Outcome("refused", 21408, 0.003),
    Outcome("refused", 21612, 0.002),
    Outcome("undelivered", 30003, 0.020),
    Outcome("undelivered", 30005, 0.015),
    Outcome("undelivered", 30006, 0.010),
    Outcome("undelivered", 30007, 0.003),
    Outcome("undelivered", 30008, 0.005),
    Outcome("failed", 30001, 0.003),
    Outcome("failed", 30034, 0.002),
    Outcome("sent", None, 0.030),
)
"""Every outcome but ``delivered``, which takes the rest of the numbers."""

DELIVERED = Outcome("delivered", None, 1.0 - sum(o.share for o in OUTCOMES))

TEST_NUMBERS: dict[str, int] = {
    "+15005550001": 21211,
    "+15005550002": 21612,
    "+15005550003": 21408,
    "+15005550004": 21610,
    "+15005550009": 21614,
}
"""Twilio's magic ``To`` numbers and the code each is refused with at create."""

_TEST_OUTCOMES = {number: Outcome("refused", code, 0.0) for number, code in TEST_NUMBERS.items()}

_THRESHOLDS = list(accumulate(o.share for o in OUTCOMES))


PASSING_CODES = frozenset({30001, 30003, 30008})
"""Failures whose cause may pass: for half the numbers, a later message is delivered."""


def outcome_for(to: str, earlier: int = 0) -> Outcome:
    """The outcome of a message to ``to`` after ``earlier`` messages to it: the first message's
    always, but that a number of `recovers` gets its later messages delivered."""
    special = _TEST_OUTCOMES.get(to)
    if special is not None:
        return special
    point = _point(to, b"notify-sandbox")
    index = bisect_right(_THRESHOLDS, point)
    outcome = OUTCOMES[index] if index < len(OUTCOMES) else DELIVERED
    if outcome.error_code == 21408 and to.startswith("+1"):
        return DELIVERED  # the account's own region is always enabled
    if earlier and recovers(to) and outcome.error_code in PASSING_CODES:
        return DELIVERED
    return outcome


def recovers(to: str) -> bool:
    """Whether a failure of ``to`` that may pass (`PASSING_CODES`) does pass on a later message:
    for half the numbers, drawn apart from the outcome."""
    return _point(to, b"notify-recovers") < 0.5


def _point(to: str, person: bytes) -> float:
    """Where ``to`` falls in [0, 1), by a hash keyed with ``person``."""
    digest = hashlib.blake2b(to.encode(), digest_size=8, person=person).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass(frozen=True, slots=True)
class Timeline:
    """When a message changes status, in microseconds since the epoch."""

    created_us: int
    queued_us: int
    """Leaves ``accepted`` (equal to ``created_us`` when sent from a number)."""
    sending_us: int
    """Leaves ``queued``; also ``date_sent``. For a failed message, the failure."""
    sent_us: int
    final_us: int
    """Reaches its final status (or, for a message that never gets a receipt, is priced)."""


def _span(rng: Random, low: float, high: float, speed: float) -> int:
    return int(rng.uniform(low, high) / speed * 1_000_000)


def plan_timeline(
    final_status: FinalStatus,
    created_us: int,
    *,
    via_service: bool,
    speed: float,
    rng: Random,
) -> Timeline:
    """Draw when a new message will move, durations divided by ``speed``."""
    queued = created_us + (_span(rng, 0.2, 0.6, speed) if via_service else 0)
    if final_status == "failed":
        failed = queued + _span(rng, 0.5, 2.0, speed)
        return Timeline(created_us, queued, failed, failed, failed)
    sending = queued + _span(rng, 0.3, 1.5, speed)
    sent = sending + _span(rng, 0.2, 0.8, speed)
    final = sent + _span(rng, 1.0, 5.0, speed)
    return Timeline(created_us, queued, sending, sent, final)


@dataclass(frozen=True, slots=True)
class Progress:
    """What a message looks like at one instant."""

    status: str
    error_code: int | None
    date_sent_us: int | None
    date_updated_us: int
    priced: bool
    """True once the message carries its price."""
    sender_assigned: bool
    """False while a Messaging Service has not picked a sender (``from`` null, 0 segments)."""


def progress(
    final_status: FinalStatus,
    error_code: int | None,
    timeline: Timeline,
    now_us: int,
    *,
    via_service: bool,
    send_at_us: int | None = None,
    canceled_us: int | None = None,
) -> Progress:
    """The status of a message on ``timeline`` at ``now_us``.

    A scheduled message (``send_at_us``) is ``scheduled`` until then, its timeline starting
    there; once cancelled (``canceled_us``, only ever before ``send_at_us``) it stays
    ``canceled``, free and without a sender.
    """
    t = timeline
    if canceled_us is not None and now_us >= canceled_us:
        return Progress("canceled", None, None, canceled_us, False, False)
    if send_at_us is not None and now_us < send_at_us:
        return Progress("scheduled", None, None, t.created_us, False, False)
    if via_service and now_us < t.queued_us:
        return Progress("accepted", None, None, t.created_us, False, False)
    if now_us < t.sending_us:
        return Progress("queued", None, None, t.queued_us, False, True)
    if final_status == "failed":
        return Progress("failed", error_code, t.sending_us, t.final_us, True, True)
    if now_us < t.sent_us:
        return Progress("sending", None, t.sending_us, t.sending_us, False, True)
    if now_us < t.final_us:
        return Progress("sent", None, t.sending_us, t.sent_us, False, True)
    if final_status == "sent":
        return Progress("sent", None, t.sending_us, t.final_us, True, True)
    return Progress(final_status, error_code, t.sending_us, t.final_us, True, True)


def format_price(amount: Decimal) -> str:
    """A charge as Twilio writes it: negative, five decimals (``-0.00790``)."""
    return f"{-abs(amount):.5f}"
