"""Details' export asks where (issue 14: 7): a default in the user's downloads folder (else
documents, else home) named after the campaign and the filter; a clear line when it cannot be
written. And ``t`` shows the selected recipient's own text (issue 17)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from notify_tui.services.runtime import Runtime
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.sending import NewRecipient, add_recipients
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.dialogs.export import ExportDialog
from tests.ui.details_support import open_details, table
from tests.ui.seed import fixed_clock, wait_until
from tests.ui.shown import notifications


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder with nothing in it (no Downloads, no Documents), as on a server."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    for name in ("XDG_DOWNLOAD_DIR", "XDG_DOCUMENTS_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    return folder


def dialog(app: NotifyApp) -> ExportDialog:
    screen = app.screen
    assert isinstance(screen, ExportDialog)
    return screen


def path_box(app: NotifyApp) -> Input:
    return dialog(app).query_one("#export-path", Input)


def problem(app: NotifyApp) -> str:
    return str(dialog(app).query_one("#export-problem", Static).render())


async def test_export_asks_where_in_downloads_named_after_campaign_and_filter(
    runtime: Runtime, spring: int, home: Path
) -> None:
    (home / "Downloads").mkdir()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("f", "e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        path = home / "Downloads" / "spring-sale-failed-2025-03-04.csv"
        assert path_box(app).value == str(path)
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(str(path) in n for n in notifications(app)))
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == 5
        assert {r["status"] for r in rows} == {"Failed"}
        assert {r["body"] for r in rows} == {
            "Spring sale: 20% off everything this weekend. Reply STOP to opt out."
        }

        # Again: the default does not overwrite the first export.
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        assert path_box(app).value == str(path.with_name("spring-sale-failed-2025-03-04-2.csv"))
        await pilot.press("escape")
        assert not isinstance(app.screen, ExportDialog)


async def test_without_downloads_or_documents_the_default_is_home_and_problems_are_said(
    runtime: Runtime, spring: int, home: Path
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        assert path_box(app).value == str(home / "spring-sale-2025-03-04.csv")

        path_box(app).value = str(home / "nowhere" / "x.csv")
        await pilot.press("enter")
        assert "There is no folder" in problem(app) and "nowhere" in problem(app)
        assert not (home / "nowhere").exists()  # never created behind the user's back

        (home / "taken.csv").write_text("keep me", encoding="utf-8")
        path_box(app).value = "taken.csv"  # a name alone: in the default's folder
        await pilot.press("enter")
        assert "is there already: Enter again replaces it" in problem(app)
        assert (home / "taken.csv").read_text(encoding="utf-8") == "keep me"
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("taken.csv" in n for n in notifications(app)))
        assert "Ada Lovelace" in (home / "taken.csv").read_text(encoding="utf-8")


async def test_an_export_that_cannot_be_written_says_so_in_one_line(
    runtime: Runtime, spring: int, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: object, **kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("notify_tui.ui.campaign_reads.export_campaign", full_disk)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("Could not write" in n for n in notifications(app)))
        [failure] = [n for n in notifications(app) if "Could not write" in n]
        assert str(home / "spring-sale-2025-03-04.csv") in failure
        assert "No space left on device. Nothing was exported" in failure


async def test_t_shows_each_recipient_s_own_text(runtime: Runtime, home: Path) -> None:
    campaign = create_campaign("Personal", "Hi {first_name}")
    add_recipients(
        campaign,
        [
            NewRecipient("+14155550101", "Ada Lovelace", body="Hi Ada"),
            NewRecipient("+14155550102", "Siobhán Kelly", body="Hi Siobhán"),
            NewRecipient("12", "Typo", invalid_reason="too short"),
        ],
    )
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await open_details(app, pilot, campaign)
        await wait_until(pilot, lambda: table(app).row_count == 3)
        await pilot.press("t")
        await wait_until(pilot, lambda: any("Hi Ada" in n for n in notifications(app)))
        assert any("Text to Ada Lovelace" in n for n in notifications(app))
        await pilot.press("j", "t")
        await wait_until(pilot, lambda: any("Hi Siobhán" in n for n in notifications(app)))
        await pilot.press("j", "t")
        await wait_until(pilot, lambda: any("never sent" in n for n in notifications(app)))


async def test_on_a_narrow_terminal_the_file_name_shows_not_the_folder(
    runtime: Runtime, spring: int, home: Path
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(60, 20)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        box = path_box(app)
        await wait_until(pilot, lambda: box.scroll_x > 0)
        assert box.cursor_position == len(box.value)
        assert box.value.endswith("spring-sale-2025-03-04.csv")
