"""The panel beside Details' chart: the failure reasons, or the recipients by country, original
carrier or line type (``b`` cycles). Choosing a reason or a group filters the table."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget

from notify_tui.domain.insights import Dimension, Group
from notify_tui.store.insights import CampaignInsights
from notify_tui.ui.widgets.breakdown_table import BreakdownTable
from notify_tui.ui.widgets.reason_list import ReasonList
from notify_tui.ui.widgets.virtual_table import VirtualTable

TITLES: dict[Dimension, tuple[str, ...]] = {
    Dimension.REASON: (
        "Failed Message Reasons (r, ⏎ filters · b: by country)",
        "Reasons (r, ⏎ filters · b: by country)",
        "Failed Message Reasons",
    ),
    Dimension.COUNTRY: (
        "By country (r, ⏎ filters · b: by original carrier)",
        "By country (r, ⏎ filters · b: next)",
        "By country",
    ),
    Dimension.CARRIER: (
        "By original carrier: ported numbers keep theirs (⏎ filters · b: next)",
        "By original carrier (ported numbers keep it)",
        "Original carrier (⏎ filters · b: next)",
        "By original carrier",
    ),
    Dimension.LINE_TYPE: (
        "By line type (r, ⏎ filters · b: back to the reasons)",
        "By line type (⏎ filters · b: reasons)",
        "By line type",
    ),
}
"""The panel's title per dimension, longest first: the longest that fits is shown."""


class PanelTitle(Widget):
    """The panel's title: the longest of its wordings that fits the width."""

    DEFAULT_CSS = """
    PanelTitle {
        height: 1;
        text-style: bold;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._wordings: tuple[str, ...] = TITLES[Dimension.REASON]

    def show(self, wordings: tuple[str, ...]) -> None:
        """Show one of ``wordings`` (longest first)."""
        if wordings != self._wordings:
            self._wordings = wordings
            self.refresh()

    def render(self) -> Text:
        width = self.content_region.width or self.size.width
        fits = [w for w in self._wordings if len(w) <= width]
        text = Text(fits[0] if fits else self._wordings[-1])
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text


class BreakdownPanel(Vertical):
    """Reasons (``ReasonList``) or groups (``BreakdownTable``) of one dimension at a time."""

    class GroupChosen(Message):
        """The user chose a group of a breakdown (Enter): filter the table to it."""

        def __init__(self, dimension: Dimension, group: Group) -> None:
            super().__init__()
            self.dimension = dimension
            self.group = group

    HELP_SECTION: ClassVar[str] = "Breakdown"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._dimension = Dimension.REASON
        self._insights: CampaignInsights | None = None
        self._active: tuple[Dimension, str] | None = None

    def compose(self) -> ComposeResult:
        yield PanelTitle(id="reasons-title")
        yield ReasonList(id="reasons")
        breakdown = BreakdownTable(id="breakdown")
        breakdown.display = False
        yield breakdown

    @property
    def dimension(self) -> Dimension:
        """What the panel shows."""
        return self._dimension

    @property
    def insights(self) -> CampaignInsights | None:
        """The campaign's tallies, as last read."""
        return self._insights

    @property
    def table(self) -> BreakdownTable:
        """The groups of a breakdown."""
        return self.query_one(BreakdownTable)

    @property
    def shown(self) -> Widget:
        """The list shown: the reasons or the groups (what ``r`` moves the focus to)."""
        if self._dimension is Dimension.REASON:
            return self.query_one(ReasonList)
        return self.table

    def cycle(self) -> Dimension:
        """Show the next dimension (reasons, country, original carrier, line type, reasons…);
        the focus follows when it was on the panel."""
        had_focus = self.shown.has_focus
        self._dimension = self._dimension.next()
        reasons = self._dimension is Dimension.REASON
        self.query_one(ReasonList).display = reasons
        self.table.display = not reasons
        self.query_one(PanelTitle).show(TITLES[self._dimension])
        self._show_groups()
        if had_focus:
            self.shown.focus()
        return self._dimension

    def show_insights(self, insights: CampaignInsights) -> None:
        """Show the breakdown of these tallies (read again as statuses move)."""
        self._insights = insights
        self._show_groups()

    def set_active_group(self, active: tuple[Dimension, str] | None) -> None:
        """Mark the group that filters the table, ``(dimension, key)``, or none."""
        self._active = active
        if self._dimension is not Dimension.REASON:
            self.table.set_active(self._active_key())

    def slowest(self) -> list[Group]:
        """The groups of the breakdown shown whose messages took longest to land."""
        from notify_tui.domain.insights import slowest

        if self._dimension is Dimension.REASON or self._insights is None:
            return []
        return slowest(self._insights.breakdown(self._dimension))

    def _active_key(self) -> str | None:
        if self._active is None or self._active[0] is not self._dimension:
            return None
        return self._active[1]

    def _show_groups(self) -> None:
        if self._dimension is Dimension.REASON or self._insights is None:
            return
        groups = self._insights.breakdown(self._dimension)
        self.table.show_groups(self._dimension, groups, self._active_key())

    def on_virtual_table_row_activated(self, event: VirtualTable.RowActivated) -> None:
        event.stop()
        if isinstance(event.row, Group):
            self.post_message(self.GroupChosen(self._dimension, event.row))
