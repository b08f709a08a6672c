"""The summary before sending: what a campaign will send, skip and cost; yes sends it."""

from __future__ import annotations

import unicodedata
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from notify_tui.domain.phone import format_for_humans
from notify_tui.services.sender import CampaignPlan
from notify_tui.ui.formatting import count, duration, money, plural
from notify_tui.ui.messages import AudienceSummary
from notify_tui.ui.text import safe_text

PLAN_LINES = 16
"""The most lines the summary takes before it scrolls."""

DIALOG_CHROME = 8
"""Lines of the dialog that are not the summary: border, padding, the buttons and a gap."""


def ucs2_reason(trigger: str | None) -> Text:
    """`` because of “’” (RIGHT SINGLE QUOTATION MARK)``: the character shown literally."""
    if not trigger:
        return Text("")
    name = unicodedata.name(trigger, f"U+{ord(trigger):04X}")
    return Text(" because of “") + safe_text(trigger) + Text(f"” ({name})")


def plan_table(plan: CampaignPlan, audience: AudienceSummary, rate: float | None) -> Table:
    """The plan as a two-column table; every piece of data in it is plain text."""
    table = Table.grid(padding=(0, 2))
    table.add_column("What", style="bold", no_wrap=True)
    table.add_column("Value", ratio=1)
    info = plan.segment_info
    table.add_row("Campaign", safe_text(plan.name))
    table.add_row(
        "Message",
        Text(f"{plural(info.characters, 'character')} · {info.encoding}")
        + ucs2_reason(info.ucs2_trigger)
        + Text(f" · {plural(info.segments, 'segment')} ")
        + Text("for the template" if plan.merge else "each"),
    )
    if plan.merge is not None:
        # A personal message: each recipient's own text, its range and a few previews.
        for index, merged in enumerate(plan.merge_lines()):
            merged = merged.strip().removeprefix("Message: ")
            table.add_row("Personal" if index == 0 else "", safe_text(merged))
    if audience.label == "all contacts":
        where = Text(f"all contacts ({count(audience.rows)})")
    else:
        where = safe_text(audience.label) + Text(f" ({plural(audience.rows, 'line')})")
    table.add_row("Audience", where)
    table.add_row("To send", Text(plural(plan.to_send, "message"), style="bold"))
    skipped = plural(plan.skipped_opted_out, "number")
    table.add_row(
        "Opted out",
        Text(f"{skipped} skipped · saves {money(plan.money_saved, estimate=True)}")
        if plan.skipped_opted_out
        else Text("none"),
    )
    table.add_row(
        "Invalid",
        Text(f"{plural(plan.invalid, 'number')}: recorded as Failed (Invalid number), never sent")
        if plan.invalid
        else Text("none"),
    )
    table.add_row(
        "Duplicates",
        Text(f"{count(plan.duplicates)} left out: each number gets one message")
        if plan.duplicates
        else Text("none"),
    )
    if audience.unusable:
        table.add_row(
            "Unusable",
            Text(f"{plural(audience.unusable, 'line')} of the file left out (why: see File)"),
        )
    segments = plan.total_segments
    table.add_row(
        "Cost",
        Text(money(plan.estimated_cost, estimate=True), style="bold")
        + Text(f" ({plural(segments, 'segment')} at {money(plan.price_per_segment, unit=True)})"),
    )
    sender = plan.sender or plan.messaging_service_sid or ""
    line = Text("from ") + safe_text(format_for_humans(sender))
    if rate and plan.to_send:
        pace = "1 message a second" if rate == 1 else f"{rate:g} messages a second"
        line.append(f" at {pace}: {duration(plan.to_send / rate)}")
    table.add_row("Sending", line)
    for index, said in enumerate(plan.schedule_lines()):
        # When it goes out and who holds it; who quiet hours hold, and until when.
        table.add_row("When" if index == 0 else "", safe_text(said.strip()))
    if audience.note:
        table.add_row("Note", safe_text(audience.note))
    for index, rejection in enumerate(audience.rejections):
        table.add_row("File" if index == 0 else "", safe_text(rejection))
    return table


class CampaignPlanDialog(ModalScreen[bool]):
    """Shows the plan; ``y`` records the campaign and sends it, ``n`` or Escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "y",
            "answer(True)",
            "Send",
            id="plan.send",
            tooltip="Record the campaign and send it now (it goes on while you use the app)",
        ),
        Binding("n", "answer(False)", "Back", id="plan.back", tooltip="Back to editing"),
        Binding("escape", "answer(False)", "Back", show=False, id="plan.back"),
    ]

    HELP_SECTION = "Send the campaign?"

    def __init__(self, plan: CampaignPlan, audience: AudienceSummary, rate: float | None) -> None:
        super().__init__()
        self.plan = plan
        self.audience = audience
        self.rate = rate

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(id="plan-dialog", classes="dialog") as box:
            box.border_title = "Send this campaign?"
            with VerticalScroll(id="plan-scroll"):
                yield Static(plan_table(plan, self.audience, self.rate), id="plan-summary")
                if not plan.to_send:
                    yield Static(
                        Text(
                            "Nothing to send: every number is opted out, invalid or repeated.",
                            style="bold",
                        ),
                        id="plan-nothing",
                    )
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    f"Send {plural(plan.to_send, 'message')} (y)",
                    variant="primary",
                    id="plan-send",
                    disabled=not plan.to_send,
                )
                yield Button("Back (n)", id="plan-back")

    def on_resize(self, event: events.Resize) -> None:
        # The summary scrolls within what the border, padding and buttons leave of the dialog
        # (90% of the screen at most), so that Send and Back stay on a short terminal.
        room = event.size.height * 9 // 10 - DIALOG_CHROME
        self.query_one("#plan-scroll").styles.max_height = max(3, min(PLAN_LINES, room))

    def on_mount(self) -> None:
        # Sending costs money: Enter alone goes back; sending takes ``y`` (or a click).
        self.query_one("#plan-back", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id == "plan-send")

    def action_answer(self, send: bool) -> None:
        """Send (when there is something to send), or go back."""
        if send and not self.plan.to_send:
            return
        self.dismiss(send)
