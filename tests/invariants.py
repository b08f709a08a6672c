"""The store's invariants, checked the way ``notify-tui doctor`` checks them."""

from __future__ import annotations

from notify_tui.store import counters


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
