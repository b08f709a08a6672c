"""History: every campaign, newest first, with counters that update while messages resolve."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Footer, Input, Static
from textual.worker import Worker

from notify_tui.store.campaigns import CampaignSummary, count_campaigns
from notify_tui.ui.formatting import count
from notify_tui.ui.messages import PollFailed, StatusesResolved
from notify_tui.ui.polling import poll_forever
from notify_tui.ui.screens.base import NotifyScreen
from notify_tui.ui.widgets.campaign_table import CampaignSource, CampaignTable
from notify_tui.ui.widgets.filter_input import FilterInput
from notify_tui.ui.widgets.virtual_table import VirtualTable, safe_text

FILTER_DELAY = 0.15
"""Seconds of quiet typing before the filter applies."""

HISTORY_IDLE = 5.0
"""At most this long between two poll cycles of every campaign."""


class HistoryScreen(NotifyScreen):
    """The campaigns; Enter opens one, ``/`` filters them by name."""

    TITLE = "History"
    HELP_SECTION = "History"
    AUTO_FOCUS = "#campaigns"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "filter",
            "Filter",
            id="history.filter",
            tooltip="Filter the campaigns by name (Escape clears the filter)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.poll_worker: Worker[None] | None = None
        self._filter_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        app = self.notify_app
        with Horizontal(id="history-bar", classes="bar"):
            yield Static(id="history-title")
            yield FilterInput(placeholder="/ filter by name", id="history-filter")
        yield CampaignTable(now=app.clock, tz=app.tz, id="campaigns")
        yield Footer(show_command_palette=False)

    @property
    def table(self) -> CampaignTable:
        """The campaigns table."""
        return self.query_one(CampaignTable)

    def on_mount(self) -> None:
        self._show_title()

    def on_screen_resume(self) -> None:
        # Counters moved while Details was on top: show them, then carry on resolving.
        self.table.reload(keep_cursor=True)
        self._show_title()
        if self.notify_app.poll:
            self.poll_worker = self._poll()

    def on_screen_suspend(self) -> None:
        # Details (or a dialog) is on top: one poller at a time is enough.
        self.workers.cancel_group(self, "poll")

    @work(
        exclusive=True,
        group="poll",
        exit_on_error=False,
        description="Resolving Unknown messages of every campaign",
    )
    async def _poll(self) -> None:
        await poll_forever(self.notify_app.poller, self.post_message, idle=HISTORY_IDLE)

    def on_statuses_resolved(self, event: StatusesResolved) -> None:
        event.stop()
        self.notify_app.poll_cycle_done(event.cycle)
        if event.changed or self.table.source.saw_sending:
            self.table.reload(keep_cursor=True)
            self._show_title()

    def on_poll_failed(self, event: PollFailed) -> None:
        event.stop()
        self.notify_app.poll_failed(event.error)

    def _show_title(self) -> None:
        query = self.table.source.query.strip()
        shown = self.table.row_count
        title = Text("Campaigns", style="bold")
        if query:
            total = count_campaigns()
            title.append(f" · {count(shown)} of {count(total)} match “")
            title.append_text(safe_text(query))
            title.append("”")
        else:
            title.append(f" · {count(shown)}")
        self.query_one("#history-title", Static).update(title)

    # Filtering

    def action_filter(self) -> None:
        """Put the cursor in the filter box."""
        self.query_one("#history-filter", FilterInput).focus()

    @on(Input.Changed, "#history-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self._apply_filter)

    def _apply_filter(self) -> None:
        query = self.query_one("#history-filter", FilterInput).value
        if query != self.table.source.query:
            self.table.set_source(CampaignSource(query))
            self._show_title()

    @on(FilterInput.Dismissed, "#history-filter")
    def _filter_dismissed(self, event: FilterInput.Dismissed) -> None:
        if event.cleared:
            if self._filter_timer is not None:
                self._filter_timer.stop()
            self._apply_filter()
        self.table.focus()

    # Opening a campaign

    @on(VirtualTable.RowActivated, "#campaigns")
    def _open(self, event: VirtualTable.RowActivated) -> None:
        campaign: Any = event.row
        assert isinstance(campaign, CampaignSummary)
        from notify_tui.ui.screens.details import DetailsScreen

        self.app.push_screen(DetailsScreen(campaign.id))
