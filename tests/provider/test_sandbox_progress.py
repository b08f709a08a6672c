"""Statuses move with the (injected) clock; outcomes follow the number, at their rates."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest

from notify_tui.domain.error_titles import error_title
from notify_tui.provider import ProviderMessage, sandbox_client
from notify_tui.provider.sandbox import OUTCOMES, SandboxApp, outcome_for
from notify_tui.provider.sandbox.outcomes import DELIVERED, PASSING_CODES, recovers

from .support import FROM, FakeClock, number_with


async def watch(
    app: SandboxApp, clock: FakeClock, to: str, seconds: float, step: float = 0.05
) -> list[ProviderMessage]:
    """Create a message to ``to``, then fetch it every ``step`` for ``seconds``."""
    seen: list[ProviderMessage] = []
    async with sandbox_client(app) as client:
        created = await client.create_message(to, "hello", from_=FROM)
        assert created.sid is not None
        seen.append(created)
        for _ in range(int(seconds / step)):
            clock.advance(step)
            seen.append(await client.fetch_message(created.sid))
    return seen


def statuses(seen: list[ProviderMessage]) -> list[str | None]:
    """The distinct statuses in the order they appeared."""
    order: list[str | None] = []
    for m in seen:
        if not order or order[-1] != m.status:
            order.append(m.status)
    return order


async def test_a_delivered_message_walks_queued_sending_sent_delivered(
    app: SandboxApp, clock: FakeClock
) -> None:
    seen = await watch(app, clock, number_with("delivered"), seconds=9)
    assert statuses(seen) == ["queued", "sending", "sent", "delivered"]
    for m in seen:
        assert (m.date_sent is None) == (m.status == "queued")
        assert (m.price is None) == (m.status != "delivered"), "priced once final"
        assert m.error_code is None
    final = seen[-1]
    assert final.price == Decimal("-0.00790")
    updates = [m.date_updated for m in seen if m.date_updated is not None]
    assert updates == sorted(updates)
    assert final.date_sent is not None and final.date_created is not None
    assert final.date_updated is not None
    assert final.date_created <= final.date_sent <= final.date_updated


@pytest.mark.parametrize("code", [30003, 30005, 30006, 30007, 30008])
async def test_undelivered_messages_carry_their_code(
    code: int, app: SandboxApp, clock: FakeClock
) -> None:
    seen = await watch(app, clock, number_with("undelivered", code), seconds=9)
    assert statuses(seen) == ["queued", "sending", "sent", "undelivered"]
    final = seen[-1]
    assert final.error_code == code
    assert final.error_message == error_title(code)
    assert final.price == Decimal("-0.00790"), "the carrier was paid"
    assert all(m.error_code is None for m in seen if m.status != "undelivered")


@pytest.mark.parametrize("code", [30001, 30034])
async def test_failed_messages_go_from_queued_to_failed_with_a_fee(
    code: int, app: SandboxApp, clock: FakeClock
) -> None:
    seen = await watch(app, clock, number_with("failed", code), seconds=3)
    assert statuses(seen) == ["queued", "failed"]
    assert seen[-1].error_code == code
    assert seen[-1].price == Decimal("-0.00100")
    assert seen[-1].date_sent is not None


async def test_some_messages_stay_sent_forever(app: SandboxApp, clock: FakeClock) -> None:
    seen = await watch(app, clock, number_with("sent"), seconds=9)
    assert statuses(seen) == ["queued", "sending", "sent"]
    clock.advance(3 * 24 * 3600)
    async with sandbox_client(app) as client:
        assert seen[0].sid is not None
        later = await client.fetch_message(seen[0].sid)
    assert later.status == "sent"
    assert later.price == Decimal("-0.00790"), "billed even without a receipt"


async def test_speed_divides_every_duration(
    make_app: Callable[..., SandboxApp], clock: FakeClock
) -> None:
    fast = make_app(speed=10)
    seen = await watch(fast, clock, number_with("delivered"), seconds=0.9, step=0.005)
    assert statuses(seen) == ["queued", "sending", "sent", "delivered"]
    slow = make_app(speed=1)
    assert (await watch(slow, clock, number_with("delivered"), seconds=0.9, step=0.005))[
        -1
    ].status != "delivered"


async def test_the_outcome_follows_the_number_in_every_campaign(
    make_app: Callable[..., SandboxApp], clock: FakeClock
) -> None:
    numbers = [f"+1415555{i:04d}" for i in range(300)]
    finals = []
    for seed in (1, 2):
        app = make_app(seed=seed, speed=1000)
        outcome: dict[str, tuple[str | None, int | None]] = {}
        async with sandbox_client(app) as client:
            sids = {}
            for n in numbers:
                try:
                    sids[n] = (await client.create_message(n, "x", from_=FROM)).sid
                except Exception as exc:  # refused at create
                    outcome[n] = ("refused", getattr(exc, "code", None))
            clock.advance(60)
            for n, sid in sids.items():
                assert sid is not None
                m = await client.fetch_message(sid)
                outcome[n] = (m.status, m.error_code)
        finals.append(outcome)
    assert finals[0] == finals[1]
    assert len({v for v in finals[0].values()}) >= 4, "a mix, not one outcome"


def test_outcomes_come_at_their_documented_rates() -> None:
    n = 40_000
    # Numbers abroad: a +1 number is never refused 21408 (its region is the account's own),
    # and is delivered instead (tests/provider/test_sandbox_create.py).
    counts = Counter(outcome_for(f"+44{7000000000 + i * 7919}") for i in range(n))
    for expected in (*OUTCOMES, DELIVERED):
        share = expected.share
        sigma = math.sqrt(share * (1 - share) / n)
        observed = counts[expected] / n
        assert abs(observed - share) <= 5 * sigma, (expected, observed)
        assert counts[expected] > 0
    codes = {o.error_code for o in OUTCOMES if o.error_code}
    assert codes == {30003, 30005, 30006, 30007, 30001, 30008, 30034, 21610, 21614, 21408, 21612}
    assert 0.85 < DELIVERED.share < 0.92


def test_failure_statuses_match_twilio() -> None:
    by_code = {o.error_code: o.final_status for o in OUTCOMES if o.error_code}
    assert {c for c, s in by_code.items() if s == "undelivered"} == {
        30003,
        30005,
        30006,
        30007,
        30008,
    }
    assert {c for c, s in by_code.items() if s == "failed"} == {30001, 30034}


async def test_a_failure_that_may_pass_passes_on_a_later_message_for_half_the_numbers(
    make_app: Callable[..., SandboxApp], clock: FakeClock
) -> None:
    """The phone was off: the follow-up reaches half of those, the rest keep failing (a phone
    gone for good, which the opt-out policy is for). Every other outcome stays the number's."""
    app = make_app(speed=1000)
    numbers = [f"+1415555{i:04d}" for i in range(3000)]
    passing = [n for n in numbers if outcome_for(n).error_code in PASSING_CODES]
    lasting = [n for n in numbers if outcome_for(n).error_code in (30005, 30006, 30007)][:5]
    comes_back = [n for n in passing if recovers(n)]
    assert 0.3 < len(comes_back) / len(passing) < 0.7 and len(passing) > 40
    watched = [*passing[:12], *lasting]
    async with sandbox_client(app) as client:
        rounds = []
        for _ in range(3):
            sids = [(await client.create_message(n, "x", from_=FROM)).sid for n in watched]
            clock.advance(60)
            fetched = [await client.fetch_message(sid) for sid in sids if sid]
            rounds.append(
                {n: (m.status, m.error_code) for n, m in zip(watched, fetched, strict=True)}
            )
    for n in watched:
        first = outcome_for(n)
        assert rounds[0][n] == (first.final_status, first.error_code), n
        later = ("delivered", None) if n in comes_back else rounds[0][n]
        assert rounds[1][n] == rounds[2][n] == later, n
    assert any(n in comes_back for n in watched) and any(n not in comes_back for n in passing[:12])
