"""The opt-out suggestions of a campaign, each with a selection mark, for the review dialog."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from notify_tui.domain.phone import format_for_humans
from notify_tui.store.suggestions import Suggestion
from notify_tui.ui.formatting import styled
from notify_tui.ui.text import safe_text
from notify_tui.ui.widgets.virtual_table import Column, ListSource, VirtualTable

SELECTED = "[x]"
NOT_SELECTED = "[ ]"


def failures(suggestion: Suggestion) -> list[tuple[int | None, int | None]]:
    """The (campaign id, code) of each failure the policy judged, oldest first."""
    found: list[tuple[int | None, int | None]] = []
    items = suggestion.evidence.get("failures")
    if not isinstance(items, list):
        return found
    for item in items:
        if isinstance(item, Mapping):
            campaign, code = item.get("campaign"), item.get("code")
            found.append(
                (
                    campaign if isinstance(campaign, int) else None,
                    code if isinstance(code, int) else None,
                )
            )
    return found


def evidence_cell(suggestion: Suggestion) -> str:
    """``#3 30003, #5 30005``: the campaign and code of each failure."""
    parts = [
        f"#{campaign if campaign is not None else '?'} {code if code is not None else '—'}"
        for campaign, code in failures(suggestion)
    ]
    return ", ".join(parts)


def evidence_text(suggestion: Suggestion, names: Mapping[int, str]) -> Text:
    """``failed in “Spring sale” (30003), “Winter” (30005)``, names taken literally."""
    items = failures(suggestion)
    if not items:
        return Text("")
    text = Text("failed in ")
    for index, (campaign, code) in enumerate(items):
        if index:
            text.append(", ")
        name = names.get(campaign) if campaign is not None else None
        if name is not None:
            text.append("“")
            text.append_text(safe_text(name))
            text.append("”")
        else:
            text.append(f"campaign {campaign if campaign is not None else '?'}")
        if code is not None:
            text.append(f" ({code})")
    return text


class SuggestionTable(VirtualTable[Suggestion]):
    """Mark, number, name, reason, evidence and whether an automatic opt-out was held."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "activate",
            "Select",
            show=False,
            id="suggestions.select",
            tooltip="Select or unselect the highlighted suggestion",
        ),
    ]

    HELP_SECTION = "Suggestions table"

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *VirtualTable.COMPONENT_CLASSES,
        "suggestion-table--selected",
    }

    DEFAULT_CSS = """
    SuggestionTable {
        & > .suggestion-table--selected { text-style: bold; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        self.selected: set[int] = set()
        """The ids of the selected suggestions."""
        columns: list[Column[Suggestion]] = [
            Column("selected", "Sel", render=self._mark, width=3),
            Column("number", "Number", render=lambda s: format_for_humans(s.phone), width=15),
            Column("name", "Name", render=lambda s: s.name, min_width=8, ratio=2),
            Column("reason", "Reason", render=lambda s: s.reason, min_width=12, ratio=4),
            Column("evidence", "Evidence", render=evidence_cell, min_width=10, ratio=2),
            Column("held", "Held", render=lambda s: "held" if s.held else "", width=4),
        ]
        super().__init__(columns, ListSource(), placeholder="No suggestions left.", id=id)

    @property
    def source(self) -> ListSource[Suggestion]:
        """The suggestions shown."""
        assert isinstance(self._source, ListSource)
        return self._source

    @property
    def suggestions(self) -> list[Suggestion]:
        """Every suggestion shown."""
        return list(self.source.items)

    def show(self, suggestions: Iterable[Suggestion]) -> None:
        """Show these suggestions; the selection keeps the ones still there."""
        items = list(suggestions)
        self.selected &= {s.id for s in items}
        self.source.items = items
        self.reload(keep_cursor=True)

    def toggle(self) -> None:
        """Select or unselect the suggestion under the cursor, and move down."""
        row = self.current_row
        if row is None:
            return
        self.selected ^= {row.id}
        self.refresh_row_indexes([self.cursor_row])
        self.action_cursor_down()

    def _mark(self, suggestion: Suggestion) -> Text:
        if suggestion.id in self.selected:
            style = self.get_component_rich_style("suggestion-table--selected", partial=True)
            return styled(SELECTED, style)
        return Text(NOT_SELECTED)
