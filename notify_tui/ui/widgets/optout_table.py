"""The Opt-outs screen's table: every opted-out number with when, why, by whom and from where."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.text import Text

from notify_tui.domain.phone import format_for_humans
from notify_tui.store.optouts import OptOutRecord, list_optouts
from notify_tui.ui.formatting import styled, when
from notify_tui.ui.widgets.contact_table import source_label
from notify_tui.ui.widgets.virtual_table import Column, VirtualTable


class OptOutPages:
    """The opted-out numbers of one search and source, read from the store a page at a time.

    The count and the first rows are read off the UI thread (by the screen). Scrolling on reads
    each next page after the last row of the one before, along the opt-outs' index; only a jump
    (End, say) to a page not reached that way counts its offset from the start.
    """

    blocking = True
    """Read on worker threads only (see ``RowSource``)."""

    def __init__(
        self,
        search: str = "",
        source: str = "",
        total: int = 0,
        first: Sequence[OptOutRecord] = (),
    ) -> None:
        self.search = search
        self.source = source
        self.total = total
        self.first = list(first)
        self._before: dict[int, OptOutRecord] = {}
        """The row just before each offset a page was read up to: where the next one starts."""
        if self.first:
            self._before[len(self.first)] = self.first[-1]

    def count(self) -> int:
        return self.total

    def rows(self, offset: int, limit: int) -> Sequence[OptOutRecord]:
        if offset + limit <= len(self.first):
            return self.first[offset : offset + limit]
        after = self._before.get(offset)
        if after is not None:
            rows = list_optouts(self.search, 0, limit, source=self.source, after=after)
        else:
            rows = list_optouts(self.search, offset, limit, source=self.source)
        if rows:
            self._before[offset + len(rows)] = rows[-1]
        return rows


class OptOutTable(VirtualTable[OptOutRecord]):
    """Number, name, source (manual, policy, STOP), when, who and why."""

    HELP_SECTION = "Opt-outs table"

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *VirtualTable.COMPONENT_CLASSES,
        "optout-table--stop",
    }

    DEFAULT_CSS = """
    OptOutTable {
        & > .optout-table--stop { text-style: bold; }
    }
    """

    def __init__(
        self, *, now: Callable[[], datetime], tz: tzinfo | None, id: str | None = None
    ) -> None:
        self._now = now
        self._tz = tz
        columns: list[Column[OptOutRecord]] = [
            Column("number", "Number", render=lambda r: format_for_humans(r.phone), width=15),
            # By priority and content: on a narrow terminal who did it, then when, give way
            # (the line under the table has both) before the name or the reason is cut short.
            Column("name", "Name", render=lambda r: r.name, min_width=12, ratio=2, max_width=40),
            Column("source", "Source", render=self._source_cell, width=6),
            Column("when", "When", render=self._when, width=12, priority=2),
            Column("who", "Who", render=lambda r: r.actor, min_width=8, max_width=16, priority=3),
            Column("why", "Why", render=lambda r: r.reason, min_width=20, ratio=3),
        ]
        super().__init__(columns, OptOutPages(), placeholder="No opted-out numbers match.", id=id)

    @property
    def source(self) -> OptOutPages:
        """The rows shown."""
        assert isinstance(self._source, OptOutPages)
        return self._source

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # An opt-out has nothing to open: Enter is left to the screen.
        if action == "activate":
            return False
        return super().check_action(action, parameters)

    def _source_cell(self, record: OptOutRecord) -> Text:
        label = source_label(record.source)
        if label == "STOP":
            return styled(label, self.get_component_rich_style("optout-table--stop", partial=True))
        return Text(label)

    def _when(self, record: OptOutRecord) -> str:
        return when(record.opted_out_at, self._now(), self._tz)
