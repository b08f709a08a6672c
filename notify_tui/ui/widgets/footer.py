"""The footer of every screen: the keys that can act here, every one whole at any width.

Textual's footer cuts the last keys off a narrow terminal (``R Resum`` at 60 columns). This one
drops the padding around the keys when they do not fit, and when they still do not fit it
leaves out the ones a user needs least in the footer: first Enter to open and Ctrl+Q to quit,
then the keys the screen does not name in its ``FOOTER_PRIORITY`` (the rightmost first), then
those it names, the least important first. F1 stays whatever the width, and says ``More`` when
a key was left out (F1 lists every key).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rich.cells import cell_len
from textual import events
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel

LEFT_OUT_FIRST = ("activate", "app.quit", "quit")
"""Actions whose keys give way first on a narrow terminal (F1 still lists them)."""

KEPT = ("app.help", "help", "show_help")
"""Actions whose keys stay whatever the width."""

MORE = "More"
"""What F1 says in place of ``Help`` when keys were left out: the rest are a key away."""

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
        # A group's keys (counted below, with the group) never give way on their own.
        keys = [
            widget
            for widget in widgets
            if isinstance(widget, FooterKey) and not widget.has_class("-grouped")
        ]
        offered = list(keys)

        # A group ("d f u a Show") stays whole: its keys (yielded after their KeyGroup, which
        # takes them when mounted) and its label count as they are.
        fixed = 0
        for widget in widgets:
            if isinstance(widget, FooterKey) and widget.has_class("-grouped"):
                fixed += cell_len(widget.key_display) + 1
            elif isinstance(widget, FooterLabel):
                fixed += cell_len(str(widget.content)) + 1 + GAP

        def needed(compact: bool) -> int:
            return fixed + sum(key_width(key, compact) + GAP for key in keys)

        compact = needed(False) > width
        self.set_reactive(Footer.compact, compact)
        self.set_class(compact, "-compact")
        for widget in widgets:
            if isinstance(widget, FooterKey):
                widget.compact = compact

        for key in self.giving_way(keys):
            if needed(compact) <= width:
                break
            keys.remove(key)
        if len(keys) < len(offered):
            for key in keys:
                if key.action in KEPT:
                    key.description = MORE
                    key.tooltip = "Every key of this screen, with what it does (the footer has "
                    "no room for all of them)"
        self._fitted_width = width
        yield from (
            widget
            for widget in widgets
            if not isinstance(widget, FooterKey) or widget in keys or widget not in offered
        )

    def giving_way(self, keys: Sequence[FooterKey]) -> list[FooterKey]:
        """``keys`` but F1's, in the order they give way on a narrow terminal."""
        priority: Sequence[str] = getattr(self.screen, "FOOTER_PRIORITY", ())
        order = [key for action in LEFT_OUT_FIRST for key in keys if key.action == action]
        named = [key for action in reversed(priority) for key in keys if key.action == action]
        order += [
            key
            for key in reversed(keys)
            if key not in order and key not in named and key.action not in KEPT
        ]
        return order + [key for key in named if key not in order]

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._fitted_width and self._bindings_ready:
            self.call_after_refresh(self.recompose)
