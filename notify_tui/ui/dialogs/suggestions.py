"""Reviewing a campaign's opt-out suggestions: accept (opt the numbers out) or dismiss them."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from notify_tui.store.campaigns import get_campaign
from notify_tui.store.suggestions import Suggestion, accept, dismiss, pending
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.formatting import count, plural
from notify_tui.ui.messages import SuggestionsDecided, SuggestionsLoaded
from notify_tui.ui.text import safe_text
from notify_tui.ui.widgets.footer import NotifyFooter
from notify_tui.ui.widgets.suggestion_table import SuggestionTable, evidence_text, failures
from notify_tui.ui.widgets.virtual_table import VirtualTable

if TYPE_CHECKING:
    from notify_tui.ui.app import NotifyApp

HELD_NOTE = (
    "held: the policy would opt it out by itself, but asks first: too many at once from one "
    "campaign can mean a provider outage."
)


class SuggestionsDialog(ModalScreen[int]):
    """A campaign's pending suggestions; dismisses with how many were decided."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "space",
            "toggle_selected",
            "Select",
            id="suggestions.toggle",
            tooltip="Select or unselect the highlighted suggestion",
        ),
        Binding(
            "a",
            "accept",
            "Accept",
            id="suggestions.accept",
            tooltip="Opt out the selected numbers (none selected: the highlighted one)",
        ),
        Binding(
            "A",
            "accept_all",
            "Accept all",
            id="suggestions.accept_all",
            tooltip="Opt out every suggested number (asks first)",
        ),
        Binding(
            "d",
            "dismiss_some",
            "Dismiss",
            id="suggestions.dismiss",
            tooltip="Dismiss the selected suggestions (none selected: the highlighted one); "
            "the numbers stay in",
        ),
        Binding(
            "D",
            "dismiss_all",
            "Dismiss all",
            id="suggestions.dismiss_all",
            tooltip="Dismiss every suggestion (asks first); the numbers stay in",
        ),
        Binding("escape", "close", "Close", id="suggestions.close", tooltip="Back to Details"),
    ]

    HELP_SECTION = "Opt-out suggestions"
    AUTO_FOCUS = "#suggestion-table"
    FOOTER_PRIORITY: ClassVar[tuple[str, ...]] = (
        # The way out first: at 60 columns "Dismiss all" gives way, never Escape.
        "close",
        "accept",
        "dismiss_some",
        "toggle_selected",
        "accept_all",
        "dismiss_all",
    )

    def __init__(self, campaign_id: int, campaign_name: str) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.campaign_name = campaign_name
        self.names: dict[int, str] = {}
        """Names of the campaigns the evidence cites."""
        self.decided = 0
        """Suggestions accepted or dismissed so far."""
        self.loaded = False
        self.busy = False
        """True while a decision is being written."""

    def compose(self) -> ComposeResult:
        with Vertical(id="suggestions-dialog", classes="dialog") as box:
            box.border_title = "Opt-out suggestions"
            box.border_subtitle = "Escape to close"
            yield Static(id="suggestions-intro")
            yield SuggestionTable(id="suggestion-table")
            yield Static(id="suggestion-detail")
            yield Static(id="suggestions-status")
        yield NotifyFooter()

    @property
    def notify_app(self) -> NotifyApp:
        """The app, typed."""
        return cast("NotifyApp", self.app)

    @property
    def table(self) -> SuggestionTable:
        """The suggestions."""
        return self.query_one(SuggestionTable)

    def on_mount(self) -> None:
        intro = Text("Suggested for opt-out after failures in “") + safe_text(self.campaign_name)
        intro.append("”: reading…")
        self.query_one("#suggestions-intro", Static).update(intro)
        self._load()

    # Reading

    @work(
        thread=True,
        exclusive=True,
        group="load",
        exit_on_error=False,
        description="Reading the opt-out suggestions",
    )
    def _load(self) -> None:
        suggestions = pending(self.campaign_id)
        cited = {c for s in suggestions for c, _ in failures(s) if c is not None}
        names: dict[int, str] = {}
        for campaign_id in sorted(cited):
            campaign = get_campaign(campaign_id)
            if campaign is not None:
                names[campaign_id] = campaign.name
        self.post_message(SuggestionsLoaded(suggestions, names))

    def on_suggestions_loaded(self, event: SuggestionsLoaded) -> None:
        event.stop()
        self.names = event.campaign_names
        self.loaded = True
        self.busy = False
        if not event.suggestions and self.decided:
            self.dismiss(self.decided)  # every one is decided
            return
        self.table.show(event.suggestions)
        self._show_intro()
        self._show_detail()
        self._show_status()

    def _show_intro(self) -> None:
        suggestions = self.table.suggestions
        intro = Text(f"{plural(len(suggestions), 'number')} to opt out after failures in “")
        intro.append_text(safe_text(self.campaign_name))
        intro.append("”? Nothing changes until you accept.")
        if any(s.held for s in suggestions):
            intro.append("\n")
            intro.append(HELD_NOTE)
        self.query_one("#suggestions-intro", Static).update(intro)

    @on(VirtualTable.CursorMoved, "#suggestion-table")
    def _cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        row = self.table.current_row
        text = Text()
        if row is not None:
            text.append_text(safe_text(row.reason))
            evidence = evidence_text(row, self.names)
            if evidence.plain:
                text.append(" · ")
                text.append_text(evidence)
        self.query_one("#suggestion-detail", Static).update(text)

    def _show_status(self) -> None:
        chosen = len(self.table.selected)
        if chosen:
            text = Text(f"{count(chosen)} selected", style="bold")
            text.append(": a accepts them (opts them out), d dismisses them.")
        else:
            text = Text("None selected: space selects; a and d act on the highlighted one.")
        self.query_one("#suggestions-status", Static).update(text)

    # Choosing

    def action_toggle_selected(self) -> None:
        """Select or unselect the highlighted suggestion."""
        self.table.toggle()
        self._show_status()

    @on(VirtualTable.RowActivated, "#suggestion-table")
    def _row_activated(self, event: VirtualTable.RowActivated) -> None:
        event.stop()
        self.action_toggle_selected()

    def _chosen(self) -> list[Suggestion]:
        table = self.table
        if table.selected:
            return [s for s in table.suggestions if s.id in table.selected]
        row = table.current_row
        return [row] if row is not None else []

    def action_accept(self) -> None:
        """Opt out the selected numbers, or the highlighted one."""
        self._decide(self._chosen(), accept_them=True)

    def action_dismiss_some(self) -> None:
        """Dismiss the selected suggestions, or the highlighted one."""
        self._decide(self._chosen(), accept_them=False)

    def action_accept_all(self) -> None:
        """Opt out every suggested number, after asking."""
        self._ask_all(accept_them=True)

    def action_dismiss_all(self) -> None:
        """Dismiss every suggestion, after asking."""
        self._ask_all(accept_them=False)

    def _ask_all(self, *, accept_them: bool) -> None:
        everything = self.table.suggestions
        if not everything or self.busy:
            return
        numbers = plural(len(everything), "number")
        if accept_them:
            title, yes = "Accept all", "Opt them out"
            question = Text(f"Opt out all {numbers}? Future campaigns will skip them.")
        else:
            title, yes = "Dismiss all", "Dismiss"
            question = Text(f"Dismiss every suggestion? The {numbers} stay in future campaigns.")
        self.app.push_screen(
            ConfirmDialog(title, question, yes=yes, no="Cancel"),
            lambda sure: self._decide(everything, accept_them=accept_them) if sure else None,
        )

    def _decide(self, suggestions: list[Suggestion], *, accept_them: bool) -> None:
        if not suggestions or self.busy:
            return
        self.busy = True
        self._write([s.id for s in suggestions], accept_them)

    @work(
        thread=True,
        exclusive=True,
        group="decide",
        exit_on_error=False,
        description="Recording the decision on the suggestions",
    )
    def _write(self, ids: list[int], accept_them: bool) -> None:
        actor = self.notify_app.runtime.settings.operator
        if accept_them:
            opted_out = accept(ids, actor)
            self.post_message(SuggestionsDecided(len(ids), opted_out, 0))
        else:
            dismissed = dismiss(ids, actor)
            self.post_message(SuggestionsDecided(dismissed, 0, dismissed))

    def on_suggestions_decided(self, event: SuggestionsDecided) -> None:
        event.stop()
        self.decided += event.decided
        self.table.selected.clear()
        if event.opted_out:
            self.app.notify(
                f"Opted out {plural(event.opted_out, 'number')}: future campaigns will skip "
                f"{'it' if event.opted_out == 1 else 'them'}.",
                title="Opt-out suggestions",
                markup=False,
            )
        elif event.dismissed:
            self.app.notify(
                f"Dismissed {plural(event.dismissed, 'suggestion')}.",
                title="Opt-out suggestions",
                markup=False,
            )
        self._load()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.busy = False
        self.notify_app.worker_changed(event.worker, event.state)

    def action_close(self) -> None:
        """Back to Details."""
        self.dismiss(self.decided)
