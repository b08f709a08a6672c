"""History's ``s``: the campaigns in another order, said in the title, kept for the session
(issue 14, item 24)."""

from __future__ import annotations

from textual.widgets import Static

from notify_tui.domain.campaign_sort import CampaignSort
from notify_tui.services.runtime import Runtime
from notify_tui.store.models import Campaign
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.screens.history import HistoryScreen
from notify_tui.ui.widgets.campaign_table import CampaignTable
from tests.ui.seed import (
    Person,
    fixed_clock,
    seed_campaign,
    seed_history,
    wait_for_campaigns,
    wait_until,
)
from tests.ui.shown import lines_of

SHOWN = {
    CampaignSort.NEWEST: ["Restock alert", "⚠ Spring sale", "↳ Another try", "Winter newsletter"],
    # Spring sale's 5 failures; then the others, none failed, the newest first.
    CampaignSort.FAILURES: ["⚠ Spring sale", "↳ Another try", "Restock alert", "Winter newsletter"],
    # 0 % (all Unknown so far), 41.7 %, 100 %.
    CampaignSort.DELIVERY: ["Restock alert", "⚠ Spring sale", "↳ Another try", "Winter newsletter"],
    # The follow-up stays under its campaign, though its own name comes first (⚠: an alert).
    CampaignSort.NAME: ["Restock alert", "⚠ Spring sale", "↳ Another try", "Winter newsletter"],
}


def _title(app: NotifyApp) -> str:
    return str(app.screen.query_one("#history-title", Static).render())


def _names(app: NotifyApp) -> list[str]:
    """The campaigns' names as the table shows them, top to bottom."""
    lines = lines_of(app.screen.query_one(CampaignTable))[1:]  # under the header
    return [line.strip().split("  ")[0] for line in lines if line.strip()]


def _seed() -> None:
    ids = seed_history()
    again = seed_campaign("Another try", [Person("+14155550999", "Late", 30003)])
    Campaign.update(followup_of=ids["Spring sale"]).where(Campaign.id == again).execute()


async def test_s_goes_round_the_orders_and_says_which(runtime: Runtime) -> None:
    _seed()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_campaigns(pilot)
        await wait_until(pilot, lambda: "Campaigns · 4 · newest first" in _title(app))
        assert _names(app) == SHOWN[CampaignSort.NEWEST]
        for sort in [*list(CampaignSort)[1:], CampaignSort.NEWEST]:
            await pilot.press("s")
            await wait_until(pilot, lambda sort=sort: f"· {sort.label}" in _title(app))
            if sort in SHOWN:
                await wait_until(pilot, lambda sort=sort: _names(app) == SHOWN[sort])
            assert app.history_sort is sort
            # The column of the order says so, as in Details (none for the two by time).
            header = lines_of(app.screen.query_one(CampaignTable))[0]
            marked = {
                CampaignSort.FAILURES: "Failed▾",
                CampaignSort.DELIVERY: "% ▾",
                CampaignSort.NAME: "Campaign ▾",
            }
            assert header.count("▾") == (sort in marked), header
            assert marked.get(sort, "") in header, header


async def test_the_sort_is_kept_for_the_session_and_through_a_filter(runtime: Runtime) -> None:
    _seed()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_campaigns(pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: _names(app) == SHOWN[CampaignSort.FAILURES])
        await pilot.press("slash", *"r")  # Spring sale, Another try, Restock alert, Winter…
        await wait_until(pilot, lambda: "match “r”" in _title(app))
        assert "most failures first" in _title(app)
        await pilot.press("enter")  # back to the table, filter kept
        await pilot.press("A")  # the archived campaigns (none), in the same order
        await wait_until(pilot, lambda: _title(app).startswith("Archived campaigns"))
        assert "most failures first" in _title(app)
        # A new History (as after the demo) lists them as the user last chose.
        await app.switch_screen(HistoryScreen())
        await wait_for_campaigns(pilot)
        await wait_until(pilot, lambda: "most failures first" in _title(app))
        assert _names(app) == SHOWN[CampaignSort.FAILURES]


async def test_the_cursor_stays_on_its_campaign_when_the_rows_move(runtime: Runtime) -> None:
    ids = seed_history()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_campaigns(pilot)
        await pilot.press("s")  # most failures first: Spring sale, then Restock, Winter
        table = app.screen.query_one(CampaignTable)
        await wait_until(pilot, lambda: _names(app)[0] == "⚠ Spring sale")
        await pilot.press("down", "down", "enter")  # Winter newsletter's Details
        await wait_until(pilot, lambda: not isinstance(app.screen, HistoryScreen))
        # Meanwhile Winter newsletter's failures pass Spring sale's: it climbs to the top.
        Campaign.update(failed=9).where(Campaign.id == ids["Winter newsletter"]).execute()
        await pilot.press("escape")
        await wait_until(pilot, lambda: _names(app)[0] == "Winter newsletter")
        await wait_until(pilot, lambda: table.cursor_row == 0)
        assert table.current_row.name == "Winter newsletter"  # type: ignore[union-attr]
