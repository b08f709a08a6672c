"""Details' table of a campaign's recipients: virtual, so a million rows open at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text

from notify_tui.domain.phone import format_for_humans
from notify_tui.domain.status import UNSENT, Status
from notify_tui.store.optouts import SOURCE_PROVIDER
from notify_tui.store.recipients import (
    RecipientFilter,
    RecipientIndex,
    RecipientRow,
    count_recipients,
    indexed_recipients,
    recipients_at,
)
from notify_tui.ui.formatting import short_when, styled
from notify_tui.ui.widgets.virtual_table import Column, VirtualTable


class RecipientSource:
    """A campaign's recipients as one filter shows them.

    Without an index the count is read once per load and rows by position: quick for the views
    the database answers from its indexes (every recipient, a status, a reason). A search tests
    every recipient, so it is read off the UI thread into a `RecipientIndex`: then the count is
    the index's and rows are read between its keys, and ``pages`` (offset: rows) are the rows
    read along with it, each handed out once.
    """

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
        self._total: int | None = None
        self._ready = dict(pages or {})
        self._loads = 0

    def count(self) -> int:
        if self.index is not None:
            if self._loads:
                self._ready.clear()  # loaded again: the data changed since they were read
            self._loads += 1
            return self.index.total
        self._total = count_recipients(self.campaign_id, self.filter)
        return self._total

    def rows(self, offset: int, limit: int) -> Sequence[RecipientRow]:
        ready = self._ready.pop(offset, None)
        if ready is not None and len(ready) >= limit:
            return ready[:limit]
        if self.index is not None:
            return indexed_recipients(self.index, offset, limit)
        return recipients_at(self.campaign_id, self.filter, offset, limit, total=self._total)


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

    def __init__(
        self,
        campaign_id: int,
        *,
        now: Callable[[], datetime],
        tz: tzinfo | None,
        id: str | None = None,
    ) -> None:
        self._now = now
        self._tz = tz
        self._styles: dict[str, Style] = {}
        columns: list[Column[RecipientRow]] = [
            Column("number", "Number", render=lambda r: format_for_humans(r.phone), width=15),
            Column("name", "Name", render=lambda r: r.name, min_width=8, ratio=2),
            Column("status", "Status", render=self._status, width=9),
            Column(
                "reason",
                "Failed Message Reason",
                render=lambda r: r.reason or "",
                min_width=14,
                ratio=3,
            ),
            Column("detail", "Detail", render=self._detail, min_width=8, ratio=3),
            Column("updated", "Updated", render=self._updated, width=8),
            Column("opt_out", "Opt-out", render=self._opt_out, width=9),
        ]
        super().__init__(
            columns,
            RecipientSource(campaign_id, RecipientFilter()),
            placeholder="No recipients match.",
            id=id,
        )

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

    def show(self, campaign_id: int, flt: RecipientFilter) -> None:
        """Show the recipients ``flt`` selects, from the top (counted here: no search)."""
        self.set_source(RecipientSource(campaign_id, flt))

    def show_found(
        self,
        index: RecipientIndex,
        pages: Mapping[int, Sequence[RecipientRow]],
        *,
        keep_cursor: bool = False,
    ) -> None:
        """Show a view read off the UI thread, with the pages read along with it."""
        source = RecipientSource(index.campaign_id, index.filter, index, pages)
        self.set_source(source, keep_cursor=keep_cursor)

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
        return styled(row.status.label, self._component(row.status.value))

    def _detail(self, row: RecipientRow) -> Text:
        text = detail_text(row)
        muted = not row.detail
        return styled(text, self._component("muted") if muted else Style())

    def _updated(self, row: RecipientRow) -> Text:
        return Text(short_when(row.updated_at, self._now(), self._tz))

    def _opt_out(self, row: RecipientRow) -> Text:
        return styled(opt_out_text(row), self._component("opted-out"))
