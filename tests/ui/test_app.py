"""The app as a whole: the factory, help, quitting, sizes, monochrome, errors, first run."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from notify_tui.config import load_settings
from notify_tui.services import demo
from notify_tui.services.runtime import Runtime
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.screens.demo import DemoScreen
from notify_tui.ui.screens.details import DetailsScreen
from notify_tui.ui.screens.help import HelpScreen
from notify_tui.ui.screens.history import HistoryScreen
from notify_tui.ui.widgets.campaign_table import CampaignTable
from notify_tui.ui.widgets.recipient_table import RecipientTable
from notify_tui.ui.widgets.status_chart import StatusChart
from tests.ui.seed import (
    SPRING,
    fixed_clock,
    seed_campaign,
    seed_history,
    wait_for_campaigns,
    wait_until,
)
from tests.ui.shown import lines_of, notifications
from tests.ui.sql_guard import SqlOnLoopGuard


async def test_make_app_starts_nothing() -> None:
    runtime = Runtime.open(load_settings())
    try:
        app = make_app(runtime)
        assert isinstance(app, NotifyApp)
        assert runtime._client is None  # no provider client built
        assert app.live._poller is None
        assert not list(app.workers)
    finally:
        await runtime.aclose()


async def test_help_lists_the_keys_of_the_current_screen(runtime: Runtime) -> None:
    ids = seed_history()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        entries = {(e.keys, e.description) for e in app.screen.entries}
        assert (("/",), "Filter") in entries
        assert (("⏎",), "Details") in entries
        assert (("f1",), "Help") in entries
        assert (("^q",), "Quit") in entries
        assert any(keys == ("↓", "j") for keys, _ in entries)  # aliases share an entry
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)

        await app.push_screen(DetailsScreen(ids["Spring sale"]))
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        described = {e.description: e for e in app.screen.entries}
        for name in ("Delivered", "Failed", "Unknown", "All", "Search", "Sort", "Opt out"):
            assert name in described
        assert described["Export"].keys == ("e",)
        assert "CSV" in described["Export"].tooltip
        assert app.screen.entries[0].section == "Details"  # the screen's own keys first
        await pilot.press("f1")  # F1 again closes it
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)


async def test_ctrl_q_quits(runtime: Runtime) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


@pytest.mark.parametrize("size", [(80, 24), (200, 50), (60, 16)])
async def test_sizes(runtime: Runtime, size: tuple[int, int]) -> None:
    ids = seed_history()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        campaigns = app.screen.query_one(CampaignTable)
        await wait_until(pilot, lambda: campaigns.row_count == 3)
        await app.push_screen(DetailsScreen(ids["Spring sale"]))
        await pilot.pause()
        await pilot.press("f", "r", "enter", "f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = "\n".join(lines_of(app.screen.query_one("#help-table")))
        assert "Export" in shown and "Opt out" in shown  # the keys of Details, readable
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        assert "Failed" in app.screen.query_one(StatusChart).render().plain


async def test_no_color_and_sixteen_colours_keep_words(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    spring = seed_campaign("Spring sale", SPRING)
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(DetailsScreen(spring))
        await pilot.pause()
        chart = app.screen.query_one(StatusChart).render().plain
        for word, glyph in (("Delivered", "█"), ("Failed", "▓"), ("Unknown", "░")):
            line = next(x for x in chart.splitlines() if x.startswith(word))
            assert glyph in line  # a different bar glyph per status, not only a colour
        lines = [app.screen.query_one(RecipientTable).render_line(y).text for y in range(1, 6)]
        assert any("Delivered" in x for x in lines) and any("Failed" in x for x in lines)
        app.theme = "ansi-dark"  # the terminal's own 16 colours
        await pilot.pause()
        assert chart == app.screen.query_one(StatusChart).render().plain
        again = [app.screen.query_one(RecipientTable).render_line(y).text for y in range(1, 6)]
        assert again == lines


async def test_a_failing_worker_is_one_notification(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spring = seed_campaign("Spring sale", SPRING)

    def broken(*args: object, **kwargs: object) -> int:
        # Not an OSError (the export says those in its own words): a bug.
        raise RuntimeError("the export broke")

    monkeypatch.setattr("notify_tui.ui.campaign_reads.export_campaign", broken)
    monkeypatch.setenv("HOME", str(tmp_path))
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await app.push_screen(DetailsScreen(spring))
        await pilot.pause()
        title = "Exporting recipients to CSV failed"
        await pilot.press("e", "enter")  # where: the default
        await wait_until(pilot, lambda: any(title in n for n in notifications(app)))
        await pilot.press("e", "enter")
        await wait_until(pilot, lambda: not app.screen.workers._workers)
        await pilot.pause()
        failures = [n for n in notifications(app) if title in n]
        assert failures == [f"{title}: RuntimeError: the export broke"]
        assert app.is_running


async def test_first_run_builds_the_demo_then_shows_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tiny = (demo.DemoCampaign("Tiny demo", "Hello from the demo", 6, timedelta(0), speed=40.0),)
    monkeypatch.setattr(demo, "build_demo", partial(demo.build_demo, campaigns=tiny))
    runtime = Runtime.open(load_settings())
    try:
        app = make_app(runtime, poll=False)
        async with app.run_test(size=(80, 24)) as pilot:
            # Whether a demo is needed is read on a thread: the demo screen follows.
            await wait_until(pilot, lambda: isinstance(app.screen, DemoScreen | HistoryScreen))
            assert isinstance(app.screen, DemoScreen)
            await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen), tries=400)
            table = app.screen.query_one(CampaignTable)
            await wait_until(pilot, lambda: table.row_count == 1)
            assert table.current_row.name == "Tiny demo"  # type: ignore[union-attr]
        assert not demo.needs_demo(runtime)
    finally:
        await runtime.aclose()


async def test_no_demo_when_asked_not_to(runtime: Runtime) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False)
    async with app.run_test(size=(80, 24)):
        assert isinstance(app.screen, HistoryScreen)
        assert app.screen.query_one(CampaignTable).row_count == 0


async def test_help_lists_the_keys_of_the_new_screens(runtime: Runtime) -> None:
    from notify_tui.ui.screens.compose import ComposeScreen
    from notify_tui.ui.screens.contacts import ContactsScreen
    from notify_tui.ui.screens.optouts import OptOutsScreen

    seed_history()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_campaigns(pilot)
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        entries = {e.description: e.keys for e in app.screen.entries}  # type: ignore[attr-defined]
        assert entries["New"] == ("n",)
        assert entries["Contacts"] == ("c",)
        assert entries["Opt-outs"] == ("O",)
        assert entries["Resume"] == ("R",)  # the newest campaign was left sending: resumable
        await pilot.press("escape")

        expected = {
            "n": (ComposeScreen, {"Review & send": ("^r",), "Back": ("esc",)}),
            "c": (ContactsScreen, {"Search": ("/",), "Opt out": ("o",)}),
            "O": (OptOutsScreen, {"Opt back in": ("o",), "Manual": ("m",), "STOP": ("s",)}),
        }
        for key, (screen_type, keys) in expected.items():
            await pilot.press(key)
            await wait_until(pilot, lambda t=screen_type: isinstance(app.screen, t))
            await pilot.press("f1")  # F1 works in a text box too (New campaign starts in one)
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
            entries = {e.description: e.keys for e in app.screen.entries}  # type: ignore[attr-defined]
            for description, shown in keys.items():
                assert entries.get(description) == shown, (screen_type, description)
            await pilot.press("escape", "escape")
            await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))

        await app.push_screen(DetailsScreen(1))
        await pilot.pause()
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        described = {e.description: e for e in app.screen.entries}  # type: ignore[attr-defined]
        assert described["Suggestions"].keys == ("p",)


@pytest.mark.parametrize("size", [(80, 24), (200, 50), (60, 16)])
async def test_new_screens_at_every_size(runtime: Runtime, size: tuple[int, int]) -> None:
    from notify_tui.ui.dialogs.suggestions import SuggestionsDialog
    from tests.ui.seed import seed_optouts, seed_suggestions

    spring = seed_history()["Spring sale"]
    seed_optouts()
    seed_suggestions(spring, ["+14155550102"])
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        for keys in (("n", "f1", "escape", "escape"), ("c", "j", "f1", "escape", "escape")):
            await pilot.press(*keys)
            await pilot.pause()
            assert isinstance(app.screen, HistoryScreen)
        await pilot.press("O", "s", "f1")
        await pilot.pause()
        await pilot.press("escape", "escape")
        await app.push_screen(DetailsScreen(spring))
        await pilot.pause()
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, SuggestionsDialog))
        await pilot.press("space", "f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        # The dialog's own keys, readable at every size.
        shown = "\n".join(lines_of(app.screen.query_one("#help-table")))
        assert "Accept all" in shown and "Dismiss all" in shown


async def test_the_guard_catches_sql_on_the_event_loop(
    runtime: Runtime, no_sql_on_the_event_loop: SqlOnLoopGuard
) -> None:
    from textual.app import App

    from notify_tui.store.campaigns import count_campaigns

    class Careless(App[None]):
        def on_mount(self) -> None:
            count_campaigns()  # on the event loop: what every UI test forbids

    count_campaigns()  # the test itself may read the database
    assert no_sql_on_the_event_loop.offenders == []
    async with Careless().run_test() as pilot:
        await pilot.pause()
    caught = no_sql_on_the_event_loop.offenders
    assert len(caught) == 1 and 'FROM "campaign"' in caught[0]
    caught.clear()  # caught on purpose: the fixture must not fail this test
