"""The footer of every screen: the keys that can act here, every one whole at any width.

Textual's footer cuts the last keys off a narrow terminal (``R Resum`` at 60 columns). This one
drops the padding around the keys when they do not fit, and when they still do not fit it
leaves out the ones a user needs least in the footer (Enter to open, Ctrl+Q to quit: F1
lists every key) and then the rightmost, so that every key shown is whole.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.cells import cell_len
from textual import events
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup

LEFT_OUT_FIRST = ("activate", "app.quit", "quit")
"""Actions whose keys give way first on a narrow terminal (F1 still lists them)."""

KEPT = ("app.help", "help", "show_help")
"""Actions whose keys stay whatever the width."""

GAP = 1
"""Cells between two keys."""


def key_width(key: FooterKey, compact: bool) -> int:
    """The cells a key takes in the footer."""
    padding = 0 if compact else 2
    description = cell_len(key.description)
    return cell_len(key.key_display) + padding + (description + 1 if description else 0)


class NotifyFooter(Footer):
    """A `Footer` whose keys are all whole, whatever the width."""

    DEFAULT_CSS = """
    NotifyFooter.-compact FooterLabel {
        margin-right: 1;  /* a group's label ("d f u a Show") never runs into the next key */
    }
    """

    def __init__(self) -> None:
        super().__init__(show_command_palette=False)
        self._fitted_width = 0

    def compose(self) -> Iterator[Widget]:
        width = self.size.width or self.app.size.width
        widgets = list(super().compose())
        keys = [widget for widget in widgets if isinstance(widget, FooterKey)]

        # A group ("d f u a Show") stays whole: its keys and its label count as they are.
        fixed = 0
        for widget in widgets:
            if isinstance(widget, KeyGroup):
                grouped = [key for key in widget._pending_children if isinstance(key, FooterKey)]
                fixed += sum(cell_len(key.key_display) + 1 for key in grouped)
            elif isinstance(widget, FooterLabel):
                fixed += cell_len(str(widget.content)) + 1 + GAP

        def needed(compact: bool) -> int:
            return fixed + sum(key_width(key, compact) + GAP for key in keys)

        compact = needed(False) > width
        self.set_reactive(Footer.compact, compact)
        self.set_class(compact, "-compact")
        for key in keys:
            key.compact = compact

        order = [key for action in LEFT_OUT_FIRST for key in keys if key.action == action]
        order += [key for key in reversed(keys) if key not in order and key.action not in KEPT]
        for key in order:
            if needed(compact) <= width:
                break
            keys.remove(key)
        self._fitted_width = width
        yield from (
            widget for widget in widgets if not isinstance(widget, FooterKey) or widget in keys
        )

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._fitted_width and self._bindings_ready:
            self.call_after_refresh(self.recompose)
