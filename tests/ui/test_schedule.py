"""History and scheduled campaigns: the time they go out, and cancelling one with a key."""

from __future__ import annotations

from datetime import datetime, timedelta

from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.runtime import SANDBOX_FROM, Runtime
from notify_tui.services.sender import prepare_campaign
from notify_tui.store.campaigns import get_campaign, wait_in_store
from notify_tui.store.models import Campaign, Message
from notify_tui.store.sending import NewRecipient, claim_for_submit
from notify_tui.ui.app import make_app
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.screens.history import HistoryScreen
from notify_tui.ui.widgets.campaign_table import CampaignTable
from tests.ui.details_support import open_details, table
from tests.ui.seed import fixed_clock, wait_for_campaigns, wait_until
from tests.ui.shown import notifications


def scheduled(name: str, ahead: timedelta) -> int:
    """A campaign waiting in the store for its time."""
    campaign_id = prepare_campaign(
        name,
        "See you tomorrow",
        [NewRecipient(f"+1415777{i:04d}") for i in range(3)],
        sender=SANDBOX_FROM,
    ).campaign_id
    send_at = fixed_clock() + ahead
    Campaign.update(send_at=send_at, timezone="UTC").where(Campaign.id == campaign_id).execute()
    wait_in_store(campaign_id, send_at)
    return campaign_id


async def test_history_shows_when_a_scheduled_campaign_goes_out_and_x_cancels_it(
    runtime: Runtime, sandbox: SandboxApp
) -> None:
    campaign_id = scheduled("Tomorrow", timedelta(days=1))
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    app.offer_resume = False
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await wait_for_campaigns(pilot)
        table = app.screen.query_one(CampaignTable)
        at = (fixed_clock() + timedelta(days=1)).strftime("→%m-%d %H:%M")
        assert at in table.render_line(1).text
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert screen.check_action("cancel_campaign", ()) is True
        assert screen.check_action("resume", ()) is False
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        question = str(app.screen.query_one("#confirm-question").render())
        assert "Tomorrow" in question and "never sent" in question
        await pilot.press("y")
        await wait_until(pilot, lambda: get_campaign(campaign_id).state == "canceled")  # type: ignore[union-attr]
        await wait_until(pilot, lambda: "cancelled" in table.render_line(1).text)
        assert any("3 never sent" in n for n in notifications(app))
        assert screen.check_action("cancel_campaign", ()) is False
    assert sandbox.stats().get("create", 0) == 0


async def test_details_shows_a_recipient_held_by_quiet_hours_as_its_own_state(
    runtime: Runtime, sandbox: SandboxApp
) -> None:
    campaign_id = prepare_campaign(
        "Night",
        "Good morning",
        [NewRecipient("+13125550100"), NewRecipient("+4930123456")],
        sender=SANDBOX_FROM,
    ).campaign_id
    ids = [m.id for m in Message.select().order_by(Message.id)]
    until = datetime(2026, 12, 6, 14, 0)
    note = "held until 08:00 America/Chicago"
    claimed = claim_for_submit(
        campaign_id, ids, hold=lambda phone: (until, note) if phone.startswith("+1") else None
    )
    assert claimed.held == 1 and len(claimed.messages) == 1
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    app.offer_resume = False
    async with app.run_test(size=(200, 50)) as pilot:
        await open_details(app, pilot, campaign_id)
        rows = [table(app).render_line(y).text for y in range(table(app).size.height)]
        held = next(line for line in rows if "312" in line)
        assert "Held" in held and note in held
        other = next(line for line in rows if "30 123456" in line or "30123456" in line)
        assert "Held" not in other
