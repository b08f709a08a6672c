"""Data is shown literally: markup, actions and terminal escapes in it do nothing."""

from __future__ import annotations

import html
import re

import pytest

from notify_tui.services.runtime import Runtime
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.screens.details import DetailsScreen
from notify_tui.ui.widgets.campaign_header import CampaignHeader
from notify_tui.ui.widgets.campaign_table import CampaignTable
from notify_tui.ui.widgets.recipient_table import RecipientTable
from tests.ui.seed import (
    HOSTILE_NAMES,
    Person,
    fixed_clock,
    seed_campaign,
    wait_for_campaigns,
    wait_until,
)
from tests.ui.shown import notifications

SHOWN = {
    "[@click=app.quit]x": "[@click=app.quit]x",
    "Bob [/] Smith": "Bob [/] Smith",
    "[bold]x": "[bold]x",
    "\x1b[31mred\x1b[0m\x1b]0;pwned\x07": "␛[31mred␛[0m␛]0;pwned␇",
}
"""Each hostile name and what the screen must show: the text, with escapes made visible."""

CAMPAIGN_NAME = "[@click=app.quit]Sale [/] \x1b[2J"
BODY = "[bold]Hi[/bold] [@click=app.quit]click\x1b[31m"


@pytest.fixture
def hostile() -> int:
    people = [Person(f"+1415555{i:04d}", name, 30003) for i, name in enumerate(HOSTILE_NAMES)]
    return seed_campaign(CAMPAIGN_NAME, people, body=BODY)


def app_for(runtime: Runtime) -> NotifyApp:
    return make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)


async def test_history_shows_the_campaign_name_literally(runtime: Runtime, hostile: int) -> None:
    app = app_for(runtime)
    async with app.run_test(size=(120, 24)) as pilot:
        await wait_for_campaigns(pilot)
        line = app.screen.query_one(CampaignTable).render_line(1).text
        assert "[@click=app.quit]Sale [/] ␛[2J" in line
        await pilot.click(CampaignTable, offset=(5, 1))
        await pilot.pause()
        assert app.is_running
        await pilot.press("slash", *"[bold")  # a filter that looks like markup
        await pilot.pause(0.3)
        assert "“[bold”" in str(app.screen.query_one("#history-title").render())


async def test_details_shows_every_name_literally_and_clicks_do_nothing(
    runtime: Runtime, hostile: int
) -> None:
    app = app_for(runtime)
    async with app.run_test(size=(160, 40)) as pilot:
        await app.push_screen(DetailsScreen(hostile))
        await pilot.pause()
        header = app.screen.query_one(CampaignHeader).render().plain
        assert "[@click=app.quit]Sale [/] ␛[2J" in header
        assert "[bold]Hi[/bold] [@click=app.quit]click␛[31m" in header
        table = app.screen.query_one(RecipientTable)
        lines = [table.render_line(y).text for y in range(1, 5)]
        for expected in SHOWN.values():
            assert any(expected in line for line in lines), expected
        assert not any("\x1b" in line or "\x07" in line for line in lines)
        for row in range(4):
            await pilot.click(RecipientTable, offset=(20, 1 + row))
            await pilot.pause()
            detail = str(app.screen.query_one("#row-detail").render())
            assert list(SHOWN.values())[row] in detail
        assert app.is_running


async def test_dialogs_and_notifications_keep_names_literal(runtime: Runtime, hostile: int) -> None:
    app = app_for(runtime)
    async with app.run_test(notifications=True, size=(120, 30)) as pilot:
        await app.push_screen(DetailsScreen(hostile))
        await pilot.pause()
        await pilot.press("o")  # the first row: "[@click=app.quit]x"
        table = app.screen.query_one(RecipientTable)
        await wait_until(pilot, lambda: table.current_row.opted_out)  # type: ignore[union-attr]
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        question = str(app.screen.query_one("#confirm-question").render())
        assert "[@click=app.quit]x" in question
        await pilot.click("#confirm-question")
        await pilot.pause()
        assert app.is_running
        await pilot.press("y")
        await pilot.pause()
        await wait_until(
            pilot, lambda: any(n.startswith("Opt-in: Opted +1 415") for n in notifications(app))
        )
        assert app.is_running


async def test_the_followup_dialog_keeps_the_name_and_message_literal(
    runtime: Runtime, hostile: int
) -> None:
    from textual.widgets import TextArea

    from notify_tui.ui.dialogs.followup import FollowupDialog

    app = app_for(runtime)
    async with app.run_test(size=(120, 30)) as pilot:
        await app.push_screen(DetailsScreen(hostile))
        await wait_until(pilot, lambda: getattr(app.screen, "loaded", False))
        await pilot.press("F")  # every recipient failed with 30003: each may get it again
        await wait_until(pilot, lambda: isinstance(app.screen, FollowupDialog))
        await pilot.pause()
        svg = app.export_screenshot()  # what the terminal shows, the border's title included
        shown = html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")
        assert "Follow up “[@click=app.quit]Sale [/] ␛[2J”" in shown
        assert app.screen.query_one(TextArea).text == BODY  # edited as it is, never parsed
        await pilot.click("#followup-dialog", offset=(4, 0))  # on the title
        await pilot.pause()
        assert app.is_running
