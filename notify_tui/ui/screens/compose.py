"""New campaign: a name, the message with its live size and cost, the audience, then a summary.

Nothing is recorded until the user confirms the summary. Reading the audience and planning run on
a thread (a hundred thousand contacts take a moment); sending runs in the app, so it goes on after
this screen closes.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static, TextArea
from textual.worker import Worker, WorkerState, get_current_worker

from notify_tui.domain.segments import (
    MAX_BODY_CHARS,
    SegmentInfo,
    count_segments,
    estimate_cost,
)
from notify_tui.domain.smart_encoding import (
    SmartEncoding,
    replaced_line,
    saving,
    segments_change,
    smart_encode,
)
from notify_tui.domain.template import sent_text, template_note
from notify_tui.services.contacts_import import (
    ContactsFileError,
    all_contacts_recipients,
    duplicate_text,
    read_audience,
)
from notify_tui.services.sender import CampaignPlan, SendError, plan_campaign, record_campaign
from notify_tui.store.contacts import count_contacts
from notify_tui.store.optouts import optout_counts
from notify_tui.ui.dialogs.campaign_plan import CampaignPlanDialog, ucs2_reason
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.formatting import count, money, plural
from notify_tui.ui.messages import (
    AudienceCounted,
    AudienceSummary,
    CampaignPlanFailed,
    CampaignPlanned,
    CampaignRecorded,
)
from notify_tui.ui.screens.base import NotifyScreen
from notify_tui.ui.text import safe_text
from notify_tui.ui.widgets.footer import NotifyFooter

SHOWN_REJECTIONS = 5
"""Lines of a CSV file that could not be used, shown in the summary."""

GSM7_SINGLE = 160
UCS2_SINGLE = 70


def size_line(info: SegmentInfo) -> Text:
    """``152 characters · GSM-7 · 1 segment (8 to spare)``, or why it is too long."""
    if not info.characters:
        return Text("0 characters: type the message above.")
    if info.too_long:
        return Text(
            f"{count(info.characters)} characters: the provider refuses more than "
            f"{count(MAX_BODY_CHARS)}. Shorten the message.",
            style="bold",
        )
    line = Text(f"{plural(info.characters, 'character')} · {info.encoding} · ")
    line.append(plural(info.segments, "segment"), style="bold")
    single = GSM7_SINGLE if info.encoding == "GSM-7" else UCS2_SINGLE
    if info.segments == 1:
        line.append(f" ({count(single - info.units)} to spare)")
    return line


def encoding_line(info: SegmentInfo) -> Text:
    """For UCS-2, the character that forced it and what replacing it would change."""
    if info.encoding != "UCS-2" or not info.characters:
        return Text("")
    line = Text("UCS-2", style="bold") + ucs2_reason(info.ucs2_trigger)
    line.append(
        f": 70 characters a segment instead of 160. Replace it to send "
        f"{'fewer segments' if info.segments > 1 else 'more text in one segment'}."
    )
    return line


def smart_line(encoding: SmartEncoding, price: Decimal, messages: int) -> Text:
    """The offer of ``ctrl+t``: which characters it replaces and what that saves, segments
    and money, for ``messages`` messages (0: not known yet, a message's saving); and the
    characters no replacing helps (emoji), which keep the message in UCS-2."""
    if not encoding.replaced:
        return Text("")
    before, after = encoding.before.segments, encoding.after.segments
    chars = " ".join(dict.fromkeys(r.char for r in encoding.replaced))
    line = Text("ctrl+t", style="bold") + Text(" replaces ") + safe_text(chars)
    line.append(f" with GSM-7 lookalikes: {segments_change(before, after)}")
    if messages:
        line.append(f" a message, {saving(before * messages, after * messages, price)}")
        line.append(f" for {plural(messages, 'contact')}")
    else:
        line.append(f", {saving(before, after, price)} a message")
    if encoding.kept:
        kept = " ".join(encoding.kept)
        line.append(" (").append_text(safe_text(kept))
        line.append(" ha" + ("s" if len(encoding.kept) == 1 else "ve") + " none: still UCS-2)")
    return line.append(".")


class ComposeScreen(NotifyScreen):
    """Write a campaign; ``ctrl+r`` shows what sending it would do and asks before sending."""

    TITLE = "New campaign"
    HELP_SECTION = "New campaign"
    AUTO_FOCUS = "#compose-name"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+r",
            "review",
            "Review & send",
            id="compose.review",
            tooltip="Count who will be sent, skipped (opted out) and invalid, and the cost; "
            "then confirm before anything is sent",
        ),
        Binding(
            "ctrl+t",
            "smart_encoding",
            "GSM-7",
            id="compose.smart_encoding",
            tooltip="Replace the characters that have a GSM-7 lookalike (curly quotes, long "
            "dashes, ellipsis, non-breaking spaces) so the message is not sent in UCS-2; "
            "ctrl+z puts them back",
        ),
        Binding(
            "escape",
            "back",
            "Back",
            id="compose.back",
            tooltip="Back to History (asks first when you have written something); while the "
            "audience is read, stop reading it",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.contacts = 0
        """How many contacts the workspace has (the audience when no file is given)."""
        self.opted_out = 0
        """How many of them are opted out: skipped, and not in the estimate."""
        self.busy = False
        """True while the audience is read or the campaign recorded."""
        self.info = count_segments("")
        self.encoding = smart_encode("")
        """What ``ctrl+t`` would replace in the message, and what it saves."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="compose-bar", classes="bar"):
            yield Static(Text("New campaign", style="bold"), id="compose-title")
        with Vertical(id="compose-form"):
            with Horizontal(classes="compose-row"):
                yield Label("Name", classes="compose-label")
                yield Input(
                    placeholder="what History will call it",
                    id="compose-name",
                    compact=True,
                    max_length=200,
                    select_on_focus=False,
                )
            with Horizontal(id="compose-message-row"):
                yield Label("Message", classes="compose-label")
                yield TextArea(id="compose-body", soft_wrap=True, compact=True)
            yield Static(id="compose-size", classes="compose-note")
            yield Static(id="compose-encoding", classes="compose-note")
            with Horizontal(classes="compose-row", id="compose-audience-row"):
                yield Label("Audience", classes="compose-label")
                yield Input(
                    placeholder="empty: all contacts · or the path of a CSV file",
                    id="compose-file",
                    compact=True,
                    select_on_focus=False,
                )
            yield Static(id="compose-audience", classes="compose-note")
            with Horizontal(classes="compose-row", id="compose-at-row"):
                yield Label("Send at", classes="compose-label")
                yield Input(
                    placeholder="empty: now · or 2026-12-10 10:00 [Europe/Berlin]",
                    id="compose-at",
                    compact=True,
                    select_on_focus=False,
                )
            yield Static(id="compose-status")
        yield NotifyFooter()

    def on_mount(self) -> None:
        self._count_audience()
        self._show_size()
        self._show_audience()
        self._say(Text("ctrl+r shows the summary; nothing is sent before you confirm it."))

    @work(
        thread=True,
        exclusive=True,
        group="audience",
        exit_on_error=False,
        description="Counting the contacts",
    )
    def _count_audience(self) -> None:
        contacts = count_contacts()
        opted_out = sum(optout_counts().values()) if contacts else 0
        self.post_message(AudienceCounted(contacts, opted_out))

    def on_audience_counted(self, event: AudienceCounted) -> None:
        event.stop()
        self.contacts = event.contacts
        self.opted_out = event.opted_out
        self._show_size()
        self._show_audience()

    # What the user sees while typing

    @property
    def body(self) -> str:
        """The message as typed."""
        return self.query_one("#compose-body", TextArea).text

    @property
    def send_at_text(self) -> str:
        """When to send it, as typed (empty: now)."""
        return self.query_one("#compose-at", Input).value.strip()

    @property
    def file_path(self) -> str:
        """The CSV file's path as typed (empty: all contacts)."""
        return self.query_one("#compose-file", Input).value.strip()

    @on(TextArea.Changed, "#compose-body")
    def _body_changed(self, event: TextArea.Changed) -> None:
        self._show_size()

    @on(Input.Changed, "#compose-file")
    def _file_changed(self, event: Input.Changed) -> None:
        self._show_audience()
        self._show_size()

    @on(Input.Submitted, "#compose-name")
    def _name_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#compose-body", TextArea).focus()

    @on(Input.Submitted, "#compose-file, #compose-at")
    def _file_submitted(self, event: Input.Submitted) -> None:
        self.action_review()

    def _show_size(self) -> None:
        info = self.info = count_segments(sent_text(self.body))
        line = size_line(info)
        if info.characters and not info.too_long:
            price = self.notify_app.runtime.settings.price_per_segment
            line.append(f" · {money(estimate_cost(info.segments, price), unit=True)} a message")
            to_send = self.contacts - self.opted_out
            if not self.file_path and to_send:
                total = estimate_cost(info.segments * to_send, price)
                line.append(f" · {money(total, estimate=True)} for {plural(to_send, 'contact')}")
        self.query_one("#compose-size", Static).update(line)
        note = encoding_line(info)
        encoding = self.encoding = smart_encode(self.body)
        offer = smart_line(
            encoding,
            self.notify_app.runtime.settings.price_per_segment,
            0 if self.file_path else self.contacts - self.opted_out,
        )
        if offer:
            note.append("\n").append_text(offer)
        self.refresh_bindings()
        merge = template_note(self.body)
        if merge:
            # Fields are filled in per recipient; a syntax error names its column.
            note.append("\n" if note else "").append(merge + ".", style="bold")
        self.query_one("#compose-encoding", Static).update(note)

    def _show_audience(self) -> None:
        path = self.file_path
        if not path:
            text = Text(f"All contacts: {plural(self.contacts, 'number')}")
            if self.opted_out:
                text.append(f", {count(self.opted_out)} of them opted out (skipped)")
            if not self.contacts:
                text.append(" (import some with notify-tui contacts import FILE)")
        else:
            file = Path(path).expanduser()
            text = Text("The CSV file ") + safe_text(str(file))
            if file.is_file():
                text.append(" (opted-out numbers are skipped)")
            elif file.exists():
                text.append(": not a file", style="bold")
            else:
                text.append(": no such file yet", style="bold")
        self.query_one("#compose-audience", Static).update(text)

    def _say(self, text: Text, *, problem: bool = False) -> None:
        status = self.query_one("#compose-status", Static)
        status.set_class(problem, "-problem")
        status.update(text)

    # Smart encoding

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "smart_encoding":
            return bool(self.encoding.replaced)  # offered only when there is a lookalike
        return True

    def action_smart_encoding(self) -> None:
        """Replace the message's lookalikes (an edit of the text area: ctrl+z undoes it)."""
        encoding = smart_encode(self.body)
        if not encoding.replaced:
            return
        area = self.query_one("#compose-body", TextArea)
        area.replace(encoding.encoded, (0, 0), area.document.end)
        area.focus()
        done = replaced_line(encoding)
        self._say(safe_text(done[:1].upper() + done[1:]) + Text(" · ctrl+z puts them back"))

    # Review, then record and send

    def action_review(self) -> None:
        """Read the audience and plan the campaign, then show the summary."""
        if self.busy:
            return
        name = self.query_one("#compose-name", Input).value
        problem = self._check(name)
        if problem is not None:
            text, field = problem
            self._fail(text, field)
            return
        path = self.file_path
        self.busy = True
        if path:
            self._say(Text("Reading ") + safe_text(path) + Text("…"))
        else:
            self._say(Text(f"Reading {plural(self.contacts, 'contact')}…"))
        self._plan(name, self.body, path or None, self.send_at_text)

    def _check(self, name: str) -> tuple[str, str] | None:
        """What is wrong before any reading (the plan checks again)."""
        if not name.strip():
            return "Give the campaign a name.", "name"
        if not self.body.strip():
            return "The message is empty.", "body"
        if self.info.too_long:
            return (
                f"The message has {count(self.info.characters)} characters: the provider "
                f"refuses more than {count(MAX_BODY_CHARS)}.",
                "body",
            )
        sender = self.notify_app.runtime.sender
        if not sender["from_"] and not sender["messaging_service_sid"]:
            return (
                "No sender: set from_number (NOTIFY_FROM) or messaging_service_sid in the "
                "settings, then start notify-tui again.",
                "sender",
            )
        return None

    @work(
        thread=True,
        exclusive=True,
        group="plan",
        exit_on_error=False,
        description="Reading the campaign's audience",
    )
    def _plan(self, name: str, body: str, path: str | None, at: str = "") -> None:
        runtime = self.notify_app.runtime
        settings = runtime.settings
        region = settings.default_region
        from notify_tui.domain.schedule import ScheduleError, parse_when

        tz = settings.timezone
        send_at = None
        try:
            if at:
                send_at, tz = parse_when(at, tz)
        except ScheduleError as exc:
            self.post_message(CampaignPlanFailed(str(exc), "at"))
            return
        try:
            if path:
                audience = read_audience(
                    Path(path).expanduser(), region=region, max_details=SHOWN_REJECTIONS
                )
                recipients = audience.recipients
                summary = AudienceSummary(
                    label=path,
                    rows=audience.rows,
                    unusable=audience.unusable,
                    rejections=tuple(str(r) for r in audience.rejections)
                    + tuple(duplicate_text(d) for d in audience.duplicate_lines),
                    note=audience.layout.note,
                )
            else:
                recipients = list(all_contacts_recipients())
                summary = AudienceSummary(label="all contacts", rows=len(recipients))
            from notify_tui.domain.quiet_hours import QuietHours  # phonenumbers: not at start

            plan = plan_campaign(
                name,
                body,
                recipients,
                sender=runtime.sender["from_"],
                messaging_service_sid=runtime.sender["messaging_service_sid"],
                price_per_segment=settings.price_per_segment,
                region=region,
                send_at=send_at,
                timezone=tz,
                now=self.notify_app.clock().replace(tzinfo=UTC),
                quiet_hours=QuietHours.parse(settings.quiet_hours)
                if settings.quiet_hours
                else None,
            )
        except ContactsFileError as exc:
            self.post_message(CampaignPlanFailed(str(exc), "audience"))
            return
        except SendError as exc:
            self.post_message(CampaignPlanFailed(str(exc), "sender"))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(CampaignPlanned(plan, summary))

    def on_campaign_plan_failed(self, event: CampaignPlanFailed) -> None:
        event.stop()
        self.busy = False
        self._fail(event.error, event.field)

    def _fail(self, error: str, field: str) -> None:
        self._say(Text("Can't send yet: ", style="bold") + safe_text(error), problem=True)
        target = {
            "name": "#compose-name",
            "body": "#compose-body",
            "audience": "#compose-file",
            "at": "#compose-at",
        }
        if field in target:
            self.query_one(target[field]).focus()

    def on_campaign_planned(self, event: CampaignPlanned) -> None:
        event.stop()
        self.busy = False
        plan = event.plan
        self._say(
            Text(
                f"{plural(plan.to_send, 'message')} to send · "
                f"{count(plan.skipped_opted_out)} opted out · {count(plan.invalid)} invalid."
            )
        )
        settings = self.notify_app.runtime.settings
        rate = settings.rate_for(plan.messaging_service_sid or plan.sender) or None
        self.app.push_screen(
            CampaignPlanDialog(plan, event.audience, rate),
            lambda send: self._confirmed(plan) if send else None,
        )

    def _confirmed(self, plan: CampaignPlan) -> None:
        self.busy = True
        self._say(Text(f"Recording {plural(len(plan.recipients), 'recipient')}…"))
        self._record(plan)

    @work(
        thread=True,
        exclusive=True,
        group="record",
        exit_on_error=False,
        description="Recording the campaign",
    )
    def _record(self, plan: CampaignPlan) -> None:
        prepared = record_campaign(plan)
        self.post_message(CampaignRecorded(prepared.campaign_id, plan.name))

    def on_campaign_recorded(self, event: CampaignRecorded) -> None:
        event.stop()
        self.busy = False
        self.notify_app.start_sending(event.campaign_id, event.name)
        self.dismiss(event.campaign_id)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # NotifyScreen's handler runs too (Textual calls each class's): it notifies the error.
        if event.state is WorkerState.ERROR and event.worker.group in ("plan", "record"):
            self.busy = False
            self._say(Text("That did not work: see the notification."), problem=True)

    # Leaving

    def action_back(self) -> None:
        """Back to History; ask first when something was written."""
        if self.busy:
            if self.workers.cancel_group(self, "plan"):
                # Reading a big audience can be stopped; recording it cannot (and is quick).
                self.busy = False
                self._say(Text("Stopped: nothing was recorded or sent."))
            return
        name = self.query_one("#compose-name", Input).value
        if not (name.strip() or self.body.strip()):
            self.dismiss(None)
            return
        self.app.push_screen(
            ConfirmDialog(
                "Discard this campaign?",
                Text("Nothing was sent or recorded. Discard what you wrote?"),
                yes="Discard",
                no="Keep writing",
            ),
            self._discard_if,
        )

    def _discard_if(self, discard: bool | None) -> None:
        if discard:
            self.dismiss(None)
