"""``send --at``, ``cancel`` and ``poll`` starting a campaign that waited in the store, through
the in-process sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from notify_tui.cli import main
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.models import Campaign, Message, utcnow

pytestmark = pytest.mark.usefixtures("sandbox_provider")

SERVICE = "MG" + "ab" * 16
CONTACTS = "phone,name\n+13125550100,Ann\n+13125550101,Bob\n"


@pytest.fixture
def contacts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS, encoding="utf-8")
    assert main(["contacts", "import", str(path)]) == 0
    capsys.readouterr()


def berlin(ahead: timedelta) -> str:
    return (
        (datetime.now(UTC) + ahead).astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M")
    )


def send_at(ahead: timedelta) -> list[str]:
    send = ["send", "--name", "Later", "--message", "Doors open", "--all-contacts", "--yes"]
    return [*send, "--at", berlin(ahead), "--tz", "Europe/Berlin"]


@pytest.mark.usefixtures("contacts")
def test_send_at_with_a_messaging_service_is_held_by_the_provider_and_cancel_cancels_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sandbox: SandboxApp
) -> None:
    monkeypatch.setenv("NOTIFY_MESSAGING_SERVICE_SID", SERVICE)
    when = berlin(timedelta(hours=2))
    assert main(send_at(timedelta(hours=2))) == 0
    out = capsys.readouterr().out
    assert f"Scheduled at the provider for {when} Europe/Berlin" in out
    assert "nothing needs to keep running" in out
    assert "The provider holds them until" in out and "notify-tui cancel 1" in out
    assert {m.provider_status for m in Message.select()} == {"scheduled"}

    # A person opts out: the provider would still send theirs; the command cancels it now.
    assert main(["optout", "+13125550101"]) == 0
    out = capsys.readouterr().out
    assert "Cancelled 1 scheduled message the provider held for opted-out numbers." in out
    assert sandbox.stats()["canceled"] == 1

    assert main(["cancel", "1"]) == 0
    out = capsys.readouterr().out
    assert "Campaign 1 cancelled: 1 scheduled message cancelled at the provider, 0 never" in out
    assert {m.provider_status for m in Message.select()} == {"canceled"}
    assert sandbox.stats()["canceled"] == 2
    campaign = get_campaign(1)
    assert campaign is not None and campaign.state == "canceled"

    assert main(["send", "--resume", "1"]) == 1
    assert "campaign 1 was cancelled" in capsys.readouterr().err


@pytest.mark.usefixtures("contacts")
def test_send_at_without_a_service_waits_in_the_store_and_poll_starts_it_when_due(
    capsys: pytest.CaptureFixture[str], sandbox: SandboxApp
) -> None:
    when = berlin(timedelta(hours=5))
    assert main(send_at(timedelta(hours=5))) == 0
    out = capsys.readouterr().out
    assert f"Waits in the store until {when} Europe/Berlin" in out
    assert "notify-tui poll (or the app) must be running then" in out
    assert sandbox.stats().get("create", 0) == 0
    campaign = get_campaign(1)
    assert campaign is not None and campaign.state == "scheduled"

    assert main(["poll", "--once"]) == 0
    assert sandbox.stats().get("create", 0) == 0  # not due yet

    # Its time has come (the store's clock is the wall clock: move the campaign instead).
    Campaign.update(wake_at=utcnow() - timedelta(seconds=1)).execute()
    Campaign.update(send_at=utcnow() - timedelta(seconds=1)).execute()
    assert main(["poll", "--once"]) == 0
    out = capsys.readouterr().out
    assert "campaign 1 is due: sending it" in out
    assert "campaign 1: 2 submitted, 0 refused, now sent" in out
    assert sandbox.stats()["create"] == 2


def test_an_unreadable_time_or_zone_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["send", "--name", "X", "--message", "Hi", "--all-contacts", "--yes"]
    assert main([*base, "--at", "tomorrow"]) == 1
    assert capsys.readouterr().err.startswith("notify-tui: error: cannot read the time")
    assert main([*base, "--at", "2026-12-10 10:00", "--tz", "Mars/Base"]) == 1
    assert "unknown time zone 'Mars/Base'" in capsys.readouterr().err
    assert main([*base, "--at", "2027-03-28 02:30", "--tz", "Europe/Berlin"]) == 1
    assert "does not exist in Europe/Berlin" in capsys.readouterr().err
    assert main([*base, "--quiet-hours", "late"]) == 1
    assert "write them like 21:00-08:00" in capsys.readouterr().err
