"""Follow up a campaign: who would get the message again and what it costs, the message to
edit, and ``ctrl+r`` to record it and send it through the normal sender (as New campaign does).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Static, TextArea
from textual.worker import Worker, WorkerState

from notify_tui.errors import NotifyError
from notify_tui.services.followup import FollowupPlan, plan_followup, record_followup
from notify_tui.store.followups import RETRYABLE
from notify_tui.ui.formatting import count, describe_error, money, plural
from notify_tui.ui.text import safe_text

REPLAN_DELAY = 0.3
"""Seconds of quiet typing before the cost is worked out again for the edited message."""

WHO_LINES = 6
"""Lines for who would get it, at most: the rest scrolls."""

DIALOG_CHROME = 15
"""Lines the dialog takes besides who would get it: border, label, message box, cost,
margins and buttons."""


def who_text(plan: FollowupPlan) -> Text:
    """Who would get the follow-up, by failure code, and who is left out and why."""
    candidates = plan.candidates
    chosen = len(candidates.chosen)
    text = Text(f"{plural(chosen, 'recipient')} failed for a cause that may pass", style="bold")
    for code, n in sorted(candidates.by_code.items(), key=lambda i: (-i[1], i[0])):
        text.append(f"\n  {count(n)} × {code} {RETRYABLE.get(code, '')}")
    if candidates.left_out:
        left = ", ".join(
            f"{count(n)} {why}"
            for why, n in sorted(candidates.left_out.items(), key=lambda i: (-i[1], i[0]))
        )
        text.append("\nLeft out: ", style="bold")
        text.append(left)
    return text


def cost_text(plan: FollowupPlan) -> Text:
    """The message's size and the follow-up's estimated cost."""
    info = plan.plan.segment_info
    segments = plan.plan.segments
    text = Text(
        f"{info.characters} characters, {info.encoding}, {plural(segments, 'segment')} a message · "
    )
    text.append(
        f"{money(plan.plan.estimated_cost, estimate=True)} for "
        f"{plural(plan.plan.to_send, 'message')}",
        style="bold",
    )
    if plan.plan.skipped_opted_out:
        text.append(f" · {count(plan.plan.skipped_opted_out)} opted out since: skipped")
    return text


class FollowupDialog(ModalScreen[tuple[int, str] | None]):
    """Plans a follow-up of a campaign (nothing recorded) and shows it; the message can be
    edited (the cost follows); ``ctrl+r`` records it. Dismisses with the recorded follow-up's
    id and name, for the caller to send as any campaign, or ``None``."""

    class Planned(Message):
        """The follow-up was planned for the message in the box (off the UI thread)."""

        def __init__(self, plan: FollowupPlan | None, error: str | None = None) -> None:
            super().__init__()
            self.plan = plan
            self.error = error

    class Recorded(Message):
        """The follow-up was recorded, ready to send."""

        def __init__(self, campaign_id: int, name: str) -> None:
            super().__init__()
            self.campaign_id = campaign_id
            self.name = name

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+r",
            "send",
            "Send follow-up",
            id="followup.send",
            tooltip="Record the follow-up and send it now, as planned above (nothing is sent "
            "twice, and it resumes like any campaign)",
        ),
        Binding("escape", "cancel", "Cancel", id="followup.cancel", tooltip="Send nothing"),
    ]

    HELP_SECTION = "Follow up"

    def __init__(self, campaign_id: int, name: str, body: str) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self._campaign_name = name
        self._original_body = body
        self.plan: FollowupPlan | None = None
        """The plan for the message in the box, once read (``None`` while it is)."""
        self._replan: Timer | None = None
        self._recording = False

    def compose(self) -> ComposeResult:
        with Vertical(id="followup-dialog", classes="dialog") as box:
            # A Text: the campaign's name is data, never markup.
            box.border_title = Text("Follow up “") + safe_text(self._campaign_name) + Text("”")
            box.border_subtitle = "Escape to cancel"
            with VerticalScroll(id="followup-who-scroll"):
                yield Static(
                    Text("Finding who failed for a cause that may pass…"), id="followup-who"
                )
            yield Static(Text("Message (edit it, or send it as it was):", style="bold"))
            yield TextArea(
                self._original_body, id="followup-body", soft_wrap=True, show_line_numbers=False
            )
            yield Static(Text(""), id="followup-cost")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Send (ctrl+r)", variant="primary", id="followup-send", disabled=True)
                yield Button("Cancel (esc)", id="followup-cancel")

    def on_resize(self, event: events.Resize) -> None:
        # Who would get it scrolls within what the rest leaves (98% of the screen at most), so
        # that the message, the cost and the buttons stay on a short terminal (60x20).
        room = event.size.height * 98 // 100 - DIALOG_CHROME
        self.query_one("#followup-who-scroll").styles.max_height = max(2, min(WHO_LINES, room))

    def on_mount(self) -> None:
        self.query_one("#followup-body", TextArea).focus()
        self._plan(self._original_body)

    # Planning

    @on(TextArea.Changed, "#followup-body")
    def _edited(self, event: TextArea.Changed) -> None:
        self.plan = None
        self._refresh_send()
        if self._replan is not None:
            self._replan.stop()
        self._replan = self.set_timer(REPLAN_DELAY, self._replan_now)

    def _replan_now(self) -> None:
        self._replan = None
        self._plan(self.query_one("#followup-body", TextArea).text)

    @work(
        thread=True,
        exclusive=True,
        group="followup-plan",
        exit_on_error=False,
        description="Planning the follow-up",
    )
    def _plan(self, message: str) -> None:
        try:
            plan = plan_followup(self.campaign_id, message=message)
        except NotifyError as exc:
            self.post_message(self.Planned(None, exc.explain()))
            return
        self.post_message(self.Planned(plan))

    def on_followup_dialog_planned(self, event: FollowupDialog.Planned) -> None:
        event.stop()
        cost = self.query_one("#followup-cost", Static)
        if event.plan is None:
            self.plan = None
            cost.update(Text(event.error or "This cannot be sent.", style="bold"))
            self._refresh_send()
            return
        self.plan = event.plan
        self.query_one("#followup-who", Static).update(who_text(event.plan))
        if event.plan.plan.to_send:
            cost.update(cost_text(event.plan))
        else:
            cost.update(Text("Nobody to follow up: nothing would be sent.", style="bold"))
        self._refresh_send()

    def _refresh_send(self) -> None:
        button = self.query_one("#followup-send", Button)
        plan = self.plan
        ready = plan is not None and plan.plan.to_send > 0 and not self._recording
        button.disabled = not ready
        if plan is not None and plan.plan.to_send:
            button.label = f"Send to {plural(plan.plan.to_send, 'recipient')} (ctrl+r)"

    # Sending

    def action_send(self) -> None:
        """Record the follow-up as planned and send it."""
        plan = self.plan
        if plan is None or not plan.plan.to_send or self._recording:
            return
        self._recording = True
        self._refresh_send()
        self.query_one("#followup-cost", Static).update(
            Text(f"Recording {plural(plan.plan.to_send, 'recipient')}…", style="italic")
        )
        self._record(plan)

    @work(
        thread=True,
        exclusive=True,
        group="followup-record",
        exit_on_error=False,
        description="Recording the follow-up",
    )
    def _record(self, plan: FollowupPlan) -> None:
        prepared = record_followup(plan)
        self.post_message(self.Recorded(prepared.campaign_id, plan.plan.name))

    def on_followup_dialog_recorded(self, event: FollowupDialog.Recorded) -> None:
        event.stop()
        self.dismiss((event.campaign_id, event.name))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        shown = describe_error(error) if error is not None else "it failed"
        if event.worker.group == "followup-record":
            self._recording = False
            self._refresh_send()
            said = Text("Not recorded: ", style="bold") + safe_text(shown)
        else:
            said = Text("Could not plan it: ", style="bold") + safe_text(shown)
        self.query_one("#followup-cost", Static).update(said)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "followup-send":
            self.action_send()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        """Close without sending."""
        if not self._recording:
            self.dismiss(None)
