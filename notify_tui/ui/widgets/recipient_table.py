"""Details' table of a campaign's recipients: virtual, so a million rows open at once.

The table owns what it shows: ``show(filter)`` picks the view, ``refresh_after_updates`` reads
it again where the user is, and a search (which tests every recipient) is read in a worker of
its own while the rows shown before stay. Each change of what is shown is one ``ViewChanged``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import work
from textual.message import Message
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from notify_tui.domain.phone import format_for_humans
from notify_tui.domain.status import UNSENT, Status
from notify_tui.store.optouts import SOURCE_PROVIDER
from notify_tui.store.recipients import (
    RecipientFilter,
    RecipientIndex,
    RecipientRow,
    Sort,
    index_recipients,
    indexed_recipients,
    recipients_at,
    segment_counts,
)
from notify_tui.ui.formatting import short_when, styled
from notify_tui.ui.messages import RecipientsFound
from notify_tui.ui.widgets.virtual_table import CHUNK_SIZE, Column, VirtualTable

SEARCH_GROUP = "search"
"""The worker group of searches: one at a time, a newer one cancels the older."""

REASON_MIN = 16
"""The fewest cells of the reason column: ``Landline or unr…`` still says which one."""

REASON_MAX = 40
"""The longest Failed Message Reason (``HTTP 400 error - Unable to create record``)."""

RESEARCH_EVERY = 5.0
"""While statuses move, a search by status is read again at most this often (seconds): each
read tests every recipient of the campaign, and polling moves statuses every few seconds."""


SORT_MARK = "▾"
"""After the label of the column the rows are sorted by."""

SORTED_COLUMN = {
    Sort.FAILURES: "status",
    Sort.REASON: "reason",
    Sort.UPDATED: "updated",
    Sort.NAME: "name",
}
"""The column each order sorts by (send order: none)."""


class RecipientSource:
    """A campaign's recipients as one filter shows them.

    Without an index the count (of each segment of the order) is read once per load and rows by
    position: quick for the views the database answers from its indexes (every recipient, a
    status, a reason, in any order). A search tests
    every recipient, so it is read off the UI thread into a `RecipientIndex`: then the count is
    the index's and rows are read between its keys, and ``pages`` (offset: rows) are the rows
    read along with it, each handed out once.
    """

    blocking = True
    """Read on worker threads only (see ``RowSource``)."""

    def __init__(
        self,
        campaign_id: int,
        flt: RecipientFilter,
        index: RecipientIndex | None = None,
        pages: Mapping[int, Sequence[RecipientRow]] | None = None,
    ) -> None:
        self.campaign_id = campaign_id
        self.filter = flt if index is None else index.filter
        self.index = index
        self._counts: tuple[int, ...] | None = None
        self._ready = dict(pages or {})
        self._loads = 0

    def count(self) -> int:
        if self.index is not None:
            if self._loads:
                self._ready.clear()  # loaded again: the data changed since they were read
            self._loads += 1
            return self.index.total
        self._counts = segment_counts(self.campaign_id, self.filter)
        return sum(self._counts)

    def rows(self, offset: int, limit: int) -> Sequence[RecipientRow]:
        rows = self._read(offset, limit)
        for row in rows:
            # On the worker that reads them: parsing a number is the costliest part of drawing
            # a row, and the table draws a page of new rows per PageDown.
            format_for_humans(row.phone)
        return rows

    def _read(self, offset: int, limit: int) -> Sequence[RecipientRow]:
        ready = self._ready.pop(offset, None)
        if ready is not None and len(ready) >= limit:
            return ready[:limit]
        if self.index is not None:
            return indexed_recipients(self.index, offset, limit)
        return recipients_at(self.campaign_id, self.filter, offset, limit, counts=self._counts)


def detail_text(row: RecipientRow) -> str:
    """The code and its title for a failure; otherwise what is known of the message."""
    if row.detail:
        return row.detail
    if row.note:
        return row.note
    if row.status is Status.UNKNOWN:
        if row.send_state in UNSENT:
            return "not submitted yet"
        if row.provider_status:
            return row.provider_status
    return ""


def opt_out_text(row: RecipientRow) -> str:
    """``STOP`` when the person opted out themselves, ``opted out`` otherwise."""
    if not row.opted_out:
        return ""
    return "STOP" if row.opt_out_source == SOURCE_PROVIDER else "opted out"


class RecipientTable(VirtualTable[RecipientRow]):
    """Number, name, status, Failed Message Reason, detail, last update and opt-out mark."""

    HELP_SECTION = "Recipients table"
    REPAINT_CHANGED_ROWS = True

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *VirtualTable.COMPONENT_CLASSES,
        "recipient-table--delivered",
        "recipient-table--failed",
        "recipient-table--unknown",
        "recipient-table--opted-out",
        "recipient-table--muted",
    }

    DEFAULT_CSS = """
    RecipientTable {
        & > .recipient-table--delivered { color: $text-success; }
        & > .recipient-table--failed { color: $text-error; }
        & > .recipient-table--unknown { color: $text-warning; }
        & > .recipient-table--opted-out { text-style: bold; }
        & > .recipient-table--muted { color: $text-muted; }
    }
    """

    class ViewChanged(Message):
        """What the table shows changed: how many rows, of which filter, or a search began."""

        def __init__(
            self, table: RecipientTable, count: int, filter: RecipientFilter, searching: bool
        ) -> None:
            super().__init__()
            self.table = table
            self.count = count
            """Rows shown."""
            self.filter = filter
            """The filter asked for (while ``searching``, not yet the rows')."""
            self.searching = searching
            """A search is being read; the rows shown are still those of the view before."""

        @property
        def control(self) -> RecipientTable:
            return self.table

    def __init__(
        self,
        campaign_id: int,
        *,
        now: Callable[[], datetime],
        tz: tzinfo | None,
        id: str | None = None,
    ) -> None:
        self.campaign_id = campaign_id
        self._filter = RecipientFilter()
        self._search_worker: Worker[None] | None = None
        self._view = 0
        """Bumped by every change of what the table should show: a search result for an older
        view is dropped."""
        self._searching = False
        self._search_again = False
        """The data moved while a search was read: read it again once it is shown."""
        self._searched_at = 0.0
        """When the last search began (``time.monotonic``)."""
        self._research: Timer | None = None
        """A search read again later, not to read one more often than ``RESEARCH_EVERY``."""
        self._now = now
        self._tz = tz
        self._styles: dict[str, Style] = {}
        self._longest_reason = REASON_MAX
        columns = self._columns_for(REASON_MAX)
        super().__init__(
            columns,
            RecipientSource(campaign_id, RecipientFilter()),
            placeholder="No recipients match.",
            id=id,
        )

    def _columns_for(self, longest_reason: int) -> list[Column[RecipientRow]]:
        """The columns, the reason's no wider than ``longest_reason`` (this campaign's longest).

        They share the width by priority and content: the number and status keep their size, the
        name and the reason grow (the reason to its longest, the name to a long name), and a
        narrower terminal leaves out the detail (the line under the table has it), then the last
        update, then the opt-out mark, before a name or a reason is cut short.
        """
        reason_max = max(longest_reason, REASON_MIN)
        sort = self._filter.sort
        # The column the rows are in the order of says so, as a spreadsheet's does.
        marked = {SORTED_COLUMN[sort]} if sort in SORTED_COLUMN else set()

        def label(key: str, text: str, gap: str = " ") -> str:
            return f"{text}{gap}{SORT_MARK}" if key in marked else text

        return [
            Column("number", "Number", render=lambda r: format_for_humans(r.phone), width=15),
            Column(
                "name",
                label("name", "Name"),
                render=lambda r: r.name,
                min_width=12,
                ratio=2,
                max_width=32,
            ),
            Column("status", label("status", "Status"), render=self._status, width=9),
            Column(
                "reason",
                label("reason", "Failed Message Reason"),
                render=lambda r: r.reason or "",
                min_width=REASON_MIN,
                ratio=3,
                max_width=reason_max,
            ),
            Column(
                "detail",
                "Detail",
                render=self._detail,
                min_width=14,
                ratio=3,
                hide_below=116,
                priority=4,
            ),
            Column(
                "updated",
                label("updated", "Updated", gap=""),  # in the 8 cells of its times
                render=self._updated,
                width=8,
                hide_below=96,
                priority=3,
            ),
            Column("opt_out", "Opt-out", render=self._opt_out, width=9, priority=2),
        ]

    def row_key(self, row: RecipientRow) -> object | None:
        # A status or an update moves a recipient in the sorted orders: the cursor stays on it.
        return row.id

    def fit_reasons(self, reasons: Sequence[str]) -> None:
        """Give the reason column no more room than this campaign's longest reason needs."""
        longest = max((cell_len(reason) for reason in reasons), default=0)
        if longest != self._longest_reason:
            self._longest_reason = longest
            self.set_columns(self._columns_for(longest))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A recipient has nothing to open: Enter is left to the screen.
        if action == "activate":
            return False
        return super().check_action(action, parameters)

    @property
    def source(self) -> RecipientSource:
        """Where the rows come from."""
        assert isinstance(self._source, RecipientSource)
        return self._source

    @property
    def filter(self) -> RecipientFilter:
        """The filter asked for last (a search may still be being read)."""
        return self._filter

    @property
    def searching(self) -> bool:
        """A search is being read and the table still shows the view before it."""
        return self._searching

    def show(self, flt: RecipientFilter) -> None:
        """Show the recipients ``flt`` selects, from the top."""
        resorted = flt.sort is not self._filter.sort
        self._filter = flt
        if resorted:
            self.set_columns(self._columns_for(self._longest_reason))
        if flt.search.strip():
            # A search tests every recipient: it is read in a worker, and the rows shown stay
            # until it is done, so that typing and scrolling never wait for it.
            self._searching = True
            self._find(keep_cursor=False)
        else:
            # Every recipient, a status, a reason: the database counts them from an index.
            self._stop_search()
            self.set_source(RecipientSource(self.campaign_id, flt))  # ViewChanged once read
            return
        self._view_changed()

    def refresh_after_updates(self, statuses_moved: bool = False) -> None:
        """The data changed: show it again without moving what the user looks at."""
        # The rows on screen are read again at once (a search's between the keys of its index);
        # a search's count and order are read again in the worker, when they can have moved.
        self.reload(keep_cursor=True)
        flt = self._filter
        # In send or name order, a search finds the same rows while only statuses move.
        moves = flt.sort not in (Sort.SENT, Sort.NAME)
        by_status = flt.status is not None or flt.reason is not None or moves
        if flt.search.strip() and statuses_moved and by_status:
            running = self._search_worker is not None and self._search_worker.is_running
            if self._searching or running:
                # Once it is shown (a new search from the top), it is read again.
                self._search_again = True
            else:
                self._search_later()

    def on_virtual_table_loaded(self, event: VirtualTable.Loaded) -> None:
        # Not stopped: the screen may listen too.
        self._view_changed()

    def _view_changed(self) -> None:
        self.post_message(self.ViewChanged(self, self.row_count, self._filter, self._searching))

    def _search_later(self) -> None:
        """Read the search again where the user is: now, or ``RESEARCH_EVERY`` after the last
        one began (a read already due covers this one too)."""
        if self._research is not None:
            return
        wait = self._searched_at + RESEARCH_EVERY - time.monotonic()
        if wait <= 0:
            self._find(keep_cursor=True)
        else:
            self._research = self.set_timer(wait, lambda: self._find(keep_cursor=True))

    def _find(self, keep_cursor: bool) -> None:
        self._cancel_research()
        self._searched_at = time.monotonic()
        self._view += 1
        self._search_again = False
        offsets = [0]
        if keep_cursor:
            rows = [*self.rows_in_view, self.cursor_row]
            offsets = sorted({row // CHUNK_SIZE * CHUNK_SIZE for row in rows})
        self._search_worker = self._find_recipients(self._view, self._filter, offsets, keep_cursor)

    def _stop_search(self) -> None:
        self._cancel_research()
        self._view += 1  # whatever a search still running finds is out of date
        self._searching = self._search_again = False
        self.workers.cancel_group(self, SEARCH_GROUP)

    def _cancel_research(self) -> None:
        if self._research is not None:
            self._research.stop()
            self._research = None

    @work(
        thread=True,
        exclusive=True,
        group=SEARCH_GROUP,
        exit_on_error=False,
        description="Searching the recipients",
    )
    def _find_recipients(
        self, view: int, flt: RecipientFilter, offsets: Sequence[int], keep_cursor: bool
    ) -> None:
        worker = get_current_worker()
        index = index_recipients(self.campaign_id, flt, cancelled=lambda: worker.is_cancelled)
        if index is None:
            return
        pages = {}
        for offset in offsets:
            if offset < index.total and not worker.is_cancelled:
                pages[offset] = indexed_recipients(index, offset, CHUNK_SIZE)
        if not worker.is_cancelled:
            self.post_message(RecipientsFound(view, index, pages, keep_cursor))

    def on_recipients_found(self, event: RecipientsFound) -> None:
        event.stop()
        if event.view != self._view:
            return  # the user asked for something else meanwhile
        self._searching = False
        source = RecipientSource(
            event.index.campaign_id, event.index.filter, event.index, event.pages
        )
        self.set_source(source, keep_cursor=event.keep_cursor)
        if self._search_again:
            self._search_later()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # VirtualTable's handler runs too (Textual calls each class's): it tells the screen.
        if event.state is WorkerState.ERROR and event.worker is self._search_worker:
            # The table keeps what it showed, and says what that is.
            self._searching = self._search_again = False
            self._filter = self.source.filter
            self._view_changed()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _component(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self.get_component_rich_style(f"recipient-table--{name}", partial=True)
            self._styles[name] = style
        return style

    def _status(self, row: RecipientRow) -> Text:
        if row.held:
            # Its own state: quiet hours where the recipient is (the detail says till when).
            return styled("Held", self._component(row.status.value))
        return styled(row.status.label, self._component(row.status.value))

    def _detail(self, row: RecipientRow) -> Text:
        text = detail_text(row)
        muted = not row.detail
        return styled(text, self._component("muted") if muted else Style())

    def _updated(self, row: RecipientRow) -> Text:
        return Text(short_when(row.updated_at, self._now(), self._tz))

    def _opt_out(self, row: RecipientRow) -> Text:
        return styled(opt_out_text(row), self._component("opted-out"))
