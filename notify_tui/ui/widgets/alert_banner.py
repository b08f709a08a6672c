"""Details' alert banner: what was seen about the campaign and what to do, on two lines; ``x``
(or a click) filters the table to the recipients it is about, ``w`` tells everything."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from notify_tui.domain.alerts import Alert

ALERT_MARK = "⚠"
"""Before an alert, and before the name of a campaign with alerts in History."""


class AlertBanner(Widget):
    """The campaign's first alert: its title and what was seen, then the keys and what to do.
    It takes the place of the reason's advice (Details decides which shows), so that an alert
    appearing while messages resolve never moves the table."""

    class Chosen(Message):
        """The banner was clicked: show the recipients of its alert."""

        def __init__(self, alert: Alert) -> None:
            super().__init__()
            self.alert = alert

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "alert-banner--title",
        "alert-banner--keys",
        "alert-banner--muted",
    }

    DEFAULT_CSS = """
    AlertBanner {
        height: 2;
        padding: 0 1;
        background: $warning-muted;
        & > .alert-banner--title { text-style: bold; color: $text-warning; }
        & > .alert-banner--keys { text-style: bold; }
        & > .alert-banner--muted { color: $text-muted; }
        &:nocolor > .alert-banner--title { text-style: bold reverse; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._alerts: tuple[Alert, ...] = ()

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """The alerts shown, the first one on the banner."""
        return self._alerts

    def show(self, alerts: Sequence[Alert]) -> None:
        """Show these alerts (none: hide the banner)."""
        alerts = tuple(alerts)
        if alerts == self._alerts:
            return
        self._alerts = alerts
        self.refresh()

    def _component(self, name: str) -> Style:
        return self.get_component_rich_style(f"alert-banner--{name}", partial=True)

    def render(self) -> Text:
        if not self._alerts:
            return Text("")
        alert = self._alerts[0]
        first = Text(f"{ALERT_MARK} ", style=self._component("title"))
        first.append(alert.title, style=self._component("title"))
        first.append(f": {alert.seen}")
        second = Text("x", style=self._component("keys"))
        second.append(" show them · ")
        second.append("w", style=self._component("keys"))
        more = len(self._alerts) - 1
        second.append(f" why, what to do{f' (+{more} more)' if more else ''} · ")
        second.append(alert.action, style=self._component("muted"))
        width = self.content_region.width or self.size.width
        for line in (first, second):
            line.truncate(max(width, 1), overflow="ellipsis")
        joined = Text("\n").join([first, second])
        joined.no_wrap = True
        return joined

    def on_click(self, event: events.Click) -> None:
        if self._alerts:
            event.stop()
            self.post_message(self.Chosen(self._alerts[0]))
