"""What the user reads on the screen: the lines a widget shows, the notification toasts."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widget import Widget


def lines_of(widget: Widget) -> list[str]:
    """The lines ``widget`` shows now, as plain text."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


def notifications(app: App[Any], severity: str | None = None) -> list[str]:
    """The toasts the screen shows (of one ``severity``: information, warning, error), oldest
    first, each as ``title: message`` (``message`` alone when it has no title).

    A notification shows once the screen has refreshed after it: wait for it (``wait_until``)
    rather than reading it the moment it is sent. Tests run without toasts unless they ask:
    ``app.run_test(notifications=True)``."""
    assert app.screen.query("ToastRack"), "no toasts: run the app with notifications=True"
    shown = []
    for toast in app.screen.query("Toast"):
        if severity is not None and not toast.has_class(f"-{severity}"):
            continue
        text = toast.render().plain
        title, newline, message = text.partition("\n")
        shown.append(f"{title}: {message}" if newline else text)
    return shown
