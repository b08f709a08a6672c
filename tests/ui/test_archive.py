"""History tidies up (issue 14: 22): archive a campaign (hidden, kept, restorable with a view
of the archived ones) and delete one that never reached anyone for real, asking first."""

from __future__ import annotations

from notify_tui.services.runtime import SANDBOX_FROM, Runtime
from notify_tui.store.campaigns import create_campaign, get_campaign
from notify_tui.store.models import Campaign
from notify_tui.store.sending import NewRecipient, add_recipients
from notify_tui.ui.app import make_app
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.screens.history import HistoryScreen
from notify_tui.ui.widgets.campaign_table import CampaignTable
from tests.ui.seed import fixed_clock, seed_history, wait_for_campaigns, wait_until
from tests.ui.shown import notifications


def draft(name: str) -> int:
    campaign_id = create_campaign(name, "Hello", sender=SANDBOX_FROM)
    add_recipients(campaign_id, [NewRecipient(f"+1415777{i:04d}") for i in range(3)])
    return campaign_id


def names(table: CampaignTable) -> list[str]:
    return [c.name for c in table.source.rows(0, table.row_count)]


async def test_archive_then_restore_from_the_archived_view(runtime: Runtime) -> None:
    ids = seed_history()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    app.offer_resume = False
    async with app.run_test(notifications=True, size=(100, 30)) as pilot:
        await wait_for_campaigns(pilot)
        history = app.screen
        assert isinstance(history, HistoryScreen)
        table = history.query_one(CampaignTable)
        await pilot.press("j")  # Spring sale
        await wait_until(pilot, lambda: table.current_row.name == "Spring sale")  # type: ignore[union-attr]
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: "Spring sale" not in names(table))
        archived = get_campaign(ids["Spring sale"])
        assert archived is not None and archived.archived_at is not None
        await pilot.press("A")  # the archived campaigns
        await wait_until(pilot, lambda: names(table) == ["Spring sale"])
        title = str(history.query_one("#history-title").render())
        assert title.startswith("Archived campaigns · 1")
        assert history.check_action("archive_campaign", ()) is False
        assert history.check_action("restore_campaign", ()) is True
        await pilot.press("a")  # restore
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: names(table) == [])
        await wait_until(pilot, lambda: any("back in History" in n for n in notifications(app)))
        await pilot.press("A")
        await wait_until(pilot, lambda: "Spring sale" in names(table))


async def test_delete_is_offered_for_a_demo_or_draft_only_and_asks(runtime: Runtime) -> None:
    real = draft("Sent for real")
    Campaign.update(sender="+14155550000", submitted=3, state="sent").where(
        Campaign.id == real
    ).execute()
    leftover = draft("Half-built demo")
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    app.offer_resume = False
    async with app.run_test(notifications=True, size=(100, 30)) as pilot:
        await wait_for_campaigns(pilot)
        history = app.screen
        assert isinstance(history, HistoryScreen)
        table = history.query_one(CampaignTable)
        assert table.current_row is not None and table.current_row.id == leftover
        assert history.check_action("delete_campaign", ()) is True
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")  # kept
        await wait_until(pilot, lambda: app.screen is history)
        assert get_campaign(leftover) is not None
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: "Half-built demo" not in names(table))
        assert get_campaign(leftover) is None
        # A campaign sent for real: not offered, and the key says why.
        await wait_until(pilot, lambda: table.current_row is not None)
        await wait_until(pilot, lambda: table.current_row.name == "Sent for real")  # type: ignore[union-attr]
        assert history.check_action("delete_campaign", ()) is False
        await pilot.press("D")
        await wait_until(pilot, lambda: any("for real" in n for n in notifications(app)))
        assert app.screen is history
