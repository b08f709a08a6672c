"""Every alert of a campaign in full: what was seen, why it matters, what to do; a button per
alert shows its recipients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from notify_tui.domain.alerts import Alert
from notify_tui.ui.formatting import plural
from notify_tui.ui.text import safe_text
from notify_tui.ui.widgets.alert_banner import ALERT_MARK


def alert_text(alert: Alert) -> Text:
    """An alert as paragraphs: its title, what was seen, why, what to do."""
    text = Text(f"{ALERT_MARK} {alert.title}", style="bold")
    for label, body in (("Seen", alert.seen), ("Why", alert.why), ("What to do", alert.action)):
        text.append(f"\n{label}: ", style="bold")
        text.append(body)
    return text


class AlertsDialog(ModalScreen[int | None]):
    """The alerts; dismisses with the index of the one whose recipients to show, or ``None``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="alerts.close"),
        Binding("w", "close", "Close", show=False, id="alerts.close"),
    ]

    HELP_SECTION = "Alerts"

    def __init__(self, campaign: str, alerts: Sequence[Alert]) -> None:
        super().__init__()
        self._campaign = campaign
        self.alerts = tuple(alerts)

    def compose(self) -> ComposeResult:
        with Vertical(id="alerts-dialog", classes="dialog") as box:
            # A Text: the campaign's name is data, never markup.
            box.border_title = Text("Alerts: ") + safe_text(self._campaign)
            box.border_subtitle = "Escape to close"
            with VerticalScroll(id="alerts-scroll"):
                for index, alert in enumerate(self.alerts):
                    yield Static(alert_text(alert), classes="alert-text")
                    with Horizontal(classes="dialog-buttons"):
                        yield Button(
                            f"Show these {plural(alert.messages, 'recipient')}",
                            id=f"alert-{index}",
                        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id and event.button.id.startswith("alert-"):
            self.dismiss(int(event.button.id.removeprefix("alert-")))

    def action_close(self) -> None:
        """Close without filtering."""
        self.dismiss(None)
