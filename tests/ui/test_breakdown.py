"""Details' breakdowns: ``b`` cycles the panel beside the chart between the failure reasons and
the recipients by country, original carrier and line type; Enter on a group filters the table."""

from __future__ import annotations

from textual.widgets import Static

from notify_tui.domain.insights import Dimension
from notify_tui.services.runtime import Runtime
from notify_tui.ui.app import make_app
from notify_tui.ui.widgets.breakdown_panel import BreakdownPanel
from notify_tui.ui.widgets.breakdown_table import BreakdownTable
from notify_tui.ui.widgets.delivery_time import DeliveryTimeLine
from notify_tui.ui.widgets.reason_list import ReasonList
from tests.ui.details_support import names, open_details, table
from tests.ui.seed import SPRING, Person, fixed_clock, seed_campaign, wait_until
from tests.ui.shown import lines_of

ABROAD = [
    Person("+33612345678", "Amélie Poulain"),
    Person("+33612345679", "Jean Valjean", 30003),
    Person("+4915112345678", "Kaspar Hauser"),
]
"""Two numbers in France (one fails) and one in Germany, beside SPRING's in the US."""


def panel_text(app: object) -> str:
    from textual.app import App

    assert isinstance(app, App)
    panel = app.screen.query_one(BreakdownPanel)
    return "\n".join(line for child in panel.children if child.display for line in lines_of(child))


async def test_b_cycles_reasons_country_carrier_line_type(runtime: Runtime) -> None:
    campaign = seed_campaign("Abroad", [*SPRING, *ABROAD])
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_details(app, pilot, campaign)
        panel = screen.query_one(BreakdownPanel)
        assert "Failed Message Reasons" in panel_text(app)
        assert panel.query_one(ReasonList).display
        await pilot.press("b")
        assert panel.dimension is Dimension.COUNTRY
        assert not panel.query_one(ReasonList).display
        shown = panel_text(app)
        assert "By country" in shown
        lines = shown.splitlines()
        us = next(line for line in lines if " US " in line)
        fr = next(line for line in lines if " FR " in line)
        assert "12" in us and "41.7%" in us  # 5 of SPRING's 12 delivered
        assert "2" in fr and "50.0%" in fr and "Unreachable" in fr
        await pilot.press("b")
        assert "By original carrier" in panel_text(app)
        assert "ported numbers keep it" in panel_text(app)
        assert "SFR" in panel_text(app)
        await pilot.press("b")
        assert "By line type" in panel_text(app)
        assert "Mobile" in panel_text(app)
        await pilot.press("b")
        assert panel.dimension is Dimension.REASON
        assert panel.query_one(ReasonList).display


async def test_enter_on_a_group_filters_the_table(runtime: Runtime) -> None:
    campaign = seed_campaign("Abroad", [*SPRING, *ABROAD])
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_details(app, pilot, campaign)
        await pilot.press("b", "r")
        breakdown = screen.query_one(BreakdownTable)
        assert breakdown.has_focus
        rows = [g.key for g in breakdown.groups]
        await pilot.press(*(["down"] * rows.index("FR")), "enter")
        await wait_until(pilot, lambda: table(app).row_count == 2 and not table(app).reading)
        assert sorted(names(app)) == ["Amélie Poulain", "Jean Valjean"]
        summary = str(screen.query_one("#filter-summary", Static).render())
        assert "2 of 15" in summary and "Country: FR" in summary
        assert "▶" in next(line for line in panel_text(app).splitlines() if " FR " in line)
        await pilot.press("f")  # a status narrows the group further
        await wait_until(pilot, lambda: table(app).row_count == 1 and not table(app).reading)
        assert names(app) == ["Jean Valjean"]
        await pilot.press("enter")  # the same group again: every group
        await wait_until(pilot, lambda: table(app).row_count == 6 and not table(app).reading)
        assert "Country" not in str(screen.query_one("#filter-summary", Static).render())


async def test_delivery_times_fit_at_80x24(runtime: Runtime) -> None:
    campaign = seed_campaign("Abroad", [*SPRING, *ABROAD])
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot, campaign)
        line = lines_of(screen.query_one(DeliveryTimeLine))[0]
        assert line.startswith("Delivery time  p50 ")
        assert "p50" in line and "p90" in line and "p99" in line
        assert "<10 s" in line and "6 h+" in line
        assert len(line.rstrip()) <= 80


async def test_help_lists_the_insight_keys(runtime: Runtime) -> None:
    from notify_tui.ui.screens.help import HelpScreen

    campaign = seed_campaign("Abroad", [*SPRING, *ABROAD])
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, campaign)
        await pilot.press("b", "r", "f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert isinstance(app.screen, HelpScreen)
        described = {e.description: e for e in app.screen.entries}
        assert described["Breakdown"].keys == ("b",)
        assert "original carrier" in described["Breakdown"].tooltip
        assert described["Follow up"].keys == ("F",)
        assert described["Alerts"].keys == ("w",)
        assert described["Show alert's recipients"].keys == ("x",)
        assert described["Filter by group"].keys == ("⏎",)  # the breakdown has the focus


async def test_the_panel_says_b_at_80x24(runtime: Runtime) -> None:
    campaign = seed_campaign("Abroad", [*SPRING, *ABROAD])
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, campaign)
        assert panel_text(app).splitlines()[0].strip() == "Reasons (r, ⏎ filters · b: by country)"
        await pilot.press("b", "b")
        assert panel_text(app).splitlines()[0].strip() == "Original carrier (⏎ filters · b: next)"
