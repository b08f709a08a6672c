"""History's header: the delivery rate of the last campaigns, and a mark on one far below."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from notify_tui.domain.status import CampaignState
from notify_tui.services.runtime import Runtime
from notify_tui.store.campaigns import CampaignSummary
from notify_tui.ui.app import make_app
from notify_tui.ui.widgets.campaign_table import CampaignTable
from notify_tui.ui.widgets.delivery_trend import (
    BELOW_MARK,
    DeliveryTrend,
    delivery_rate,
    far_below,
    trend_bars,
    usual_rate,
)
from tests.ui.seed import SENT_AT, Person, fixed_clock, seed_campaign, wait_for_campaigns
from tests.ui.shown import lines_of

CAMPAIGN = CampaignSummary(
    id=1,
    name="x",
    body="",
    sender=None,
    messaging_service_sid=None,
    state=CampaignState.SENT,
    created_at=SENT_AT,
    sent_at=SENT_AT,
    segments=1,
    price_per_segment=Decimal(0),
    recipients=100,
    delivered=90,
    failed=10,
    unknown=0,
    submitted=100,
    skipped_opted_out=0,
    cost=Decimal(0),
    last_checked_at=None,
)


def rated(delivered: int, unknown: int = 0, **changes: object) -> CampaignSummary:
    failed = 100 - delivered - unknown
    return replace(CAMPAIGN, delivered=delivered, failed=failed, unknown=unknown, **changes)  # type: ignore[arg-type]


def test_rate_is_the_percent_column_once_three_quarters_resolved() -> None:
    assert delivery_rate(rated(80)) == 80.0
    assert delivery_rate(rated(60, unknown=24)) == 60.0
    assert delivery_rate(rated(50, unknown=25)) is None  # still resolving: no verdict yet
    assert delivery_rate(rated(90, state=CampaignState.SENDING)) is None
    assert delivery_rate(rated(0, recipients=0)) is None


def test_usual_is_the_median_of_the_campaigns_that_count() -> None:
    assert usual_rate([rated(90), rated(80)]) is None  # too few to say what is usual
    recent = [rated(90), rated(50, unknown=40), rated(70), rated(88), rated(91)]
    assert usual_rate(recent) == 89.0  # the one still resolving does not count
    usual = [89.0, 90.0, 88.0]
    assert far_below(rated(78), usual)
    assert not far_below(rated(79), usual)  # exactly ten points under: not far below
    assert not far_below(rated(10, unknown=80), usual)
    assert not far_below(rated(10), usual[:2])  # too few to say what is usual


def test_trend_bars_rise_with_the_rate() -> None:
    bars = trend_bars([60.0, 80.0, 100.0])
    assert len(bars) == 3
    assert bars[0] < bars[1] < bars[2]
    assert bars[2] == "█"
    assert trend_bars([]) == ""


def people(delivered: int, failed: int, start: int) -> list[Person]:
    fates: list[str | int] = ["delivered"] * delivered + [30003] * failed
    return [Person(f"+1415555{start + i:04d}", f"P{i}", fate) for i, fate in enumerate(fates)]


async def test_history_marks_a_campaign_far_below_usual(runtime: Runtime) -> None:
    for n, (name, delivered) in enumerate(
        [("Week 1", 9), ("Week 2", 9), ("Week 3", 4), ("Week 4", 9), ("Week 5", 9)]
    ):
        seed_campaign(
            name,
            people(delivered, 10 - delivered, 1000 + 20 * n),
            sent_at=SENT_AT + timedelta(days=n),
        )
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_campaigns(pilot)
        table = app.screen.query_one(CampaignTable)
        marked = [
            line.strip().split("  ")[0]
            for line in lines_of(table)[1:6]
            if line.strip().startswith(BELOW_MARK)
        ]
        assert marked == [f"{BELOW_MARK} Week 3"]
        trend = " ".join(lines_of(app.screen.query_one(DeliveryTrend)))
        assert "last 5 campaigns" in trend
        assert "usual 90.0%" in trend
        assert f"{BELOW_MARK} 1 >10 points below" in trend
