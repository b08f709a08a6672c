"""Opt-outs: every opted-out number, when, why, by whom and from where; undo where allowed."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Static
from textual.worker import get_current_worker

from notify_tui.store.optouts import (
    SOURCE_LABELS,
    SOURCE_MANUAL,
    SOURCE_POLICY,
    SOURCE_PROVIDER,
    OptOutRecord,
    list_optouts,
    optout_counts,
)
from notify_tui.ui.formatting import count, when
from notify_tui.ui.messages import OptOutsLoaded
from notify_tui.ui.screens.opt_out_actions import OptOutActionsScreen, number_and_name
from notify_tui.ui.text import safe_text
from notify_tui.ui.widgets.filter_input import FilterInput
from notify_tui.ui.widgets.footer import NotifyFooter
from notify_tui.ui.widgets.optout_table import OptOutPages, OptOutTable
from notify_tui.ui.widgets.virtual_table import CHUNK_SIZE, VirtualTable

_SOURCE = Binding.Group("Source")

SOURCE_NAMES = {
    SOURCE_MANUAL: "manual",
    SOURCE_POLICY: "policy",
    SOURCE_PROVIDER: "STOP",
}
"""How the title names each source filter."""


class OptOutsScreen(OptOutActionsScreen):
    """The opted-out numbers, newest first; ``o`` opts the selected one back in (not a STOP)."""

    TITLE = "Opt-outs"
    HELP_SECTION = "Opt-outs"
    FOOTER_PRIORITY: ClassVar[tuple[str, ...]] = ("opt_in", "back", "search")
    AUTO_FOCUS = "#optouts"
    OPT_OUT_FROM = "Opt-outs"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="optouts.back", tooltip="Back to History"),
        Binding(
            "m",
            f"show_source('{SOURCE_MANUAL}')",
            "Manual",
            id="optouts.show_manual",
            tooltip="Show only numbers someone opted out by hand",
            group=_SOURCE,
        ),
        Binding(
            "p",
            f"show_source('{SOURCE_POLICY}')",
            "Policy",
            id="optouts.show_policy",
            tooltip="Show only numbers the opt-out policy opted out (or suggested, accepted)",
            group=_SOURCE,
        ),
        Binding(
            "s",
            f"show_source('{SOURCE_PROVIDER}')",
            "STOP",
            id="optouts.show_provider",
            tooltip="Show only numbers whose person replied STOP (the provider told us)",
            group=_SOURCE,
        ),
        Binding(
            "a",
            "show_source('')",
            "All",
            id="optouts.show_all",
            tooltip="Show opted-out numbers from every source",
            group=_SOURCE,
        ),
        Binding(
            "slash",
            "search",
            "Search",
            id="optouts.search",
            tooltip="Find opted-out numbers by number or name as you type",
        ),
        Binding(
            "o",
            "opt_in",
            "Opt back in",
            id="optouts.opt_in",
            tooltip="Undo the selected opt-out (not possible when the person replied STOP)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.source_filter = ""
        """The source shown (``manual``, ``policy``, ``provider``), or every source."""
        self.search = ""
        self.counts: dict[str, int] = {}
        """How many opted-out numbers match the search, by source."""
        self.total = 0
        """How many numbers are opted out in all: the TOTAL of every "N of TOTAL"."""
        self.loaded = False
        """True once the list was read."""

    def compose(self) -> ComposeResult:
        app = self.notify_app
        with Horizontal(id="optouts-bar", classes="bar"):
            yield Static(Text("Opt-outs", style="bold"), id="optouts-title")
            yield FilterInput(placeholder="/ search number or name", id="optouts-search")
        yield OptOutTable(now=app.clock, tz=app.tz, id="optouts")
        yield Static(id="optout-detail")
        yield NotifyFooter()

    @property
    def table(self) -> OptOutTable:
        """The opted-out numbers shown."""
        return self.query_one(OptOutTable)

    def on_mount(self) -> None:
        self._load(self.search, self.source_filter, keep_cursor=False)

    # Reading and showing

    @work(
        thread=True,
        exclusive=True,
        group="load",
        exit_on_error=False,
        description="Reading the opted-out numbers",
    )
    def _load(
        self,
        search: str,
        source: str,
        *,
        keep_cursor: bool,
        counts: dict[str, int] | None = None,
        total: int | None = None,
    ) -> None:
        """Count what matches (unless ``counts`` are the search's already: they are by source)
        and every opt-out (unless ``total`` is known), and read the first rows; the table reads
        the rest as it scrolls (``OptOutPages``)."""
        if counts is None:
            counts = optout_counts(search)
        if total is None:
            total = sum((optout_counts() if search.strip() else counts).values())
        if get_current_worker().is_cancelled:
            return
        first = list_optouts(search, 0, CHUNK_SIZE, source=source)
        if not get_current_worker().is_cancelled:
            self.post_message(OptOutsLoaded(search, source, counts, first, keep_cursor, total))

    def on_opt_outs_loaded(self, event: OptOutsLoaded) -> None:
        event.stop()
        if (event.search, event.source) != (self.search, self.source_filter):
            return  # the search or the source changed meanwhile: its own read follows
        self.loaded = True
        self.counts = event.counts
        self.total = event.total
        shown = event.counts.get(event.source, 0) if event.source else sum(event.counts.values())
        pages = OptOutPages(event.search, event.source, shown, event.first)
        table = self.table
        table.set_source(pages, keep_cursor=event.keep_cursor)

    @on(VirtualTable.Loaded, "#optouts")
    def _loaded(self, event: VirtualTable.Loaded) -> None:
        self._show_title()
        self._show_detail(self.table.current_row)

    def _show_title(self) -> None:
        title = Text("Opt-outs", style="bold")
        shown = self.table.row_count
        if not self.loaded:
            title.append(" · reading…")
        elif self.source_filter or self.search.strip():
            # Of every opt-out, whatever the search: the same TOTAL as Contacts' "N of TOTAL".
            title.append(f" · {count(shown)} of {count(self.total)}")
        else:
            title.append(f" · {count(shown)}")
        title.append(f" · {SOURCE_NAMES.get(self.source_filter, 'every source')}")
        if self.search.strip():
            title.append(" · matching “")
            title.append_text(safe_text(self.search.strip()))
            title.append("”")
        self.query_one("#optouts-title", Static).update(title)

    @on(VirtualTable.CursorMoved, "#optouts")
    def _cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        row = event.row
        self._show_detail(row if isinstance(row, OptOutRecord) else None)

    def _show_detail(self, record: OptOutRecord | None) -> None:
        line = Text()
        if record is not None:
            parts = [
                number_and_name(record.phone, record.name),
                Text(SOURCE_LABELS.get(record.source, record.source), style="bold"),
                Text(when(record.opted_out_at, self.notify_app.clock(), self.notify_app.tz)),
            ]
            if record.actor:
                parts.append(Text("by ") + safe_text(record.actor))
            if record.reason:
                parts.append(safe_text(record.reason))
            line = Text(" · ").join(parts)
            line.no_wrap = True
            line.overflow = "ellipsis"
        self.query_one("#optout-detail", Static).update(line)

    # Filters

    def action_show_source(self, source: str) -> None:
        """Show one source's opt-outs, or every source's (``''``)."""
        if source != self.source_filter:
            self.source_filter = source
            # Counted by source already: only the first rows of this one are read.
            known = self.counts if self.loaded else None
            total = self.total if self.loaded else None
            self._load(self.search, source, keep_cursor=False, counts=known, total=total)

    def action_search(self) -> None:
        """Put the cursor in the search box."""
        self.query_one("#optouts-search", FilterInput).focus()

    @on(FilterInput.Settled, "#optouts-search")
    def _search_settled(self, event: FilterInput.Settled) -> None:
        if event.value != self.search:
            self.search = event.value
            self.loaded = False
            self._show_title()
            self._load(event.value, self.source_filter, keep_cursor=False)

    @on(FilterInput.Dismissed, "#optouts-search")
    def _search_dismissed(self, event: FilterInput.Dismissed) -> None:
        self.table.focus()

    # Undo

    def action_opt_in(self) -> None:
        """Opt the selected number back in (asks first; refused after a STOP)."""
        record = self.table.current_row
        if record is None:
            return
        self.toggle_opt_out(record.phone, record.name, True, record.source)

    def opt_outs_changed(self, phone: str) -> None:
        self._load(self.search, self.source_filter, keep_cursor=True)

    def action_back(self) -> None:
        """Back to History."""
        self.app.pop_screen()
