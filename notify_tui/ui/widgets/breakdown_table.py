"""A campaign's recipients by country, original carrier or line type: one row per group with
how its messages ended; Enter on a group filters Details' table to it."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType

from notify_tui.domain.insights import Dimension, Group
from notify_tui.ui.formatting import compact, money, percent, styled
from notify_tui.ui.text import safe_text
from notify_tui.ui.widgets.delivery_time import short_duration
from notify_tui.ui.widgets.reason_list import ACTIVE_MARK
from notify_tui.ui.widgets.virtual_table import Column, ListSource, VirtualTable

GROUP_HEADINGS: dict[Dimension, str] = {
    Dimension.COUNTRY: "Country",
    Dimension.CARRIER: "Carrier",
    Dimension.LINE_TYPE: "Line type",
}
"""The first column's heading per dimension (a carrier is the number's original one: a ported
number keeps it)."""


def cost_cell(millionths: int) -> str:
    """A group's cost in at most seven cells: ``$0.0474``, ``$38.37``, ``$12.3k``, ``$123k``."""
    amount = Decimal(abs(millionths)) / 1_000_000
    if amount >= 100_000:
        return f"${amount / 1000:.0f}k"
    if amount >= 1000:
        return f"${amount / 1000:.1f}k"
    return money(amount)


class BreakdownTable(VirtualTable[Group]):
    """Groups of one dimension, largest first: recipients, delivered and failed shares, still
    Unknown, cost and the most frequent failure reason. The group filtering the table is marked
    with ``▶``."""

    HELP_SECTION = "Breakdown"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "activate",
            "Filter by group",
            show=False,
            id="breakdown.select",
            tooltip="Show only the recipients of this group (again: show all)",
        ),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *VirtualTable.COMPONENT_CLASSES,
        "breakdown-table--active",
        "breakdown-table--failed",
        "breakdown-table--muted",
    }

    DEFAULT_CSS = """
    BreakdownTable {
        & > .breakdown-table--active { text-style: bold; }
        & > .breakdown-table--failed { color: $text-error; }
        & > .breakdown-table--muted { color: $text-muted; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        self._dimension = Dimension.COUNTRY
        self._active: str | None = None
        self._styles: dict[str, Style] = {}
        super().__init__(self._columns_for(Dimension.COUNTRY), ListSource(), id=id)

    def _columns_for(self, dimension: Dimension) -> list[Column[Group]]:
        # The panel is half of Details' width: at 80 columns the group, its size and its
        # outcomes; the cost, the top reason and the p90 delivery time join as it widens. At
        # 60 columns the delivered share, then the size, make room for the failed share.
        return [
            Column(
                "group",
                GROUP_HEADINGS.get(dimension, dimension.label),
                render=self._group,
                min_width=10,
                max_width=30,
                ratio=1,
            ),
            Column("recipients", "Rcpt", render=lambda g: compact(g.recipients), width=5,
                   justify="right", priority=1),
            Column("delivered", "Deliv", render=lambda g: percent(g.delivered, g.recipients),
                   width=6, justify="right", priority=2),
            Column("failed", "Fail", render=self._failed, width=6, justify="right"),
            Column("unknown", "Unkn", render=lambda g: compact(g.unknown), width=5,
                   justify="right", hide_below=37),
            Column("cost", "Cost", render=lambda g: cost_cell(g.cost), width=7,
                   justify="right", hide_below=45),
            Column("reason", "Top failure reason", render=self._reason, min_width=12,
                   ratio=3, hide_below=58),
            Column("p90", "p90", render=self._p90, width=6, justify="right", hide_below=72),
        ]  # fmt: skip

    @property
    def dimension(self) -> Dimension:
        """What the groups shown are of."""
        return self._dimension

    @property
    def groups(self) -> list[Group]:
        """The groups shown, largest first."""
        source = self._source
        return list(source.items) if isinstance(source, ListSource) else []

    def show_groups(
        self, dimension: Dimension, groups: Sequence[Group], active: str | None
    ) -> None:
        """Show ``groups`` of ``dimension``; ``active`` is the key of the group filtering the
        table. The cursor stays on its row when the same dimension is shown again."""
        same = dimension is self._dimension
        if not same:
            self._dimension = dimension
            self.set_columns(self._columns_for(dimension))
        self._active = active
        self.set_source(ListSource(groups), keep_cursor=same)

    def set_active(self, active: str | None) -> None:
        """Mark the group that filters the table."""
        if active != self._active:
            self._active = active
            self.set_source(self._source, keep_cursor=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _component(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self.get_component_rich_style(f"breakdown-table--{name}", partial=True)
            self._styles[name] = style
        return style

    def _group(self, group: Group) -> Text:
        active = group.key == self._active
        text = Text(f"{ACTIVE_MARK} " if active else "  ")
        text.append_text(safe_text(group.label))
        if active:
            text.stylize(self._component("active"))
        return text

    def _failed(self, group: Group) -> Text:
        shown = percent(group.failed, group.recipients)
        return styled(shown, self._component("failed" if group.failed else "muted"))

    def _p90(self, group: Group) -> Text:
        p90 = group.delivery.p90
        if p90 is None:
            return styled("—", self._component("muted"))
        return Text(short_duration(p90))

    def _reason(self, group: Group) -> Text:
        if not group.top_reason:
            return styled("—", self._component("muted"))
        return safe_text(group.top_reason)
