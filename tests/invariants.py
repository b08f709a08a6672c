"""The store's invariants, checked the way ``notify-tui doctor`` checks them."""

from __future__ import annotations

from notify_tui.store import counters, insights


def assert_counters_hold(*campaign_ids: int) -> None:
    """Each campaign's counters (every campaign's, without ids) agree with its messages, and
    Delivered + Failed + Unknown add up to the recipients."""
    wanted = list(campaign_ids) or None
    wrong = counters.mismatches(wanted)
    assert not wrong, {
        campaign_id: f"kept {kept.describe()}; messages say {counted.describe()}"
        for campaign_id, (kept, counted) in wrong.items()
    }
    kept_all = counters.stored(wanted)
    if campaign_ids:
        assert sorted(kept_all) == sorted(set(campaign_ids)), "no such campaign"
    for kept in kept_all.values():
        assert kept.delivered + kept.failed + kept.unknown == kept.recipients, kept.describe()
    assert_insights_hold(*kept_all)


def assert_insights_hold(*campaign_ids: int) -> None:
    """The breakdowns' tallies (``store.insights``) agree with the campaigns' messages."""
    kept, counted = insights.stored(campaign_ids), insights.counted(campaign_ids)
    assert kept[0] == counted[0], {"kept": kept[0], "messages say": counted[0]}
    assert kept[1] == counted[1], {"kept": kept[1], "messages say": counted[1]}
