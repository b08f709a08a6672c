"""A one-line text box for filtering a table as you type."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input


class FilterInput(Input):
    """An ``Input`` that hands focus back to its table: Escape clears it, Enter or Down keep it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "dismiss(True)",
            "Clear",
            id="filter.clear",
            tooltip="Clear the text and go back to the table",
        ),
        Binding(
            "down",
            "dismiss(False)",
            "To the table",
            id="filter.leave",
            tooltip="Keep the text and go back to the table",
        ),
        Binding("enter", "dismiss(False)", "Done", show=False, id="filter.leave"),
    ]

    HELP_SECTION = "Text box"

    class Dismissed(Message):
        """The user left the box (``cleared``: and emptied it)."""

        def __init__(self, filter_input: FilterInput, cleared: bool) -> None:
            super().__init__()
            self.filter_input = filter_input
            self.cleared = cleared

        @property
        def control(self) -> FilterInput:
            return self.filter_input

    def __init__(self, *, placeholder: str, id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, id=id, compact=True, select_on_focus=False)

    def action_dismiss(self, clear: bool) -> None:
        """Leave the box, emptying it first when asked."""
        if clear:
            self.value = ""
        self.post_message(self.Dismissed(self, clear))
