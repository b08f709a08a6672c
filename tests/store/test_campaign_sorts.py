"""History's sorts (issue 14, item 24), on SQLite and PostgreSQL: each order, follow-ups right
under the campaign they follow up, archived campaigns apart, and pages that never repeat or skip
a row."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from notify_tui.domain.campaign_sort import CampaignSort
from notify_tui.store.campaigns import (
    backdate_campaign,
    campaign_page,
    create_campaign,
    get_campaign,
)
from notify_tui.store.models import Campaign

pytestmark = pytest.mark.usefixtures("workspace")

T0 = datetime(2026, 3, 2, 12, 0, 0)


def _campaign(name: str, **values: Any) -> int:
    """A campaign with its counters and timestamps set as given (sent at T0 unless ``sent_at``)."""
    campaign_id = create_campaign(name, "Hello", sender="+15005550006")
    values.setdefault("sent_at", T0)
    values.setdefault("created_at", T0 - timedelta(minutes=1))
    Campaign.update(values).where(Campaign.id == campaign_id).execute()
    return campaign_id


@pytest.fixture
def campaigns() -> dict[str, int]:
    """Six campaigns in use (one a follow-up of another), one archived."""
    ids = {
        "beta": _campaign("beta", recipients=100, delivered=90, failed=10),
        "Émile": _campaign("Émile", recipients=10, delivered=2, failed=8),
        "alpha": _campaign(
            "Alpha", recipients=100, delivered=99, failed=1, last_checked_at=T0 + timedelta(hours=5)
        ),
        "draft": _campaign("draft", sent_at=None, recipients=0),
        "zulu": _campaign(
            "zulu", recipients=4, delivered=2, failed=2, last_checked_at=T0 + timedelta(hours=1)
        ),
    }
    # A follow-up of beta: more failures, a worse rate, a later name and the latest activity of
    # all, and still right under beta whatever the order.
    ids["beta again"] = _campaign(
        "zz beta again",
        name_folded="zz beta again",  # as if not ASCII: beta's name has no folded form
        recipients=10,
        delivered=0,
        failed=10,
        followup_of=ids["beta"],
        last_checked_at=T0 + timedelta(hours=9),
    )
    ids["archived"] = _campaign("aaa archived", recipients=5, delivered=0, failed=5, archived_at=T0)
    return ids


def _names(sort: CampaignSort, archived: bool = False, query: str = "") -> list[str]:
    return [c.name for c in campaign_page(query, 0, 100, archived=archived, sort=sort)]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (CampaignSort.NEWEST, ["zulu", "draft", "Alpha", "Émile", "beta", "zz beta again"]),
        (CampaignSort.FAILURES, ["beta", "zz beta again", "Émile", "zulu", "Alpha", "draft"]),
        # 20 %, 50 %, 90 % (beta's follow-up under it), 99 %; never sent: last.
        (CampaignSort.DELIVERY, ["Émile", "zulu", "beta", "zz beta again", "Alpha", "draft"]),
        # Case and accents folded: Émile between beta and zulu, Alpha first.
        (CampaignSort.NAME, ["Alpha", "beta", "zz beta again", "draft", "Émile", "zulu"]),
        # Alpha's last status came at +5 h, zulu's at +1 h; the others at their sending (T0),
        # the newest of those first; the draft was only written (T0 - 1 min).
        (CampaignSort.UPDATED, ["Alpha", "zulu", "Émile", "beta", "zz beta again", "draft"]),
    ],
)
def test_each_sort_keeps_a_follow_up_under_its_campaign(
    campaigns: dict[str, int], sort: CampaignSort, expected: list[str]
) -> None:
    assert _names(sort) == expected


@pytest.mark.parametrize("sort", list(CampaignSort))
def test_archived_campaigns_are_sorted_apart(campaigns: dict[str, int], sort: CampaignSort) -> None:
    _campaign("zz archived too", recipients=5, delivered=5, archived_at=T0)
    shown = _names(sort, archived=True)
    assert sorted(shown) == ["aaa archived", "zz archived too"]
    assert "aaa archived" not in _names(sort)


def test_a_filter_keeps_the_order(campaigns: dict[str, int]) -> None:
    assert _names(CampaignSort.FAILURES, query="BETA") == ["beta", "zz beta again"]
    assert _names(CampaignSort.NAME, query="e") == ["beta", "zz beta again", "Émile"]


@pytest.mark.parametrize("sort", list(CampaignSort))
def test_pages_never_repeat_or_skip_a_row(sort: CampaignSort) -> None:
    # Many ties on every key: the same name, counters and times, some follow-ups.
    ids = [_campaign("Same", recipients=10, delivered=5, failed=5) for _ in range(23)]
    for original, followup in zip(ids[:5], ids[10:15], strict=True):
        Campaign.update(followup_of=original).where(Campaign.id == followup).execute()
    whole = [c.id for c in campaign_page("", 0, 100, sort=sort)]
    paged = [c.id for offset in range(0, 23, 4) for c in campaign_page("", offset, 4, sort=sort)]
    assert paged == whole and sorted(whole) == sorted(ids)
    for original, followup in zip(ids[:5], ids[10:15], strict=True):
        assert whole.index(followup) == whole.index(original) + 1
    # Ties: the newest group first.
    if sort is not CampaignSort.NEWEST:
        assert whole == [c.id for c in campaign_page("", 0, 100)]


def test_backdating_moves_the_last_activity_too() -> None:
    # The demo's campaigns are resolved, then moved back in time: the last status with them.
    old = _campaign("old", recipients=1, delivered=1, last_checked_at=T0 + timedelta(hours=2))
    new = _campaign("new", recipients=1, delivered=1, last_checked_at=T0 + timedelta(hours=1))
    backdate_campaign(old, timedelta(days=3))
    moved = get_campaign(old)
    assert moved is not None and moved.last_checked_at is not None
    assert abs(moved.last_checked_at - (T0 + timedelta(hours=2, days=-3))) < timedelta(seconds=1)
    assert _names(CampaignSort.UPDATED) == ["new", "old"]
    assert [c.id for c in campaign_page(sort=CampaignSort.UPDATED)] == [new, old]
