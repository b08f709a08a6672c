"""How History and Details look, on fixed data and a fixed clock (pytest-textual-snapshot).

Regenerate with ``pytest tests/ui/test_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from textual.pilot import Pilot

from notify_tui.services.runtime import Runtime
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.screens.details import DetailsScreen
from tests.ui.seed import fixed_clock, seed_history, wait_until


def build(runtime: Runtime) -> NotifyApp:
    return make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock, tz=UTC)


def open_details(campaign_id: int, *keys: str):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        await app.push_screen(DetailsScreen(campaign_id))
        await pilot.pause()
        await wait_until(pilot, lambda: getattr(app.screen, "loaded", False))
        if keys:
            await pilot.press(*keys)
        await pilot.pause()

    return run_before


def test_history(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    seed_history()
    assert snap_compare(build(sync_runtime), terminal_size=(80, 24))


def test_history_wide(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    seed_history()
    assert snap_compare(build(sync_runtime), terminal_size=(140, 20))


def test_details(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    spring = seed_history()["Spring sale"]
    app = build(sync_runtime)
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_details(spring))


def test_details_wide(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    spring = seed_history()["Spring sale"]
    app = build(sync_runtime)
    assert snap_compare(app, terminal_size=(140, 36), run_before=open_details(spring))


def test_details_filtered_by_reason(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    spring = seed_history()["Spring sale"]
    app = build(sync_runtime)
    run_before = open_details(spring, "r", "down", "enter")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_details_help(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    spring = seed_history()["Spring sale"]
    app = build(sync_runtime)
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_details(spring, "f1"))


def with_screen(screen_factory, ready=None, *keys: str):  # type: ignore[no-untyped-def]
    """Push a screen, wait until ``ready(screen)``, press ``keys``, and still every cursor."""

    async def run_before(pilot: Pilot) -> None:
        from textual.widgets import Input, TextArea

        app = pilot.app
        screen = screen_factory()
        await app.push_screen(screen)
        await pilot.pause()
        if ready is not None:
            await wait_until(pilot, lambda: ready(screen))
        if keys:
            await pilot.press(*keys)
        for widget in app.screen.query("Input, TextArea"):
            assert isinstance(widget, Input | TextArea)
            widget.cursor_blink = False
        await pilot.pause()

    return run_before


def compose_written():  # type: ignore[no-untyped-def]
    from textual.widgets import Input, TextArea

    from notify_tui.ui.screens.compose import ComposeScreen

    def build_screen() -> ComposeScreen:
        return ComposeScreen()

    async def run_before(pilot: Pilot) -> None:
        await with_screen(build_screen)(pilot)
        screen = pilot.app.screen
        screen.query_one("#compose-name", Input).value = "Spring sale [bold]x"
        body = screen.query_one("#compose-body", TextArea)
        body.text = (
            "It’s spring! 20% off everything this weekend with code {{SPRING}}. "
            "Reply STOP to opt out."
        )
        body.focus()
        body.cursor_blink = False
        await pilot.pause()

    return run_before


def test_compose(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    seed_history()
    app = build(sync_runtime)
    assert snap_compare(app, terminal_size=(80, 24), run_before=compose_written())


def test_compose_summary(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    from notify_tui.ui.dialogs.campaign_plan import CampaignPlanDialog

    seed_history()
    app = build(sync_runtime)
    written = compose_written()

    async def run_before(pilot: Pilot) -> None:
        await written(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CampaignPlanDialog))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_optouts(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    from notify_tui.ui.screens.optouts import OptOutsScreen
    from tests.ui.seed import seed_optouts

    seed_history()
    seed_optouts()
    app = build(sync_runtime)
    run_before = with_screen(OptOutsScreen, lambda s: s.loaded)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_contacts(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    from notify_tui.ui.screens.contacts import ContactsScreen

    seed_history()
    app = build(sync_runtime)
    run_before = with_screen(ContactsScreen, lambda s: s.history_phone is not None)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_suggestions(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    from notify_tui.ui.dialogs.suggestions import SuggestionsDialog
    from tests.ui.seed import seed_suggestions

    spring = seed_history()["Spring sale"]
    seed_suggestions(spring, ["+14155550102", "+14155550107"])
    seed_suggestions(spring, ["+14155550109"], held=True)
    app = build(sync_runtime)

    async def run_before(pilot: Pilot) -> None:
        await open_details(spring)(pilot)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, SuggestionsDialog))
        await wait_until(pilot, lambda: pilot.app.screen.loaded)  # type: ignore[attr-defined]
        await pilot.press("space")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


# Every main screen at the three sizes users run it at, with long names and long reasons
# (issue 14: 18, 19): columns shared by priority, no key cut, the review's buttons on screen.

SIZES = {"60x20": (60, 20), "80x24": (80, 24), "200x50": (200, 50)}


@pytest.mark.parametrize("size", SIZES)
def test_history_at(snap_compare, sync_runtime: Runtime, size: str) -> None:  # type: ignore[no-untyped-def]
    from tests.ui.seed import seed_long_text

    seed_long_text()
    app = build(sync_runtime)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=wait_for_history)


@pytest.mark.parametrize("size", SIZES)
def test_details_at(snap_compare, sync_runtime: Runtime, size: str) -> None:  # type: ignore[no-untyped-def]
    from tests.ui.seed import LONG_CAMPAIGN, seed_long_text

    campaign_id = seed_long_text()[LONG_CAMPAIGN]
    app = build(sync_runtime)
    # On the STOP row: the line under the table tells its code's advice.
    run_before = open_details(campaign_id, "j")
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_review_of_a_csv_audience_at(  # type: ignore[no-untyped-def]
    snap_compare, sync_runtime: Runtime, tmp_path: Path, monkeypatch, size: str
) -> None:
    from textual.widgets import Input, TextArea

    from notify_tui.ui.dialogs.campaign_plan import CampaignPlanDialog
    from notify_tui.ui.screens.compose import ComposeScreen
    from tests.ui.seed import LONG_PEOPLE, seed_long_text

    seed_long_text()
    folder = tmp_path / "exports"
    folder.mkdir()
    csv = folder / "brighton-and-hove-customers.csv"
    lines = ["name;phone", *(f"{p.name};{p.phone}" for p in LONG_PEOPLE)]
    lines += ["Typo Tom;555-01", "Ada again;+14155559205", "Nobody;"]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the path typed, and shown, is the same in every run
    app = build(sync_runtime)

    async def run_before(pilot: Pilot) -> None:
        await with_screen(ComposeScreen)(pilot)
        screen = pilot.app.screen
        screen.query_one("#compose-name", Input).value = LONG_CAMPAIGN_NAME
        screen.query_one(
            "#compose-body", TextArea
        ).text = "Spring sale: 20% off. Reply STOP to opt out."
        screen.query_one("#compose-file", Input).value = str(csv.relative_to(tmp_path))
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CampaignPlanDialog))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_optouts_at(snap_compare, sync_runtime: Runtime, size: str) -> None:  # type: ignore[no-untyped-def]
    from notify_tui.ui.screens.optouts import OptOutsScreen
    from tests.ui.seed import seed_long_text, seed_optouts

    seed_long_text()
    seed_optouts()
    app = build(sync_runtime)
    run_before = with_screen(OptOutsScreen, lambda s: s.loaded)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


LONG_CAMPAIGN_NAME = "Weekend reminder for every customer of the Brighton and Hove shops"


async def wait_for_history(pilot: Pilot) -> None:
    from tests.ui.seed import wait_for_campaigns

    await wait_for_campaigns(pilot)
    await pilot.pause()
