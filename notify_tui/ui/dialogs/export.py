"""Where to write an export: a path to edit, with a default; Enter writes, Escape cancels."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from notify_tui.ui.text import safe_text


def export_problem(path: Path) -> Text | None:
    """Why ``path`` cannot take an export, in words, or ``None``."""
    if path.is_dir():
        return safe_text(str(path)) + Text(" is a folder: add a file name at the end.")
    if not path.parent.is_dir():
        return (
            Text("There is no folder ")
            + safe_text(str(path.parent))
            + Text(": create it first, or choose another.")
        )
    return None


class ExportDialog(ModalScreen[Path | None]):
    """Asks where to write the recipients shown: dismisses with the path, or ``None``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="export.cancel"),
    ]

    HELP_SECTION = "Export"

    def __init__(self, what: Text, default: Path) -> None:
        """``what`` says what is exported (a ``Text``: a campaign's name shows literally)."""
        super().__init__()
        self._what = what
        self._default = default
        self._replace: Path | None = None
        """A file that exists, which a second Enter replaces."""

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog", classes="dialog") as box:
            box.border_title = "Export to CSV"
            yield Static(self._what, id="export-what")
            yield Input(str(self._default), id="export-path", select_on_focus=False)
            yield Static(
                Text("A name alone goes in ") + safe_text(str(self._default.parent)) + Text("."),
                id="export-problem",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export (enter)", variant="primary", id="export-write")
                yield Button("Cancel (esc)", id="export-cancel")

    def on_mount(self) -> None:
        box = self.query_one("#export-path", Input)
        box.focus()
        self.call_after_refresh(self._show_the_name)

    def _show_the_name(self) -> None:
        # The cursor at the end, once the box has its width: on a narrow terminal the file's
        # name shows, not the start of its folder.
        box = self.query_one("#export-path", Input)
        box.cursor_position = 0
        box.action_end()

    @property
    def path(self) -> Path | None:
        """The path typed (relative to the default's folder), or ``None`` when blank."""
        typed = self.query_one("#export-path", Input).value.strip()
        if not typed:
            return None
        path = Path(typed).expanduser()
        return path if path.is_absolute() else self._default.parent / path

    def _say(self, text: Text) -> None:
        problem = self.query_one("#export-problem", Static)
        problem.add_class("-problem")
        problem.update(text)

    @on(Input.Submitted, "#export-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_write()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "export-write":
            self.action_write()
        else:
            self.action_cancel()

    def action_write(self) -> None:
        """Write to the path typed, once it can take the file (a second Enter replaces a file
        that is there)."""
        path = self.path
        if path is None:
            self._say(Text("Type where to write the file."))
            return
        problem = export_problem(path)
        if problem is not None:
            self._say(problem)
            return
        if path.exists() and self._replace != path:
            self._replace = path
            self._say(safe_text(str(path)) + Text(" is there already: Enter again replaces it."))
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        """Close without exporting."""
        self.dismiss(None)
