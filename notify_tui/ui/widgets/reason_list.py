"""A campaign's Failed Message Reasons, most frequent first; choosing one filters the table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from notify_tui.ui.text import safe_text

ACTIVE_MARK = "▶"


class ReasonList(OptionList):
    """Reasons with their counts. The one filtering the table is marked with ▶ (and bold)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "select",
            "Filter by reason",
            show=False,
            id="reasons.select",
            tooltip="Show only the recipients that failed for this reason (again: show all)",
        ),
        Binding("k", "cursor_up", "Up", show=False, id="reasons.cursor_up"),
        Binding("j", "cursor_down", "Down", show=False, id="reasons.cursor_down"),
        Binding("g", "first", "First reason", show=False, id="reasons.first"),
        Binding("G", "last", "Last reason", show=False, id="reasons.last"),
    ]

    HELP_SECTION = "Failure reasons"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._reasons: list[tuple[str, int]] = []
        self._active: str | None = None
        self._shown = False

    def on_mount(self) -> None:
        if not self.option_count:
            self.add_option(Option(Text("Reading…"), disabled=True))

    # Like every other list: the cursor stops at the ends rather than wrapping around.

    def action_cursor_up(self) -> None:
        self._step(-1)

    def action_cursor_down(self) -> None:
        self._step(1)

    def _step(self, direction: int) -> None:
        index = -1 if self.highlighted is None and direction > 0 else self.highlighted
        if index is None:
            return
        index += direction
        while 0 <= index < self.option_count:
            if not self.get_option_at_index(index).disabled:
                self.highlighted = index
                return
            index += direction

    @property
    def reasons(self) -> list[tuple[str, int]]:
        """The reasons shown, with their counts."""
        return list(self._reasons)

    @property
    def highlighted_reason(self) -> str | None:
        """The reason under the cursor."""
        return self.reason_at(self.highlighted)

    def reason_at(self, index: int | None) -> str | None:
        """The reason of the option at ``index``."""
        if index is None or not 0 <= index < len(self._reasons):
            return None
        return self._reasons[index][0]

    def set_reasons(self, reasons: Sequence[tuple[str, int]], active: str | None) -> None:
        """Show these reasons, keeping the cursor on the reason it was on."""
        reasons = list(reasons)
        if self._shown and reasons == self._reasons and active == self._active:
            return
        keep = self.highlighted_reason
        self._reasons = reasons
        self._active = active
        self._shown = True
        self.clear_options()
        if not reasons:
            self.add_option(Option(Text("No failed messages."), disabled=True))
            return
        width = max(len(f"{n:,}") for _, n in reasons)
        self.add_options(
            [Option(self._prompt(reason, n, width, reason == active)) for reason, n in reasons]
        )
        names = [reason for reason, _ in reasons]
        self.highlighted = names.index(keep) if keep in names else 0

    def set_active(self, active: str | None) -> None:
        """Mark the reason that filters the table (once the reasons are shown)."""
        if self._shown:
            self.set_reasons(self._reasons, active)
        else:
            self._active = active

    @staticmethod
    def _prompt(reason: str, n: int, width: int, active: bool) -> Text:
        text = Text(f"{ACTIVE_MARK if active else ' '} {n:>{width},}  ")
        text.append_text(safe_text(reason))
        if active:
            text.stylize("bold", len(text) - len(reason))
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text
