"""Details: one campaign's status chart, its failure reasons and every recipient, live."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import OptionList, Static

from notify_tui.domain.alerts import Alert
from notify_tui.domain.insights import Dimension, Group
from notify_tui.domain.phone import format_for_humans
from notify_tui.domain.polling import POLL_WINDOW
from notify_tui.domain.status import CODE_ADVICE, UNSENT, SendState, Status, advice_for
from notify_tui.domain.template import sent_text
from notify_tui.errors import NotifyError
from notify_tui.services.export import export_file_name, free_path, sent_body
from notify_tui.services.poller import PollCycle
from notify_tui.services.review import adopt
from notify_tui.store.campaigns import CampaignSummary
from notify_tui.store.followups import RETRYABLE
from notify_tui.store.insights import CampaignInsights
from notify_tui.store.optouts import (
    SOURCE_LABELS,
)
from notify_tui.store.recipients import (
    RecipientFilter,
    RecipientRow,
    Sort,
)
from notify_tui.store.review import ReviewItem, resend, skip
from notify_tui.ui.campaign_reads import CampaignReads, load_campaign_overview
from notify_tui.ui.dialogs.alerts import AlertsDialog
from notify_tui.ui.dialogs.export import ExportDialog
from notify_tui.ui.dialogs.followup import FollowupDialog
from notify_tui.ui.dialogs.review import ADOPT, RESEND, ReviewDialog
from notify_tui.ui.dialogs.suggestions import SuggestionsDialog
from notify_tui.ui.folders import user_folder
from notify_tui.ui.formatting import count, plain
from notify_tui.ui.live import PollResult
from notify_tui.ui.messages import (
    CampaignOverview,
    CampaignOverviewLoaded,
    CampaignRead,
    GroupFound,
    RecipientsExported,
    RecipientsExportFailed,
    StatusesResolved,
)
from notify_tui.ui.screens.base import offered_where_it_acts
from notify_tui.ui.screens.opt_out_actions import OptOutActionsScreen, number_and_name
from notify_tui.ui.screens.resume_actions import ResumeActionsScreen
from notify_tui.ui.text import safe_text
from notify_tui.ui.widgets.alert_banner import AlertBanner
from notify_tui.ui.widgets.breakdown_panel import BreakdownPanel
from notify_tui.ui.widgets.campaign_header import CampaignHeader
from notify_tui.ui.widgets.delivery_time import DeliveryTimeLine
from notify_tui.ui.widgets.filter_input import FilterInput
from notify_tui.ui.widgets.footer import NotifyFooter
from notify_tui.ui.widgets.outage_banner import OutageBanner
from notify_tui.ui.widgets.reason_list import ReasonList
from notify_tui.ui.widgets.recipient_table import RecipientTable
from notify_tui.ui.widgets.status_chart import ChartData, StatusChart
from notify_tui.ui.widgets.virtual_table import VirtualTable

SEND_REDRAW = 0.5
"""At most this often, the header shows how far sending this campaign is."""

_SHOW = Binding.Group("Show")


def unknown_why(row: RecipientRow) -> str:
    """Why a message is still Unknown, in words: not sent yet, or waiting for a receipt."""
    if row.send_state in UNSENT or not row.provider_status:
        return "not sent yet: waiting its turn to be submitted"
    if row.provider_status == "sent":
        hours = int(POLL_WINDOW.total_seconds() // 3600)
        return (
            "sent: the carrier has it, and has sent no delivery receipt yet (carriers report "
            f"for up to {hours} h; some never do)"
        )
    return f"provider status: {row.provider_status}"


def row_summary(row: RecipientRow) -> Text:
    """Everything about one recipient on one line, for the line under the table."""
    parts = [number_and_name(row.phone, row.name), Text(row.status.label, style="bold")]
    if row.reason:
        parts.append(safe_text(row.reason))
    if row.detail or row.note:
        parts.append(safe_text(row.detail or row.note or ""))
        if row.error_code in CODE_ADVICE:
            # Its code says more than its reason (a STOP under "HTTP 400 error").
            parts.append(Text(CODE_ADVICE[row.error_code], style="italic"))
    elif row.status is Status.UNKNOWN:
        parts.append(Text(unknown_why(row)))
    if row.opted_out:
        source = SOURCE_LABELS.get(row.opt_out_source or "", row.opt_out_source or "")
        parts.append(Text(f"opted out ({source})" if source else "opted out", style="bold"))
    line = Text(" · ").join(parts)
    line.no_wrap = True
    line.overflow = "ellipsis"
    return line


QUIET_AFTER = timedelta(hours=1)
"""A campaign with no resolution for this long is drawn up to its last one, not to now."""


class DetailsScreen(OptOutActionsScreen, ResumeActionsScreen):
    """A campaign: header, status chart, failure reasons, and its recipients."""

    OPT_OUT_FROM = "Details"

    TITLE = "Details"
    HELP_SECTION = "Details"
    FOOTER_PRIORITY: ClassVar[tuple[str, ...]] = (
        # Offered only where they act: each says there is something to do here.
        "resume",
        "review_recipient",
        "review_suggestions",
        "followup",
        "back",
        "search",
        "export",
        "cycle_sort",
        "toggle_opt_out",
    )
    AUTO_FOCUS = "#recipients"
    # Not a ClassVar: Screen declares it as an attribute that may be None.
    VERTICAL_BREAKPOINTS: list[tuple[int, str]] | None = [(0, "-short"), (36, "-tall")]  # noqa: RUF012
    """A tall terminal shows more failure reasons at once."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="details.back", tooltip="Back to History"),
        Binding(
            "d",
            "show_status('delivered')",
            "Delivered",
            id="details.show_delivered",
            tooltip="Show only Delivered recipients",
            group=_SHOW,
        ),
        Binding(
            "f",
            "show_status('failed')",
            "Failed",
            id="details.show_failed",
            tooltip="Show only Failed recipients",
            group=_SHOW,
        ),
        Binding(
            "u",
            "show_status('unknown')",
            "Unknown",
            id="details.show_unknown",
            tooltip="Show only recipients still Unknown",
            group=_SHOW,
        ),
        Binding(
            "a",
            "show_status('all')",
            "All",
            id="details.show_all",
            tooltip="Show recipients of every status (and no reason filter)",
            group=_SHOW,
        ),
        Binding(
            "slash",
            "search",
            "Search",
            id="details.search",
            tooltip="Find recipients by number or name as you type",
        ),
        Binding(
            "s",
            "cycle_sort",
            "Sort",
            id="details.sort",
            tooltip="The next order: failures first, by reason, last update first, by name, "
            "send order",
        ),
        Binding(
            "S",
            "cycle_sort(-1)",
            "Sort back",
            id="details.sort_back",
            tooltip="The order before",
            show=False,
        ),
        Binding(
            "o",
            "toggle_opt_out",
            "Opt out",
            id="details.opt_out",
            tooltip="Opt the selected number out of future campaigns (on an opted-out "
            "number: opt it back in)",
        ),
        Binding(
            "e",
            "export",
            "Export",
            id="details.export",
            tooltip="Write the recipients shown to a CSV file",
        ),
        Binding(
            "t",
            "show_text",
            "Text",
            id="details.text",
            show=False,
            tooltip="Show the text the selected recipient was sent (their own, for a personal "
            "message)",
        ),
        Binding(
            "c",
            "clear_filters",
            "Clear filters",
            id="details.clear_filters",
            show=False,
            tooltip="Show every recipient: no status, reason or search filter",
        ),
        Binding(
            "r",
            "toggle_focus",
            "Reasons",
            id="details.reasons",
            show=False,
            tooltip="Move between the failure reasons and the recipients table",
        ),
        Binding(
            "x",
            "show_alert",
            "Show alert's recipients",
            id="details.show_alert",
            show=False,
            tooltip="Show the recipients the alert on the banner is about (a click on the banner "
            "does the same)",
        ),
        Binding(
            "w",
            "alerts",
            "Alerts",
            id="details.alerts",
            show=False,
            tooltip="Every alert of the campaign: what was seen, why it matters, what to do, and "
            "the recipients each is about",
        ),
        *offered_where_it_acts(
            Binding(
                "F",
                "followup",
                "Follow up",
                id="details.followup",
                tooltip="Send the message again (as it was, or edited) to the recipients who "
                "failed for a cause that may pass (a phone that was off, a queue overflow, an "
                "unknown error, a rate limit): see who and what it costs first",
            )
        ),
        Binding(
            "b",
            "cycle_breakdown",
            "Breakdown",
            id="details.breakdown",
            show=False,
            tooltip="Show beside the chart the failure reasons, or the recipients by country, "
            "by original carrier (ported numbers keep theirs) or by line type; Enter on one "
            "filters the table",
        ),
        *offered_where_it_acts(
            Binding(
                "v",
                "review_recipient",
                "Review",
                id="details.review",
                tooltip="Settle the selected recipient whose create's outcome is unknown (the "
                "header says how many need review): adopt a provider message, send again, or "
                "leave it",
            )
        ),
        *offered_where_it_acts(
            Binding(
                "p",
                "review_suggestions",
                "Suggestions",
                id="details.review_suggestions",
                tooltip="Review the numbers the opt-out policy suggests opting out (the header "
                "says how many): accept or dismiss them",
            )
        ),
        *offered_where_it_acts(
            Binding(
                "R",
                "resume",
                "Resume",
                id="details.resume",
                tooltip="Send the rest of this campaign, interrupted before the end (nothing is "
                "sent twice)",
            )
        ),
    ]

    def __init__(self, campaign_id: int) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.reads = CampaignReads(self, campaign_id)
        """The campaign's reads, on workers (see ui/campaign_reads.py)."""
        self._sending = False
        self._send_redraw: Timer | None = None
        self._row_needs_review = False
        self._offers = (False, False)
        self.loaded = False
        """True once the reasons and the time series were read."""
        self._retryable = 0
        """Failed messages whose cause may pass (``store.followups.RETRYABLE``)."""
        self._group: tuple[Dimension, Group] | None = None
        """The breakdown's group the table is filtered to (with ``filter.profiles``)."""
        self.campaign_name = ""
        self.campaign_text = ""
        """What the campaign sends a recipient without their own text."""

    def compose(self) -> ComposeResult:
        app = self.notify_app
        yield OutageBanner(tz=app.tz, id="outage")
        yield CampaignHeader(now=app.clock, tz=app.tz, live=app.poll, id="header")
        with Horizontal(id="details-top"):
            yield StatusChart(tz=app.tz, id="chart")
            yield BreakdownPanel(id="reasons-panel")
        yield DeliveryTimeLine(id="delivery-time")
        # One place, two lines: the campaign's alert, or the advice of the reason under the
        # cursor while the user goes through the reasons (or when there is no alert).
        banner = AlertBanner(id="alert-banner")
        banner.display = False
        yield banner
        yield Static(id="advice")
        with Horizontal(id="filter-bar", classes="bar"):
            yield Static(id="filter-summary")
            yield FilterInput(placeholder="/ search number or name", id="search")
        yield RecipientTable(self.campaign_id, now=app.clock, tz=app.tz, id="recipients")
        yield Static(id="row-detail")
        yield NotifyFooter()

    # Widgets

    @property
    def table(self) -> RecipientTable:
        """The recipients table."""
        return self.query_one(RecipientTable)

    @property
    def reasons(self) -> ReasonList:
        """The failure reasons."""
        return self.query_one(ReasonList)

    @property
    def header(self) -> CampaignHeader:
        """The header."""
        return self.query_one(CampaignHeader)

    @property
    def chart(self) -> StatusChart:
        """The status chart."""
        return self.query_one(StatusChart)

    # Loading and live updates

    def on_mount(self) -> None:
        self._read_campaign(opening=True)
        live = self.notify_app.live
        live.sends_changed.subscribe(self, self._sends_changed)
        live.poll_started.subscribe(self, self._poll_started)
        live.statuses_resolved.subscribe(self, self._statuses_resolved, immediate=True)
        live.poll_failed.subscribe(self, self._poll_failed)
        banner = self.query_one(OutageBanner)
        live.outage_changed.subscribe(self, banner.show)
        live.delivery_changed.subscribe(self, self.header.delivered_by)
        self.header.delivered_by(live.delivery)
        banner.show(live.outage)

    def on_screen_resume(self) -> None:
        self.notify_app.live.follow(self, self.campaign_id, self._state_after)

    def on_screen_suspend(self) -> None:
        self.notify_app.live.unfollow(self)

    def _load_state(self) -> None:
        self.reads.overview()

    def on_campaign_overview_loaded(self, event: CampaignOverviewLoaded) -> None:
        event.stop()
        self._show_state(event.state)

    def _show_state(self, state: CampaignOverview, partial: bool = False) -> None:
        campaign = state.campaign
        self._sending = campaign.sending
        self.campaign_name = campaign.name
        self.campaign_text = sent_text(campaign.body)
        self.header.show(
            campaign,
            None if partial else state.suggested,
            None if partial else state.needs_review,
            state.waiting,
        )
        waiting = self.header.waiting
        self._offers_changed()
        unknown = campaign.unknown
        last = state.series[-1][0] if state.series else None
        now = self.notify_app.clock()
        # Up to now while messages are still resolving; once the last hour brought nothing, the
        # rest are awaiting receipts that may never come, and the line ends at the last one.
        until_now = last is None or (bool(unknown) and now - last < QUIET_AFTER)
        self.chart.update(
            ChartData(
                delivered=campaign.delivered,
                failed=campaign.failed,
                unknown=unknown,
                not_sent=waiting.not_sent if waiting else 0,
                no_receipt=waiting.no_receipt if waiting else 0,
                series=tuple(state.series),
                since=campaign.sent_at,
                until=now if until_now else last,
                until_now=until_now,
            )
        )
        if not partial:
            self.loaded = True
            self.reasons.set_reasons(state.reasons, self.filter.reason)
            # The reason column takes no more than this campaign's reasons need: the name the rest.
            self.table.fit_reasons([reason for reason, _ in state.reasons])
            self._show_advice()
            self._show_insight_state(state)

    def _show_insight_state(self, state: CampaignOverview) -> None:
        """Breakdowns and delivery times, alerts, what follow-ups recovered, and whether a
        follow-up is offered."""
        if state.insights is not None:
            self._show_insights(state.insights)
            failures = state.insights.failures()
            retryable = sum(f.messages for f in failures if f.code in RETRYABLE)
            if retryable != self._retryable:
                self._retryable = retryable
                self.refresh_bindings()  # Follow up is offered, or no longer
        self.query_one(AlertBanner).show(state.alerts)
        self._show_notice()
        if state.recovery is not None:
            self.header.recovered(state.recovery.describe())

    def _state_after(self, cycle: PollCycle) -> CampaignOverview | None:
        """Runs on a worker thread: read the new state only when something could have moved."""
        if self.campaign_id in cycle.campaign_ids or self._sending:
            return load_campaign_overview(self.campaign_id)
        return None

    def _following(self, campaign_id: int | None) -> bool:
        scope = self.notify_app.live.scope
        return (
            campaign_id == self.campaign_id
            and scope is not None
            and scope.campaign_id == (self.campaign_id)
        )

    def _poll_started(self, campaign_id: int | None) -> None:
        if self._following(campaign_id):
            self.header.checking()

    def _statuses_resolved(self, result: PollResult) -> None:
        if result.campaign_id == self.campaign_id:
            # Posted, not handled here: a newer cycle replaces one still waiting in the queue.
            self.post_message(StatusesResolved(result.cycle, result.campaign_id, result.state))

    def on_statuses_resolved(self, event: StatusesResolved) -> None:
        event.stop()
        self.header.checked(event.cycle.at)
        if event.state is not None:
            self._show_state(event.state)
            # Rows, counts and order may all have moved: read them again where the user is.
            self._refresh_rows(statuses_moved=True)

    def _poll_failed(self, error: str) -> None:
        if self._following(self.campaign_id):
            self.header.checked(self.notify_app.clock())

    @on(VirtualTable.CursorMoved, "#recipients")
    def _cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        row = event.row
        line = Text()
        if isinstance(row, RecipientRow):
            line = row_summary(row)
        needs_review = isinstance(row, RecipientRow) and row.send_state == SendState.NEEDS_REVIEW
        if needs_review != self._row_needs_review:
            # The footer offers Review on such a row only; redrawn when that changes, not per step.
            self._row_needs_review = needs_review
            self.refresh_bindings()
        # One line whatever it says: no layout, so that only that line is drawn again.
        self.query_one("#row-detail", Static).update(line, layout=False)

    # Filters

    @property
    def filter(self) -> RecipientFilter:
        """The filter asked for last (a search may still be being read)."""
        return self.table.filter

    def _apply_filter(self, flt: RecipientFilter) -> None:
        self.reasons.set_active(flt.reason)
        self.table.show(flt)

    def _refresh_rows(self, statuses_moved: bool = False) -> None:
        """The data changed: show it again without moving what the user looks at."""
        self.table.refresh_after_updates(statuses_moved)

    @on(RecipientTable.ViewChanged, "#recipients")
    def _view_changed(self, event: RecipientTable.ViewChanged) -> None:
        self.reasons.set_active(event.filter.reason)
        if event.filter.profiles is None:
            self._group = None
        group = self._group
        self.query_one(BreakdownPanel).set_active_group(
            None if group is None else (group[0], group[1].key)
        )
        self._show_summary()

    def _show_summary(self) -> None:
        flt = self.filter
        campaign = self.header.campaign
        total = campaign.recipients if campaign else 0
        shown = self.table.row_count
        if self.table.searching:
            parts = [Text("searching…", style="italic")]
        elif flt.is_everything:
            parts = [Text(f"{count(shown)} recipients", style="bold")]
        else:
            parts = [Text(f"{count(shown)} of {count(total)}", style="bold")]
        if flt.sort is not Sort.SENT:
            # Next to the count: the statuses shown by default are the first words a narrow
            # terminal cuts.
            parts.append(Text(flt.sort.label))
        parts.append(Text("all statuses" if flt.status is None else flt.status.label))
        if flt.reason:
            parts.append(safe_text(flt.reason))
        if flt.codes:
            codes = ", ".join(str(code) for code in flt.codes)
            parts.append(Text(f"code{'s' if len(flt.codes) > 1 else ''} {codes}"))
        if self._group is not None and flt.profiles is not None:
            dimension, group = self._group
            parts.append(Text(f"{dimension.label}: ") + safe_text(group.label))
        if flt.search.strip():
            parts.append(Text("matching “") + safe_text(flt.search.strip()) + Text("”"))
        self.query_one("#filter-summary", Static).update(Text(" · ").join(parts))

    def action_show_status(self, status: str) -> None:
        """Show the recipients of one status, or of all (``all``)."""
        if status == "all":
            self._apply_filter(replace(self.filter, status=None, reason=None, codes=None))
            return
        chosen = Status(status)
        failed = chosen is Status.FAILED
        reason = self.filter.reason if failed else None
        codes = self.filter.codes if failed else None
        self._apply_filter(replace(self.filter, status=chosen, reason=reason, codes=codes))

    def action_cycle_sort(self, step: int = 1) -> None:
        """Show the recipients in the next order (``step`` -1: the one before)."""
        orders = list(Sort)
        sort = orders[(orders.index(self.filter.sort) + step) % len(orders)]
        self._apply_filter(replace(self.filter, sort=sort))

    def action_clear_filters(self) -> None:
        """Every recipient again, in the same order."""
        search = self.query_one("#search", FilterInput)
        if search.value:
            search.value = ""
        self._apply_filter(RecipientFilter(sort=self.filter.sort))

    def action_search(self) -> None:
        """Put the cursor in the search box."""
        self.query_one("#search", FilterInput).focus()

    def action_toggle_focus(self) -> None:
        """Move between the reasons (or the breakdown shown) and the table."""
        panel = self.query_one(BreakdownPanel).shown
        if panel.has_focus:
            self.table.focus()
        else:
            panel.focus()

    @on(FilterInput.Settled, "#search")
    def _search_settled(self, event: FilterInput.Settled) -> None:
        if event.value != self.filter.search:
            self._apply_filter(replace(self.filter, search=event.value))

    @on(FilterInput.Dismissed, "#search")
    def _search_dismissed(self, event: FilterInput.Dismissed) -> None:
        self.table.focus()

    @on(OptionList.OptionSelected, "#reasons")
    def _reason_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        reason = self.reasons.reason_at(event.option_index)
        if reason is None:
            return
        if reason == self.filter.reason:
            self._apply_filter(replace(self.filter, status=None, reason=None))
        else:
            self._apply_filter(replace(self.filter, status=Status.FAILED, reason=reason))

    @on(OptionList.OptionHighlighted, "#reasons")
    def _reason_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._show_advice()

    # Follow-ups

    def action_followup(self) -> None:
        """Plan a follow-up to the recipients who failed for a cause that may pass."""
        campaign = self.header.campaign
        if campaign is None:
            return

        def recorded(followup: tuple[int, str] | None) -> None:
            if followup is not None:
                campaign_id, name = followup
                self.notify_app.start_sending(campaign_id, name)
                self.app.notify(
                    plain(f"“{name}” is being sent: History shows it under this campaign."),
                    title="Follow up",
                    markup=False,
                )

        self.app.push_screen(FollowupDialog(campaign.id, campaign.name, campaign.body), recorded)

    # Alerts

    def action_show_alert(self) -> None:
        """Show the recipients of the alert on the banner."""
        shown = self.query_one(AlertBanner).alerts
        if not shown:
            self._no_alerts()
            return
        self._show_alert(shown[0])

    def action_alerts(self) -> None:
        """Every alert in full, with a button to show each one's recipients."""
        shown = self.query_one(AlertBanner).alerts
        campaign = self.header.campaign
        if not shown or campaign is None:
            self._no_alerts()
            return

        def chosen(index: int | None) -> None:
            if index is not None:
                self._show_alert(shown[index])

        self.app.push_screen(AlertsDialog(campaign.name, shown), chosen)

    def _show_notice(self) -> None:
        """The alert where the reason's advice goes, unless the user is in the reasons."""
        alert = bool(self.query_one(AlertBanner).alerts) and not self.reasons.has_focus
        self.query_one(AlertBanner).display = alert
        self.query_one("#advice", Static).display = not alert

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._show_notice()

    def _no_alerts(self) -> None:
        self.app.notify(
            "Nothing about this campaign needs acting on: no alert.", title="Alerts", markup=False
        )

    @on(AlertBanner.Chosen)
    def _alert_clicked(self, event: AlertBanner.Chosen) -> None:
        event.stop()
        self._show_alert(event.alert)

    def _show_alert(self, alert: Alert) -> None:
        search = self.query_one("#search", FilterInput)
        if search.value:
            search.value = ""
        self._apply_filter(
            RecipientFilter(
                status=Status.FAILED,
                reason=alert.filter.reason,
                codes=alert.filter.codes,
                sort=self.filter.sort,
            )
        )
        self.table.focus()

    # Breakdowns and delivery times

    def action_cycle_breakdown(self) -> None:
        """Show the next breakdown beside the chart (reasons, country, carrier, line type)."""
        self.query_one(BreakdownPanel).cycle()
        self._show_delivery_time()

    def _show_insights(self, insights: CampaignInsights) -> None:
        self.query_one(BreakdownPanel).show_insights(insights)
        self._show_delivery_time()

    def _show_delivery_time(self) -> None:
        panel = self.query_one(BreakdownPanel)
        if panel.insights is not None:
            times = panel.insights.delivery_times()
            self.query_one(DeliveryTimeLine).show(times, panel.slowest())

    @on(BreakdownPanel.GroupChosen)
    def _group_chosen(self, event: BreakdownPanel.GroupChosen) -> None:
        event.stop()
        chosen = self._group
        if chosen is not None and (chosen[0], chosen[1].key) == (event.dimension, event.group.key):
            self._apply_filter(replace(self.filter, profiles=None))  # again: every group
            return
        self._find_group(event.dimension, event.group)

    def _find_group(self, dimension: Dimension, group: Group) -> None:
        self.reads.group(dimension, group)

    def on_group_found(self, event: GroupFound) -> None:
        event.stop()
        self._group = (event.dimension, event.group)
        self._apply_filter(replace(self.filter, profiles=event.profiles))

    def _show_advice(self) -> None:
        reason = self.reasons.highlighted_reason
        advice = advice_for(reason)
        text = Text()
        if reason and advice:
            text.append_text(safe_text(reason))
            text.stylize("bold")
            text.append(f": {advice}")
        self.query_one("#advice", Static).update(text)

    # Opting out and back in

    def action_toggle_opt_out(self) -> None:
        """Opt the selected number out; on an opted-out one, offer to opt it back in."""
        row = self.table.current_row
        if row is None:
            return
        if row.send_state == SendState.INVALID:
            # Never sent and never will be: there is nothing to opt out, only a number to fix.
            self.app.notify(
                plain(
                    f"{row.phone} is not a valid phone number ({row.detail or 'invalid'}): it is "
                    "never sent. Fix it in your contacts."
                ),
                title="Nothing to opt out",
                severity="warning",
                markup=False,
            )
            return
        self.toggle_opt_out(
            row.phone,
            row.name,
            row.opted_out,
            row.opt_out_source,
            why=row.reason or row.status.label,
            campaign_id=self.campaign_id,
            code=row.error_code,
        )

    def opt_outs_changed(self, phone: str) -> None:
        """The row shows the change at once, without moving the cursor."""
        self._refresh_rows()

    # Recipients that need review

    # Keys offered only where they act; elsewhere the same key says why it does nothing

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.is_mounted:
            return True
        if action == "review_recipient":
            row = self.table.current_row
            return row is not None and row.send_state == SendState.NEEDS_REVIEW
        if action == "review_suggestions":
            return self.header.campaign is not None and bool(self.header.suggested)
        if action == "resume":
            return self.resumable(self.header.campaign)
        if action == "followup":
            campaign = self.header.campaign
            return campaign is not None and not campaign.sending and self._retryable > 0
        return True

    def _offers_changed(self) -> None:
        """Redraw the footer when Resume or Suggested opt-outs come or go (not on every read)."""
        offers = (self.resumable(self.header.campaign), bool(self.header.suggested))
        if offers != self._offers:
            self._offers = offers
            self.refresh_bindings()

    def action_why_not(self, action: str) -> None:
        """Say why a key that is not offered here does nothing."""
        if action == "followup":
            campaign = self.header.campaign
            self.app.notify(
                "Follow up once it is sent: it is still being sent."
                if campaign is not None and campaign.sending
                else "No recipient of this campaign failed for a cause that may pass "
                "(an unreachable handset, a queue overflow, an unknown error, a rate limit): "
                "a follow-up would reach nobody.",
                title="Follow up",
                markup=False,
            )
        elif action == "resume":
            self.explain_not_resumable(self.header.campaign)
        elif action == "review_recipient":
            waiting = self.header.needs_review
            self.app.notify(
                f"Select a recipient that needs review ({waiting:,} in this campaign; their "
                "detail starts with “needs review”)."
                if waiting
                else "No recipient of this campaign needs review.",
                title="Review",
                markup=False,
            )
        elif action == "review_suggestions":
            self.app.notify(
                "The opt-out policy suggests no number of this campaign.",
                title="Opt-out suggestions",
                markup=False,
            )

    def action_resume(self) -> None:
        """Ask before sending the rest of this campaign."""
        if self.resumable(self.header.campaign):
            self.ask_resume(self.campaign_id)

    def resumed(self, campaign: CampaignSummary) -> None:
        self._read_campaign(opening=False)

    def action_review_recipient(self) -> None:
        """Settle the selected recipient if it needs review."""
        row = self.table.current_row
        if row is None or row.send_state != SendState.NEEDS_REVIEW:
            return
        item = ReviewItem(row.id, row.phone, row.name, row.note or "")

        def decided(decision: str | None) -> None:
            if decision:
                self._settle(item, decision)

        self.app.push_screen(ReviewDialog(number_and_name(row.phone, row.name), item.note), decided)

    @work(group="review", exit_on_error=False, description="Settling a recipient")
    async def _settle(self, item: ReviewItem, decision: str) -> None:
        app = self.notify_app
        number = plain(format_for_humans(item.phone))
        if decision.startswith(ADOPT):
            sid = decision.removeprefix(ADOPT)
            try:
                await adopt(app.runtime.client, self.campaign_id, item, sid)
            except NotifyError as exc:
                app.notify(plain(exc.explain()), title="Not adopted", severity="warning")
                return
            app.notify(f"{number}: adopted {sid}.", title="Review", markup=False)
        elif decision == RESEND:
            await asyncio.to_thread(resend, self.campaign_id, [item.message_id])
            campaign = self.header.campaign
            app.start_sending(self.campaign_id, campaign.name if campaign else "", resume=True)
        else:
            actor = app.runtime.settings.operator
            await asyncio.to_thread(skip, self.campaign_id, [item.message_id], actor)
            app.notify(f"{number}: left as it is.", title="Review", markup=False)
        self._refresh_rows()
        self._load_state()

    # Opt-out suggestions

    def action_review_suggestions(self) -> None:
        """Review the numbers the policy suggests opting out."""
        campaign = self.header.campaign
        if campaign is None or not self.header.suggested:
            return
        self.app.push_screen(SuggestionsDialog(self.campaign_id, campaign.name), self._reviewed)

    def _reviewed(self, decided: int | None) -> None:
        if decided:
            # Accepted numbers are opted out now: the table and the count show it.
            self._refresh_rows()
            self._load_state()

    # Sending (the app sends; this screen shows how far it is)

    def _sends_changed(self, campaign_id: int) -> None:
        if campaign_id != self.campaign_id or self._send_redraw is not None:
            return
        self._send_redraw = self.set_timer(SEND_REDRAW, self._show_sending)

    def _show_sending(self) -> None:
        self._send_redraw = None
        self._read_campaign(opening=False)

    def _read_campaign(self, opening: bool) -> None:
        self.reads.campaign(opening)

    def on_campaign_read(self, event: CampaignRead) -> None:
        event.stop()
        campaign = event.campaign
        if campaign is None:
            if event.opening:
                self.app.notify(f"Campaign {self.campaign_id} no longer exists.", severity="error")
                self.app.pop_screen()
            return
        if event.opening:
            # The counters are on the campaign row: the chart shows them at once; the reasons
            # and the time series (a scan of the failures) follow.
            overview = CampaignOverview(campaign, [], [], waiting=event.waiting)
            self._show_state(overview, partial=True)
            self._show_summary()
            self._load_state()
            return
        self._sending = campaign.sending
        progress = self.notify_app.live.send_progress.get(self.campaign_id)
        if progress is None:
            self.header.sharing(None, None)
        else:
            self.header.sharing(progress.sender, progress.sharing_with)
        self.header.show(campaign, waiting=event.waiting)
        self._offers_changed()
        if not self.notify_app.live.is_sending(self.campaign_id):
            # Done (or stopped): read everything once more, refusals and all.
            self._load_state()
            self._refresh_rows(statuses_moved=True)

    # Export

    def action_export(self) -> None:
        """Ask where to write the recipients shown (a file named after the campaign and the
        filter, in the downloads folder by default), then write them."""
        flt = self.filter
        shown = "the matching" if self.table.searching else count(self.table.row_count)
        what = Text(f"{shown} recipients of ") + safe_text(self.campaign_name or "the campaign")
        if not flt.is_everything:
            what.append(" (the filtered view)")
        name = export_file_name(self.campaign_name, flt, self.notify_app.clock().date())

        def chosen(path: Path | None) -> None:
            if path is not None:
                self._export(flt, path)

        self.app.push_screen(ExportDialog(what, free_path(user_folder() / name)), chosen)

    def _export(self, flt: RecipientFilter, path: Path) -> None:
        self.reads.export(flt, path)

    def on_recipients_exported(self, event: RecipientsExported) -> None:
        event.stop()
        self.app.notify(
            f"Exported {count(event.rows)} recipients to {plain(event.path)}",
            title="Export",
            timeout=10,
            markup=False,
        )

    def on_recipients_export_failed(self, event: RecipientsExportFailed) -> None:
        event.stop()
        self.app.notify(
            f"Could not write {plain(event.path)}: {plain(event.error)}. Nothing was exported; "
            "press e to choose another place.",
            title="Export failed",
            severity="error",
            timeout=15,
            markup=False,
        )

    # The text a recipient was sent

    def action_show_text(self) -> None:
        """Show the selected recipient's text: their own (a personal message) or the
        campaign's."""
        row = self.table.current_row
        if not isinstance(row, RecipientRow):
            return
        body = sent_body(row, self.campaign_text)
        who = plain(f"{row.name} ({format_for_humans(row.phone)})" if row.name else row.phone)
        self.app.notify(
            plain(body, limit=2000) if body else "Nothing: an invalid number is never sent.",
            title=f"Text to {who}",
            timeout=20,
            markup=False,
        )

    # Leaving

    def action_back(self) -> None:
        """Back to History."""
        self.app.pop_screen()
