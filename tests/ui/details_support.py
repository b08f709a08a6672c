"""What the Details tests share: opening the screen and reading what its table shows."""

from __future__ import annotations

from datetime import datetime

from textual.pilot import Pilot

from notify_tui.services.poller import PollCycle
from notify_tui.store.updates import AppliedUpdates
from notify_tui.ui.app import NotifyApp
from notify_tui.ui.screens.details import DetailsScreen
from notify_tui.ui.widgets.recipient_table import RecipientTable
from tests.ui.seed import wait_until


def details(app: NotifyApp) -> DetailsScreen:
    screen = app.screen
    assert isinstance(screen, DetailsScreen)
    return screen


def table(app: NotifyApp) -> RecipientTable:
    return app.screen.query_one(RecipientTable)


def names(app: NotifyApp) -> list[str]:
    t = table(app)
    return [row.name for row in t.source.rows(0, t.row_count)]


async def open_details(app: NotifyApp, pilot: Pilot, campaign_id: int) -> DetailsScreen:
    await app.push_screen(DetailsScreen(campaign_id))
    await pilot.pause()
    screen = details(app)
    await wait_until(pilot, lambda: screen.loaded and not table(app).reading)
    return screen


def ok_cycle() -> PollCycle:
    """A poll cycle that went well (what the poller reports after a change)."""
    return PollCycle(datetime(2025, 1, 1), 3, AppliedUpdates(), 0, 3, None)
