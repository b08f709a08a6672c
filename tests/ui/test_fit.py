"""Screens that fit: every column that matters is on screen at every size from 60x20 up, the
name and reason columns take the room the numbers do not need, and no footer key is cut."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets._footer import FooterKey

from notify_tui.services.runtime import Runtime
from notify_tui.store.models import Campaign
from notify_tui.ui.app import make_app
from notify_tui.ui.widgets.campaign_table import CampaignTable
from tests.ui.seed import fixed_clock, seed_history, wait_until
from tests.ui.shown import lines_of

LONG_NAME = "Spring sale for every customer of the Brighton and Hove shops, second reminder"


def seed_long_names() -> dict[str, int]:
    ids = seed_history()
    Campaign.update(name=LONG_NAME).where(Campaign.id == ids["Spring sale"]).execute()
    return ids


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (100, 30), (200, 50)])
async def test_history_columns_fit(runtime: Runtime, size: tuple[int, int]) -> None:
    seed_long_names()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        table = app.screen.query_one(CampaignTable)
        await wait_until(pilot, lambda: table.row_count == 3 and not table.reading)
        await pilot.pause()
        lines = lines_of(table)
        header = lines[0]
        for label in ("Campaign", "Sent", "Delivered", "Failed", "Unknown"):
            assert label in header, (size, header)
        assert table.virtual_size.width <= table.scrollable_content_region.width, size


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
async def test_history_footer_keys_fit(runtime: Runtime, size: tuple[int, int]) -> None:
    seed_long_names()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        table = app.screen.query_one(CampaignTable)
        await wait_until(pilot, lambda: table.row_count == 3 and not table.reading)
        await pilot.pause()

        def keys() -> list[FooterKey]:
            return [key for key in app.screen.query(FooterKey) if key.display]

        def whole() -> bool:
            return all(
                key.region.right <= size[0] and key.region.width > len(key.description)
                for key in keys()
            )

        # The footer lays its keys out after the screen's first refresh.
        await wait_until(pilot, lambda: bool(keys()) and whole())
        shown = [key.description for key in keys()]
        # Enter and Ctrl+Q gave way: F1 says there is more.
        assert "Resume" in shown and "More" in shown, shown


def test_a_share_that_rounds_to_nothing_is_not_shown_as_nothing() -> None:
    from notify_tui.ui.formatting import percent

    assert percent(1, 2_456) == "<0.1%"
    assert percent(2_455, 2_456) == ">99.9%"
    assert (percent(0, 2_456), percent(2_456, 2_456), percent(0, 0)) == ("0.0%", "100.0%", "0.0%")
    assert percent(5, 12) == "41.7%"


async def test_details_search_summary_keeps_clear_of_the_box(runtime: Runtime) -> None:
    from textual.widgets import Static

    from notify_tui.ui.screens.details import DetailsScreen
    from notify_tui.ui.widgets.filter_input import FilterInput

    ids = seed_long_names()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(DetailsScreen(ids["Spring sale"]))
        await wait_until(pilot, lambda: getattr(app.screen, "loaded", False))
        await pilot.press("slash", *"(415) 555-01")
        box = app.screen.query_one("#search", FilterInput)
        summary = app.screen.query_one("#filter-summary", Static)
        await wait_until(pilot, lambda: "matching" in str(summary.render()))
        await pilot.pause()
        assert summary.region.right + 1 < box.region.x
        shown = "".join(s.text for s in summary.render_line(0))
        assert shown.rstrip().endswith(("…", "”")), shown


async def test_a_screenshot_without_a_downloads_folder_goes_home(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.ui.shown import notifications

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        app.deliver_screenshot()
        await wait_until(pilot, lambda: any(home.glob("*.svg")))
        await wait_until(pilot, lambda: bool(notifications(app)))
        assert not any("Failed" in shown for shown in notifications(app))
        assert not (home / "Downloads").exists()


async def test_details_footer_keys_fit_at_60x20(runtime: Runtime) -> None:
    from notify_tui.ui.screens.details import DetailsScreen

    ids = seed_long_names()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(60, 20)) as pilot:
        await app.push_screen(DetailsScreen(ids["Spring sale"]))
        await wait_until(pilot, lambda: getattr(app.screen, "loaded", False))

        def keys() -> list[FooterKey]:
            return [key for key in app.screen.query(FooterKey) if key.display]

        def whole() -> bool:
            return all(key.region.right <= 60 for key in keys())

        await wait_until(pilot, lambda: bool(keys()) and whole())
        shown = [key.description for key in keys()]
        assert "More" in shown and "Search" in shown, shown


LONG_PERSON = "Maximiliana Featherstonehaugh"
"""A long name (29 cells) that fits the name column's cap, so a wide terminal shows it whole."""


def seed_details_with_long_text() -> int:
    from tests.ui.seed import Person, seed_campaign

    people = [
        Person("+14155550101", LONG_PERSON, 30006),  # Landline or unreachable carrier
        Person("+14155550102", "Ada", 30003),  # Unreachable destination handset
        Person("+14155550103", "Bo"),
    ]
    campaign_id = seed_campaign(LONG_NAME, people)
    return campaign_id


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (100, 30), (200, 50)])
async def test_details_columns_share_the_width_by_priority(
    runtime: Runtime, size: tuple[int, int]
) -> None:
    """Details at 80x24 cut names at 7 cells and reasons at "Unreachable de…" (issue 14: 18):
    the detail, the last update and the opt-out mark give way first, the number, name, status
    and reason always stay, the reason column is as wide as this campaign's longest reason."""
    from notify_tui.ui.screens.details import DetailsScreen
    from notify_tui.ui.widgets.campaign_header import CampaignHeader
    from notify_tui.ui.widgets.recipient_table import RecipientTable

    campaign_id = seed_details_with_long_text()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await app.push_screen(DetailsScreen(campaign_id))
        table = app.screen.query_one(RecipientTable)
        await wait_until(pilot, lambda: getattr(app.screen, "loaded", False))
        await wait_until(pilot, lambda: table.row_count == 3 and not table.reading)
        await pilot.pause()
        shown = table.shown_columns
        lines = lines_of(table)
        assert table.virtual_size.width <= table.scrollable_content_region.width, size
        for key in ("number", "name", "status", "reason"):
            assert key in shown, (size, shown)
        width = size[0]
        if width >= 80:
            assert "opt_out" in shown
        if width >= 100:
            assert "updated" in shown
            assert "Landline or unreachable carrier" in lines[1], lines[1]
        if width >= 120:
            assert "detail" in shown
            assert LONG_PERSON in lines[1]
            # The reason column ends where the longest reason does, not at a share of 200.
            assert shown["reason"] == len("Landline or unreachable carrier")
        if width >= 80:
            # At 80 the name and the reason each keep more than a stub.
            assert "Maximiliana Feat" in lines[1] and "Landline or unre" in lines[1]
        header = app.screen.query_one(CampaignHeader).render().plain.splitlines()
        # The campaign's name comes before the words around the time; a fact is whole or gone.
        assert header[0].startswith("Spring sale for every"), header[0]
        facts = header[1].rstrip()
        assert not facts.endswith("…") and not facts.endswith("·"), facts
