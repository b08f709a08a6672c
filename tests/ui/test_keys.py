"""Keys remapped in the config file and the theme chosen in the palette, as the user meets them."""

from __future__ import annotations

import json
from dataclasses import replace
from types import MappingProxyType

from notify_tui.services.runtime import Runtime
from notify_tui.ui.app import make_app
from notify_tui.ui.preferences import state_path
from notify_tui.ui.screens.help import HelpScreen
from notify_tui.ui.screens.history import HistoryScreen
from tests.ui.seed import seed_history, wait_for_campaigns, wait_until
from tests.ui.shown import notifications


def _with(runtime: Runtime, **settings: object) -> Runtime:
    return Runtime(replace(runtime.settings, **settings), runtime.database, runtime.client)


async def test_a_remapped_key_acts_and_help_shows_it(runtime: Runtime) -> None:
    seed_history()
    keys = MappingProxyType({"app.help": "f2", "history.filter": "ctrl+o"})
    app = make_app(_with(runtime, keys=keys), poll=False, first_run_demo=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for_campaigns(pilot)
        await pilot.press("f1")  # no longer help
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert isinstance(app.screen, HelpScreen)
        described = {entry.description: entry.keys for entry in app.screen.entries}
        assert described["Help"] == ("f2",)
        assert described["Filter"] == ("^o",)
        # Every id was known (checked on a worker): nothing to warn about.
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not notifications(app, "warning")


async def test_a_remapped_key_another_action_of_the_screen_has_is_said(
    runtime: Runtime,
) -> None:
    # N starts a new campaign in History.
    keys = MappingProxyType({"history.filter": "n"})
    app = make_app(_with(runtime, keys=keys), poll=False, first_run_demo=False)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: bool(notifications(app, "warning")))
        (shown,) = notifications(app, "warning")
        assert "n would do history.filter and history.new_campaign" in shown


async def test_a_key_id_the_app_does_not_have_is_named(runtime: Runtime) -> None:
    keys = MappingProxyType({"details.exprot": "x"})
    app = make_app(_with(runtime, keys=keys), poll=False, first_run_demo=False)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: bool(notifications(app, "warning")))
        (shown,) = notifications(app, "warning")
        assert "details.exprot" in shown and "[keys]" in shown


async def test_the_theme_chosen_is_remembered_until_the_setting_changes(
    runtime: Runtime,
) -> None:
    configured = _with(runtime, theme="nord")
    app = make_app(configured, poll=False, first_run_demo=False)
    async with app.run_test() as pilot:
        assert app.theme == "nord"
        app.theme = "gruvbox"  # as the command palette's theme picker does
        path = state_path(configured.settings)
        await wait_until(pilot, path.exists)
        assert json.loads(path.read_text())["theme"] == "gruvbox"

    app = make_app(configured, poll=False, first_run_demo=False)
    async with app.run_test() as pilot:
        assert app.theme == "gruvbox"

    # The user writes another theme into the config file: it wins over the older choice.
    app = make_app(_with(runtime, theme="dracula"), poll=False, first_run_demo=False)
    async with app.run_test() as pilot:
        assert app.theme == "dracula"


async def test_an_unknown_theme_is_said_and_the_default_kept(runtime: Runtime) -> None:
    app = make_app(_with(runtime, theme="no-such-theme"), poll=False, first_run_demo=False)
    default = app.theme
    async with app.run_test(notifications=True) as pilot:
        await wait_until(pilot, lambda: bool(notifications(app, "warning")))
        assert "no-such-theme" in notifications(app, "warning")[0]
        assert app.theme == default
        assert not state_path(runtime.settings).exists()


async def test_a_remapped_action_takes_its_why_not_along(runtime: Runtime) -> None:
    # R resumes an interrupted campaign and, where there is none, says why it cannot.
    keys = MappingProxyType({"history.resume": "ctrl+e"})
    app = make_app(_with(runtime, keys=keys), poll=False, first_run_demo=False)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("R")
        await pilot.pause()
        assert not notifications(app)
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: bool(notifications(app)))
        assert notifications(app)[0].startswith("Nothing to resume")
