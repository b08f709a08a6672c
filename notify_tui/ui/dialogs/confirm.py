"""A yes-or-no question in a modal dialog."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmDialog(ModalScreen[bool]):
    """Asks a question; dismisses with True for yes (``y``) and False for no (``n``, Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n", "answer(False)", "No", id="confirm.no"),
        Binding("escape", "answer(False)", "Cancel", id="confirm.cancel"),
    ]

    HELP_SECTION = "Question"

    def __init__(self, title: str, question: Text, *, yes: str = "Yes", no: str = "No") -> None:
        """``question`` is a ``Text`` so that any data in it shows literally."""
        super().__init__()
        self._title = title
        self._question = question
        self._yes = yes
        self._no = no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog") as box:
            box.border_title = self._title
            yield Static(self._question, id="confirm-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self._yes} (y)", variant="primary", id="confirm-yes")
                yield Button(f"{self._no} (n)", id="confirm-no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, answer: bool) -> None:
        """Close with ``answer``."""
        self.dismiss(answer)
