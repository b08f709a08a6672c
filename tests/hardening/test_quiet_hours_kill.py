"""Quiet hours across three time zones, the sender killed with SIGKILL while it holds some
recipients, then resumed: New York goes out at once, Chicago and Los Angeles wait for 08:00-ish
where they are, each once, however the process died.

The sandbox is served over real HTTP on loopback in this process, on a clock that follows the
wall clock until the test moves it forward (never waiting for a window to open).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from notify_tui.domain.quiet_hours import QuietHours
from notify_tui.domain.status import CampaignState
from notify_tui.provider import SANDBOX_ACCOUNT_SID, ProviderConfig, TwilioClient
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.schedule import DueCampaigns
from notify_tui.services.sender import plan_campaign, record_campaign, send_campaign
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.models import Message
from notify_tui.store.sending import NewRecipient, send_state_counts
from tests.invariants import assert_counters_hold
from tests.provider.support import LiveServer, accepted_numbers

from .support import ROOT, SENDER, subprocess_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

SEND_DRIVER = ROOT / "tests" / "services" / "send_driver.py"
BODY = "Quiet hours: good morning"
CHICAGO = ZoneInfo("America/Chicago")


class WallClock:
    """The wall clock, moved forward by the test (``advance``)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self(), UTC).replace(tzinfo=None)


def numbers(prefix: str, count: int) -> list[str]:
    return accepted_numbers(count, prefix)


def window_holding_chicago_and_los_angeles(now: datetime) -> QuietHours:
    """Quiet from 2 h 10 min before Chicago's time to 50 min after it: Chicago inside, Los
    Angeles (two hours behind) inside, New York (one ahead) outside, with minutes to spare."""
    local = now.astimezone(CHICAGO)
    start, end = local - timedelta(hours=2, minutes=10), local + timedelta(minutes=50)
    return QuietHours.parse(f"{start:%H:%M}-{end:%H:%M}")


def test_a_quiet_hours_campaign_killed_while_holding_resumes_and_sends_each_once(
    tmp_path: Path, workspace_url: str
) -> None:
    clock = WallClock()
    sandbox = SandboxApp(clock=clock, seed=3)
    live = LiveServer(sandbox)
    live.start()
    try:
        new_york, chicago, los_angeles = (
            numbers("+1212555", 30),
            numbers("+1312555", 30),
            numbers("+1213555", 30),  # Los Angeles too
        )
        everyone = [p for trio in zip(new_york, chicago, los_angeles, strict=True) for p in trio]
        quiet = window_holding_chicago_and_los_angeles(datetime.now(UTC))
        plan = plan_campaign(
            "Three zones",
            BODY,
            [NewRecipient(p) for p in everyone],
            sender=SENDER,
            timezone="America/Chicago",
            quiet_hours=quiet,
        )
        assert plan.quiet is not None and plan.quiet.held == 60
        campaign_id = record_campaign(plan).campaign_id

        env = subprocess_env(tmp_path, workspace_url, NOTIFY_PROVIDER_URL=live.base_url)
        out = tmp_path / "sender.out"
        with out.open("wb") as handle:
            sender = subprocess.Popen(
                [sys.executable, str(SEND_DRIVER), str(campaign_id), "--rate", "20"],
                cwd=ROOT,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 60
            while send_state_counts(campaign_id).get("submitted", 0) < 10:
                assert time.monotonic() < deadline, out.read_text()
                assert sender.poll() is None, out.read_text()
                time.sleep(0.02)
            sender.send_signal(signal.SIGKILL)
            sender.wait(timeout=10)
        finally:
            if sender.poll() is None:
                sender.kill()
        # Killed while holding: some recipients wait with their hold recorded, none was sent.
        held_at_kill = Message.select().where(Message.held_until.is_null(False)).count()
        assert held_at_kill > 0
        assert get_campaign(campaign_id).state == CampaignState.SENDING  # type: ignore[union-attr]

        async def run() -> None:
            config = ProviderConfig(account_sid=SANDBOX_ACCOUNT_SID, base_url=live.base_url)
            async with TwilioClient(config) as client:

                async def send(started: int) -> None:
                    await send_campaign(client, started, rate=None, wall=clock.utcnow)

                # The resume sends New York's rest and holds the others.
                resumed = await send_campaign(client, campaign_id, rate=None, wall=clock.utcnow)
                assert resumed.state == CampaignState.SCHEDULED
                assert resumed.held == 60  # every hold kept, none sent
                assert sent_to() == Counter({"212": 30})

                due = DueCampaigns(send, clock=clock.utcnow)
                assert await due.check() == []  # nobody's window is open yet
                clock.advance(55 * 60)  # Chicago's opens
                assert await due.check() == [campaign_id]
                await due.wait()
                assert sent_to() == Counter({"212": 30, "312": 30})
                campaign = get_campaign(campaign_id)
                assert campaign is not None and campaign.state == CampaignState.SCHEDULED
                clock.advance(2 * 3600)  # and Los Angeles'
                assert await due.check() == [campaign_id]
                await due.wait()
                # Each recipient exactly once at the provider, from its own records.
                for phone in everyone:
                    listed = [
                        m.sid
                        async for page in client.list_messages(to=phone, page_size=50)
                        for m in page
                    ]
                    stored = Message.get(Message.phone == phone)
                    assert listed == [stored.sid], phone

        asyncio.run(run())
    finally:
        live.stop()
        sandbox.close()

    assert sent_to() == Counter({"212": 30, "312": 30, "213": 30})
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == CampaignState.SENT
    assert send_state_counts(campaign_id) == {"submitted": 90}
    assert_counters_hold(campaign_id)


def sent_to() -> Counter[str]:
    """Submitted messages by area code."""
    rows = Message.select(Message.phone).where(Message.send_state == "submitted")
    return Counter(m.phone[2:5] for m in rows)
