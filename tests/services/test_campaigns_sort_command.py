"""``campaigns --sort`` (issue 14, item 24): the table and ``--json`` in the order asked for."""

from __future__ import annotations

import json

import pytest

from notify_tui.cli import main
from notify_tui.commands import SORTS
from notify_tui.domain.campaign_sort import CampaignSort
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.models import Campaign, utcnow


def _campaign(name: str, recipients: int, delivered: int, followup_of: int | None = None) -> int:
    campaign_id = create_campaign(name, "Hi", sender="+14155550000")
    Campaign.update(
        recipients=recipients,
        delivered=delivered,
        failed=recipients - delivered,
        sent_at=utcnow(),
        followup_of=followup_of,
    ).where(Campaign.id == campaign_id).execute()
    return campaign_id


def test_the_cli_offers_every_sort_in_its_order() -> None:
    assert tuple(sort.value for sort in CampaignSort) == SORTS


@pytest.mark.usefixtures("workspace_db")
def test_campaigns_sort_orders_the_table_and_the_json(capsys: pytest.CaptureFixture[str]) -> None:
    good = _campaign("Good", 10, 10)
    bad = _campaign("bad", 10, 1)
    again = _campaign("Good again", 1, 0, followup_of=good)
    middling = _campaign("Émile", 10, 5)

    def ids(*args: str) -> list[int]:
        assert main(["campaigns", "--json", *args]) == 0
        return [row["id"] for row in json.loads(capsys.readouterr().out)]

    assert ids() == ids("--sort", "newest") == [middling, bad, good, again]
    assert ids("--sort", "failures") == [bad, middling, good, again]
    assert ids("--sort", "delivery") == [bad, middling, good, again]
    assert ids("--sort", "name") == [bad, middling, good, again]
    assert ids("--sort", "name", "--limit", "2") == [bad, middling]
    assert main(["campaigns", "--sort", "delivery"]) == 0
    names = [line.split()[-1] for line in capsys.readouterr().out.splitlines()[1:]]
    assert names == ["bad", "Émile", "Good", "again"]


@pytest.mark.usefixtures("workspace_db")
def test_an_unknown_sort_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["campaigns", "--sort", "oldest"])
    assert exit_.value.code == 2
    assert "invalid choice: 'oldest'" in capsys.readouterr().err
