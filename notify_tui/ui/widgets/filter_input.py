"""A one-line text box for filtering a table as you type, once the typing settles."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input

SETTLE_DELAY = 0.2
"""Seconds of quiet typing before the text counts (``FilterInput.Settled``)."""


class FilterInput(Input):
    """An ``Input`` that hands focus back to its table: Escape clears it, Enter or Down keep it.

    It says what to filter by once the typing settles: ``Settled`` after ``delay`` seconds of
    quiet, or at once when the user leaves the box.
    """

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

    class Settled(Message):
        """The text to filter by: the typing paused, or the user left the box."""

        def __init__(self, filter_input: FilterInput, value: str) -> None:
            super().__init__()
            self.filter_input = filter_input
            self.value = value

        @property
        def control(self) -> FilterInput:
            return self.filter_input

    def __init__(
        self, *, placeholder: str, delay: float = SETTLE_DELAY, id: str | None = None
    ) -> None:
        super().__init__(placeholder=placeholder, id=id, compact=True, select_on_focus=False)
        self.delay = delay
        self._timer: Timer | None = None

    def on_input_changed(self, event: Input.Changed) -> None:
        # Not stopped: the screen may still show what is typed as it is typed.
        self._stop_timer()
        self._timer = self.set_timer(self.delay, self.settle)

    def settle(self) -> None:
        """Say what the text is now, without waiting for the typing to pause."""
        self._stop_timer()
        self.post_message(self.Settled(self, self.value))

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def action_dismiss(self, clear: bool) -> None:
        """Leave the box, emptying it first when asked."""
        if clear:
            self.value = ""
        self.settle()
        self.post_message(self.Dismissed(self, clear))
