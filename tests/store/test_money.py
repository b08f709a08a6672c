"""Money is exact from the wire to the store, the sums and the JSON (issue 12, item 6)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notify_tui.commands.campaigns import campaign_json
from notify_tui.domain.status import classify_message
from notify_tui.store.campaigns import create_campaign, get_campaign
from notify_tui.store.doctor import Check, examine
from notify_tui.store.models import Message, utcnow
from notify_tui.store.sending import NewRecipient, add_recipients, count_submitted
from notify_tui.store.updates import StatusUpdate, apply_updates

pytestmark = pytest.mark.usefixtures("workspace")


def _campaign(n: int) -> list[int]:
    campaign_id = create_campaign("Prices", "Hello!", sender="+15005550006")
    add_recipients(campaign_id, [NewRecipient(f"+1415555{i:04d}") for i in range(n)])
    ids = [m.id for m in Message.select(Message.id).where(Message.campaign == campaign_id)]
    now = utcnow()
    for i in ids:
        Message.update(
            sid=f"SM{i:032x}", send_state="submitted", attempted_at=now, next_poll_at=now
        ).where(Message.id == i).execute()
    count_submitted(campaign_id, len(ids))
    return ids


def _counter_problems(campaign_id: int) -> list[str]:
    return [
        p.text
        for p in examine().problems
        if p.check is Check.COUNTERS and p.campaign_id == campaign_id
    ]


def _deliver(ids: list[int], prices: list[Decimal]) -> int:
    delivered = classify_message("delivered", None)
    applied = apply_updates(
        [
            StatusUpdate(i, delivered, provider_status="delivered", price=p, price_unit="USD")
            for i, p in zip(ids, prices, strict=True)
        ]
    )
    (campaign_id,) = applied.campaigns
    return campaign_id


def test_a_campaigns_cost_is_the_exact_sum_of_its_prices() -> None:
    """The figures seen: ``"cost": "0.04740000000000001"`` for three prices of 0.0158."""
    ids = _campaign(3)
    campaign_id = _deliver(ids, [Decimal("-0.0158")] * 3)
    campaign = get_campaign(campaign_id)
    assert campaign is not None
    assert campaign.cost == Decimal("0.0474")
    assert campaign_json(campaign)["cost"] == "0.0474"
    assert campaign.delivered == 3 and campaign.unknown == 0
    assert Message.get_by_id(ids[0]).price == Decimal("-0.0158")


def test_many_small_prices_sum_without_noise() -> None:
    """``"152.30410000000006"``: thousands of prices, each added to the counter in turn."""
    ids = _campaign(400)
    campaign_id = 0
    for start in range(0, 400, 7):
        chunk = ids[start : start + 7]
        campaign_id = _deliver(chunk, [Decimal("-0.3807")] * len(chunk))
    campaign = get_campaign(campaign_id)
    assert campaign is not None
    assert campaign.cost == Decimal("152.28")
    assert campaign_json(campaign)["cost"] == "152.28"
    assert not _counter_problems(campaign_id)


# Twilio's prices: up to five decimals, a charge negative.
_prices = st.decimals(min_value=Decimal("-1"), max_value=Decimal("0"), places=5, allow_nan=False)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(prices=st.lists(_prices, min_size=1, max_size=30))
def test_sums_of_provider_prices_are_exact(prices: list[Decimal]) -> None:
    ids = _campaign(len(prices))
    try:
        campaign_id = _deliver(ids, prices)
        campaign = get_campaign(campaign_id)
        assert campaign is not None
        expected = sum((abs(p) for p in prices), Decimal(0))
        assert campaign.cost == expected
        assert Decimal(campaign_json(campaign)["cost"]) == expected
        stored = [Message.get_by_id(i).price for i in ids]
        assert stored == prices
        assert not _counter_problems(campaign_id)
    finally:
        Message.delete().execute()
