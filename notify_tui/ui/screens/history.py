"""History: every campaign, newest first (or in the order ``s`` picks), with counters that
update while messages resolve and progress while they are sent; the way to a new campaign, the
contacts and the opt-outs."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Static

from notify_tui.domain.status import CampaignState
from notify_tui.store.campaigns import CampaignSummary, last_interrupted_campaign
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.formatting import count, plural
from notify_tui.ui.live import PollResult
from notify_tui.ui.messages import (
    CampaignComposed,
    CampaignOpened,
    ComposeOpened,
    ContactsOpened,
    OptOutsOpened,
    StatusesResolved,
)
from notify_tui.ui.screens.base import offered_where_it_acts
from notify_tui.ui.screens.resume_actions import ResumeActionsScreen
from notify_tui.ui.screens.tidy_actions import TidyActionsScreen
from notify_tui.ui.text import safe_text
from notify_tui.ui.widgets.alert_banner import ALERT_MARK
from notify_tui.ui.widgets.campaign_table import SUGGESTION_MARK, CampaignSource, CampaignTable
from notify_tui.ui.widgets.delivery_trend import DeliveryTrend
from notify_tui.ui.widgets.filter_input import FilterInput
from notify_tui.ui.widgets.footer import NotifyFooter
from notify_tui.ui.widgets.outage_banner import OutageBanner
from notify_tui.ui.widgets.virtual_table import VirtualTable

FILTER_DELAY = 0.15
"""Seconds of quiet typing before the filter applies."""

PROGRESS_REDRAW = 0.3
"""At most this often, the table is read again while campaigns are being sent."""


class HistoryScreen(ResumeActionsScreen, TidyActionsScreen):
    """The campaigns; Enter opens one, ``/`` filters them by name, ``n`` writes a new one, ``R``
    resumes an interrupted one, ``p`` reviews its suggested opt-outs (◆), ``s`` goes round the
    orders (kept for the session); ``c`` and ``O`` show the contacts and the opt-outs."""

    TITLE = "History"
    HELP_SECTION = "History"
    AUTO_FOCUS = "#campaigns"
    # Not a ClassVar: Screen declares it as an attribute that may be None.
    HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] | None = [(0, "-narrow"), (80, "-normal")]  # noqa: RUF012
    """Below 80 columns the filter box is narrower: the title keeps the count and the order."""
    FOOTER_PRIORITY: ClassVar[tuple[str, ...]] = (
        # Offered only where they act: each says something about the selected campaign.
        "resume",
        "review_suggestions",
        "cancel_campaign",
        "delete_campaign",
        "restore_campaign",
        # The way back from a filter, then what the screen is for.
        "clear_filter",
        "new_campaign",
        "filter",
        "cycle_sort",
        "archive_campaign",
        # The other screens and the archive: F1 lists them when there is no room.
        "contacts",
        "optouts",
        "toggle_archived",
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "filter",
            "Filter",
            id="history.filter",
            tooltip="Filter the campaigns by name (Escape clears the filter)",
        ),
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            id="history.clear_filter",
            tooltip="Show every campaign again (offered while a filter is on)",
        ),
        Binding(
            "s",
            "cycle_sort",
            "Sort",
            id="history.sort",
            tooltip="List the campaigns in the next order: newest first, most failures first, "
            "worst delivery first, by name, last activity first (a follow-up stays under its "
            "campaign)",
        ),
        Binding(
            "n",
            "new_campaign",
            "New",
            id="history.new_campaign",
            tooltip="Write a new campaign, see what it will send and cost, and send it",
        ),
        Binding(
            "c",
            "contacts",
            "Contacts",
            id="history.contacts",
            tooltip="Every contact, whether it is opted out, and what each campaign did to it",
        ),
        Binding(
            "O",
            "optouts",
            "Opt-outs",
            id="history.optouts",
            tooltip="Every opted-out number: when, why, by whom; opt numbers back in",
        ),
        *offered_where_it_acts(
            Binding(
                "R",
                "resume",
                "Resume",
                id="history.resume",
                tooltip="Send the rest of an interrupted campaign (nothing is sent twice)",
            )
        ),
        *offered_where_it_acts(
            Binding(
                "p",
                "review_suggestions",
                "Suggestions",
                id="history.review_suggestions",
                tooltip="Review the numbers the opt-out policy suggests opting out of the "
                "selected campaign (marked ◆): accept or dismiss them",
            )
        ),
        *offered_where_it_acts(
            Binding(
                "x",
                "cancel_campaign",
                "Cancel",
                id="history.cancel",
                tooltip="Cancel a scheduled campaign: what the provider holds is cancelled "
                "there, the rest never sent",
            )
        ),
        Binding(
            "a",
            "archive_campaign",
            "Archive",
            id="history.archive",
            tooltip="Hide the selected campaign from History, keeping all of it (A shows the "
            "archived ones)",
        ),
        Binding(
            "a",
            "restore_campaign",
            "Restore",
            id="history.restore",
            tooltip="Show the selected archived campaign in History again",
        ),
        Binding(
            "A",
            "toggle_archived",
            "Archived",
            id="history.archived",
            tooltip="Show the archived campaigns; again: the campaigns in use",
        ),
        *offered_where_it_acts(
            Binding(
                "D",
                "delete_campaign",
                "Delete",
                id="history.delete",
                tooltip="Delete a campaign that never reached anyone for real (never sent, or "
                "sent only through the sandbox, as the demo is), asking first",
            )
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._redraw_timer: Timer | None = None
        self._shown_before = False

    def compose(self) -> ComposeResult:
        app = self.notify_app
        yield OutageBanner(tz=app.tz, id="outage")
        with Horizontal(id="history-bar", classes="bar"):
            yield Static(Text("Campaigns", style="bold"), id="history-title")
            yield FilterInput(
                placeholder="/ filter by name", delay=FILTER_DELAY, id="history-filter"
            )
        yield DeliveryTrend(id="history-trend")
        yield CampaignTable(
            now=app.clock,
            tz=app.tz,
            progress=app.live.send_progress.get,
            sort=app.history_sort,
            id="campaigns",
        )
        yield NotifyFooter()

    @property
    def table(self) -> CampaignTable:
        """The campaigns table."""
        return self.query_one(CampaignTable)

    def on_mount(self) -> None:
        if self.notify_app.offer_resume:
            # Once per start: sending never resumes by itself, so say so and offer it.
            self.notify_app.offer_resume = False
            self._offer_resume()
        live = self.notify_app.live
        live.sends_changed.subscribe(self, self._sends_changed)
        live.statuses_resolved.subscribe(self, self._statuses_resolved, immediate=True)
        banner = self.query_one(OutageBanner)
        live.outage_changed.subscribe(self, banner.show)
        banner.show(live.outage)

    def _statuses_resolved(self, result: PollResult) -> None:
        if result.campaign_id is None:  # a cycle of every campaign (not one of Details')
            self.post_message(StatusesResolved(result.cycle, None))

    def _sends_changed(self, campaign_id: int) -> None:
        # Progress comes a few times a second per campaign: redraw at most every few tenths.
        if self._redraw_timer is None:
            self._redraw_timer = self.set_timer(PROGRESS_REDRAW, self._redraw)

    def _redraw(self) -> None:
        self._redraw_timer = None
        if self.is_current:
            self.table.reload(keep_cursor=True)

    def on_screen_resume(self) -> None:
        if self._shown_before:
            # Counters moved while Details was on top: show them, then carry on resolving.
            self.table.reload(keep_cursor=True)
        # The first time, the table has just read the campaigns on mount: no need to again.
        self._shown_before = True
        self.notify_app.live.follow(self, None)

    def on_screen_suspend(self) -> None:
        # Details (or a dialog) is on top: it says what to follow, if anything.
        self.notify_app.live.unfollow(self)

    def on_statuses_resolved(self, event: StatusesResolved) -> None:
        event.stop()
        if event.changed or self.table.source.saw_sending:
            self.table.reload(keep_cursor=True)

    @on(VirtualTable.Loaded, "#campaigns")
    def _loaded(self, event: VirtualTable.Loaded) -> None:
        # The suggestion marks are counted as rows are read: with the first ones.
        self._show_title()
        self.query_one(DeliveryTrend).show(self.table.source.recent)
        self.refresh_bindings()

    def _show_title(self) -> None:
        query = self.table.source.query.strip()
        shown = self.table.row_count
        archived = self.table.source.archived
        title = Text("Archived campaigns" if archived else "Campaigns", style="bold")
        if query:
            total = self.table.source.total
            title.append(f" · {count(shown)} of {count(total)} match “")
            title.append_text(safe_text(query))
            title.append("”")
        else:
            title.append(f" · {count(shown)}")
        title.append(f" · {self.table.source.sort.label}")
        if any(self.table.source.alerts.values()):
            title.append(f" · {ALERT_MARK} alerts", style="bold")
        if any(self.table.source.suggested.values()):
            title.append(f" · {SUGGESTION_MARK} opt-outs to review", style="bold")
        if archived:
            title.append(" · A: the campaigns in use")
        self.query_one("#history-title", Static).update(title)

    # Other screens

    def action_new_campaign(self) -> None:
        """Write a new campaign."""
        self.post_message(ComposeOpened())

    def on_campaign_composed(self, event: CampaignComposed) -> None:
        event.stop()
        self.table.reload(keep_cursor=False)  # the new campaign is the newest: at the top

    def action_contacts(self) -> None:
        """Show the contacts."""
        self.post_message(ContactsOpened())

    def action_optouts(self) -> None:
        """Show the opted-out numbers."""
        self.post_message(OptOutsOpened())

    # Resuming an interrupted campaign, reviewing suggested opt-outs

    def _suggested(self, campaign: CampaignSummary | None) -> int:
        return 0 if campaign is None else self.table.source.suggested.get(campaign.id, 0)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        tables = self.query(CampaignTable)
        campaign = tables.first().current_row if tables else None
        if action == "clear_filter":
            return bool(tables) and bool(tables.first().source.query)
        if action == "resume":
            return self.resumable(campaign)  # offered only where there is something to resume
        if action == "review_suggestions":
            return bool(tables) and bool(self._suggested(campaign))
        if action == "cancel_campaign":
            return self._cancellable(campaign)
        archived = bool(tables) and tables.first().source.archived
        if action == "archive_campaign":
            return not archived and campaign is not None and not campaign.sending
        if action == "restore_campaign":
            return archived and campaign is not None
        if action == "delete_campaign":
            return self.why_not_deletable(campaign) is None
        return True

    def action_why_not(self, action: str) -> None:
        """Say why a key that is not offered on the selected campaign does nothing."""
        campaign = self.table.current_row
        if action == "resume":
            self.explain_not_resumable(campaign)
        elif action == "review_suggestions":
            self.app.notify(
                "Select a campaign marked ◆ to review its suggested opt-outs."
                if campaign is None
                else f"The opt-out policy suggests no number of “{campaign.name}”.",
                title="Opt-out suggestions",
                markup=False,
            )
        elif action == "delete_campaign":
            why = self.why_not_deletable(campaign) or ""
            self.app.notify(
                f"Not deleted: {why}.", title="Delete campaign", severity="warning", markup=False
            )
        elif action == "cancel_campaign":
            self.app.notify(
                "Only a scheduled campaign that has not gone out can be cancelled "
                "(one being sent here: stop it first).",
                title="Nothing to cancel",
                markup=False,
            )

    # Archiving, restoring, deleting

    def action_archive_campaign(self) -> None:
        """Ask, then archive the selected campaign."""
        campaign = self.table.current_row
        if campaign is not None:
            self.ask_archive(campaign, restore=False)

    def action_restore_campaign(self) -> None:
        """Ask, then show the selected archived campaign in History again."""
        campaign = self.table.current_row
        if campaign is not None:
            self.ask_archive(campaign, restore=True)

    def action_delete_campaign(self) -> None:
        """Ask, then delete the selected campaign (only one that never reached anyone)."""
        campaign = self.table.current_row
        if campaign is not None and self.why_not_deletable(campaign) is None:
            self.ask_delete(campaign)

    def action_toggle_archived(self) -> None:
        """The archived campaigns, or again the campaigns in use."""
        source = self.table.source
        self.table.set_source(CampaignSource(source.query, not source.archived, source.sort))

    def action_cycle_sort(self) -> None:
        """List the campaigns in the next order (remembered for the session), from the top."""
        source = self.table.source
        sort = source.sort.next
        self.notify_app.history_sort = sort
        self.table.show_sort(sort)
        self.table.set_source(CampaignSource(source.query, source.archived, sort))

    def tidied(self) -> None:
        self.table.reload(keep_cursor=True)

    # Cancelling a scheduled campaign

    def _cancellable(self, campaign: CampaignSummary | None) -> bool:
        if campaign is None or campaign.state == CampaignState.CANCELED:
            return False
        if self.notify_app.live.is_sending(campaign.id):
            return False
        ahead = campaign.send_at is not None and campaign.send_at > self.notify_app.clock()
        return campaign.state == CampaignState.SCHEDULED or ahead

    def action_cancel_campaign(self) -> None:
        """Ask before cancelling the selected scheduled campaign."""
        campaign = self.table.current_row
        if campaign is None or not self._cancellable(campaign):
            return
        question = Text("Cancel “") + safe_text(campaign.name) + Text("”? ")
        question.append(
            "Every message not gone out is cancelled (at the provider for those it holds) and "
            "never sent. This cannot be undone."
        )
        self.app.push_screen(
            ConfirmDialog("Cancel campaign", question, yes="Cancel it", no="Keep it"),
            lambda yes: self._confirmed_cancel(campaign.id, bool(yes)),
        )

    def _confirmed_cancel(self, campaign_id: int, yes: bool) -> None:
        if yes:
            self._cancel(campaign_id)

    @work(exclusive=True, group="cancel", exit_on_error=False, description="Cancelling")
    async def _cancel(self, campaign_id: int) -> None:
        from notify_tui.services.schedule import cancel_campaign

        result = await cancel_campaign(self.notify_app.runtime.client, campaign_id)
        text = (
            f"Cancelled: {plural(result.canceled, 'scheduled message')} at the provider, "
            f"{count(result.never_sent)} never sent"
        )
        if result.gone:
            text += f"; {count(result.gone)} had already gone out"
        if result.failed:
            text += f"; {count(result.failed)} could not be cancelled now: press x again"
        self.notify(text, title="Campaign cancelled", markup=False)
        self.table.reload(keep_cursor=True)

    @on(VirtualTable.CursorMoved, "#campaigns")
    def _cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        self.refresh_bindings()

    def action_resume(self) -> None:
        """Ask before sending the rest of the selected campaign."""
        campaign = self.table.current_row
        if campaign is not None and self.resumable(campaign):
            self.ask_resume(campaign.id)

    @work(
        thread=True,
        exclusive=True,
        group="resume",
        exit_on_error=False,
        description="Looking for an interrupted campaign",
    )
    def _offer_resume(self) -> None:
        campaign_id = last_interrupted_campaign()
        if campaign_id is not None:
            self.post_resume_checked(campaign_id)

    def resumed(self, campaign: CampaignSummary) -> None:
        self.table.reload(keep_cursor=True)

    def action_review_suggestions(self) -> None:
        """Review the numbers the policy suggests opting out of the selected campaign."""
        campaign = self.table.current_row
        if campaign is None or not self._suggested(campaign):
            return
        # Loaded when used: it formats numbers (phonenumbers), which History's first frame does not.
        from notify_tui.ui.dialogs.suggestions import SuggestionsDialog

        # Back on History, the table is read again: the campaign's ◆ goes once all are decided.
        self.app.push_screen(SuggestionsDialog(campaign.id, campaign.name))

    # Filtering

    def action_filter(self) -> None:
        """Put the cursor in the filter box."""
        self.query_one("#history-filter", FilterInput).focus()

    def action_clear_filter(self) -> None:
        """Empty the filter box and show every campaign again."""
        box = self.query_one("#history-filter", FilterInput)
        box.value = ""
        box.settle()

    @on(FilterInput.Settled, "#history-filter")
    def _filter_settled(self, event: FilterInput.Settled) -> None:
        if event.value != self.table.source.query:
            source = self.table.source
            self.table.set_source(CampaignSource(event.value, source.archived, source.sort))

    @on(FilterInput.Dismissed, "#history-filter")
    def _filter_dismissed(self, event: FilterInput.Dismissed) -> None:
        self.table.focus()

    # Opening a campaign

    @on(VirtualTable.RowActivated, "#campaigns")
    def _open(self, event: VirtualTable.RowActivated) -> None:
        campaign: Any = event.row
        assert isinstance(campaign, CampaignSummary)
        self.post_message(CampaignOpened(campaign.id))
