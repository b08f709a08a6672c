"""History's list of campaigns, newest first or in another order, over any number of
campaigns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType

from notify_tui.domain.campaign_sort import CampaignSort
from notify_tui.domain.status import CampaignState
from notify_tui.store.campaigns import CampaignSummary, campaign_page, count_campaigns
from notify_tui.store.insights import alerts_for
from notify_tui.store.suggestions import pending_counts
from notify_tui.store.waiting import Waiting, waiting_of
from notify_tui.ui.formatting import compact, count, local, money, percent, styled, when
from notify_tui.ui.text import safe_text
from notify_tui.ui.widgets.alert_banner import ALERT_MARK
from notify_tui.ui.widgets.delivery_trend import BELOW_MARK, RECENT, far_below, usual_rates
from notify_tui.ui.widgets.virtual_table import Column, VirtualTable

if TYPE_CHECKING:
    from notify_tui.services.sender import SendProgress

FOLLOWUP_MARK = "  ↳"
"""Before the name of a follow-up, shown under the campaign it follows up."""

SUGGESTION_MARK = "◆"
"""Before the name of a campaign with opt-out suggestions to review."""


SORT_MARK = "▾"
"""After the label of the column the campaigns are sorted by (as in Details)."""

SORTED_COLUMN = {
    CampaignSort.FAILURES: "failed",
    CampaignSort.DELIVERY: "delivered_pct",
    CampaignSort.NAME: "name",
}
"""The column each order sorts by (newest first and last activity first: none shown)."""


class CampaignSource:
    """The campaigns whose name contains ``query``, in the order ``sort``, with their pending
    opt-out suggestions (counted a chunk at a time, for the rows read)."""

    blocking = True
    """Read on worker threads only (see ``RowSource``)."""

    def __init__(
        self, query: str = "", archived: bool = False, sort: CampaignSort = CampaignSort.NEWEST
    ) -> None:
        self.query = query
        self.archived = archived
        """The archived campaigns (and only them) instead of those in use."""
        self.sort = sort
        """The order of the rows (a follow-up stays under its campaign in every one)."""
        self.total = 0
        """Every campaign, matching or not, as of the last count."""
        self.saw_sending = False
        """Whether a campaign still sending was among the rows read since the last count."""
        self.suggested: dict[int, int] = {}
        """Pending opt-out suggestions per campaign, as of the last time its row was read."""
        self.recent: list[CampaignSummary] = []
        """The latest campaigns, whatever the query, newest first: the workspace's usual."""
        self.rates: list[float] = []
        """The delivery rates the usual one is the median of, as of the last count."""
        self.waiting: dict[int, Waiting] = {}
        """What sending has left, per campaign not sent completely, as of its row's last read."""
        self.alerts: dict[int, int] = {}
        """Alerts per campaign, as of the last time its row was read."""
        self._alerts_of: dict[int, tuple[tuple[int, int, int], int]] = {}
        """Alerts counted per campaign with the counters they were counted at: read again only
        when the counters moved (a handful of queries per campaign)."""

    def count(self) -> int:
        self.saw_sending = False
        # Twice as many as the usual needs: drafts and campaigns still resolving do not count.
        self.recent = campaign_page("", 0, 2 * RECENT)
        self.rates = usual_rates(self.recent)
        shown = count_campaigns(self.query, self.archived)
        self.total = count_campaigns("", self.archived) if self.query.strip() else shown
        return shown

    def rows(self, offset: int, limit: int) -> Sequence[CampaignSummary]:
        page = campaign_page(self.query, offset, limit, archived=self.archived, sort=self.sort)
        self.saw_sending = self.saw_sending or any(c.sending for c in page)
        if page:
            counts = pending_counts([c.id for c in page])
            self.suggested.update({c.id: counts.get(c.id, 0) for c in page})
            self.waiting.update(waiting_of([c for c in page if c.sending]))
            self._count_alerts(page)
        return page

    def _count_alerts(self, page: Sequence[CampaignSummary]) -> None:
        """Count the alerts of the campaigns of ``page`` whose counters moved since, all in one
        ``alerts_for`` (a few queries per page: one campaign at a time was five queries each,
        2,600 statements to open History, 13 s on a database 5 ms away)."""
        moved = {c.id: (c.delivered, c.failed, c.unknown) for c in page if c.failed}
        stale = [
            cid
            for cid, counters in moved.items()
            if (known := self._alerts_of.get(cid)) is None or known[0] != counters
        ]
        if stale:
            found = alerts_for(stale)
            for cid in stale:
                self._alerts_of[cid] = (moved[cid], len(found.get(cid, [])))
        # Every alert is about failures: a campaign without any has none.
        self.alerts.update({c.id: self._alerts_of[c.id][1] if c.failed else 0 for c in page})


def money_cell(value: Decimal) -> str:
    """A cost in at most eight cells."""
    amount = abs(value)
    if amount >= 100_000:
        return f"${amount / 1000:,.0f}k"
    return money(amount)


def recipients_cell(
    campaign: CampaignSummary,
    progress: SendProgress | None = None,
    waiting: Waiting | None = None,
) -> str:
    """Recipients; while sending, how many of the messages to send are done, from this app's
    ``progress`` or from the store's ``waiting``: the same count as the percent beside it and
    Details' header (invalid numbers and opted-out ones are recipients, but never sent)."""
    if progress is not None and progress.total:
        return fraction(progress.submitted + progress.refused, progress.total)
    if not campaign.sending:
        return count(campaign.recipients)
    if waiting is not None:
        return fraction(waiting.sent, waiting.to_send)
    return fraction(campaign.submitted, campaign.recipients)


def fraction(done: int, total: int) -> str:
    """``25/40``, in at most ten cells."""
    text = f"{done:,}/{total:,}"
    if len(text) > 10:
        text = f"{compact(done)}/{compact(total)}"
    return text


class CampaignTable(VirtualTable[CampaignSummary]):
    """Campaigns with their counters; Enter opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "activate",
            "Details",
            id="history.view_details",
            tooltip="Open the selected campaign: its status chart and recipients",
        ),
    ]

    HELP_SECTION = "Campaigns"

    def row_key(self, row: CampaignSummary) -> object | None:
        # Live counters move a campaign in the sorted orders: the cursor stays on it.
        return row.id

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *VirtualTable.COMPONENT_CLASSES,
        "campaign-table--delivered",
        "campaign-table--failed",
        "campaign-table--unknown",
        "campaign-table--zero",
        "campaign-table--sending",
        "campaign-table--suggested",
        "campaign-table--below",
        "campaign-table--alert",
    }

    DEFAULT_CSS = """
    CampaignTable {
        & > .campaign-table--delivered { color: $text-success; }
        & > .campaign-table--failed { color: $text-error; }
        & > .campaign-table--unknown { color: $text-warning; }
        & > .campaign-table--zero { color: $text-muted; }
        & > .campaign-table--sending { color: $text-accent; text-style: italic; }
        & > .campaign-table--suggested { color: $text-warning; text-style: bold; }
        & > .campaign-table--below { color: $text-error; text-style: bold; }
        & > .campaign-table--alert { color: $text-warning; text-style: bold; }
    }
    """

    def __init__(
        self,
        *,
        now: Callable[[], datetime],
        tz: tzinfo | None,
        progress: Callable[[int], SendProgress | None] | None = None,
        sort: CampaignSort = CampaignSort.NEWEST,
        id: str | None = None,
    ) -> None:
        self._now = now
        self._tz = tz
        self._progress = progress or (lambda _: None)
        self._styles: dict[str, Style] = {}
        columns = self._sorted_columns(sort)
        super().__init__(
            columns,
            CampaignSource(sort=sort),
            placeholder="No campaigns to show.",
            id=id,
        )

    def _sorted_columns(self, sort: CampaignSort) -> list[Column[CampaignSummary]]:
        """The columns, the one the rows are sorted by marked (``Failed▾``), as Details' are."""
        marked = SORTED_COLUMN.get(sort)

        def label(key: str, text: str, gap: str = " ") -> str:
            return f"{text}{gap}{SORT_MARK}" if key == marked else text

        return [
            # The name takes the room the numbers do not need, up to what a name needs; below
            # 90 cells the recipients, below 110 the cost, and at 60 the percentage make room
            # for it (Details shows them all): the outcomes and the state always stay.
            Column(
                "name",
                label("name", "Campaign"),
                render=self._campaign_name,
                min_width=19,
                max_width=64,
                ratio=1,
            ),
            Column("sent", "Sent", render=self._sent, width=12),
            Column(
                "recipients",
                "Recipients",
                render=self._recipients,
                width=10,
                justify="right",
                hide_below=90,
            ),
            Column(
                "delivered",
                "Delivered",
                render=lambda c: self._counter(c.delivered, "delivered"),
                width=9,
                justify="right",
            ),
            Column(
                "delivered_pct",
                label("delivered_pct", "%"),
                render=lambda c: percent(c.delivered, c.recipients),
                width=6,
                justify="right",
                priority=1,
            ),
            Column(
                "failed",
                label("failed", "Failed", gap=""),  # in its 7 cells
                render=lambda c: self._counter(c.failed, "failed"),
                width=7,
                justify="right",
            ),
            Column(
                "unknown",
                "Unknown",
                render=lambda c: self._counter(c.unknown, "unknown"),
                width=7,
                justify="right",
            ),
            Column(
                "cost",
                "Cost",
                render=lambda c: money_cell(c.cost),
                width=8,
                justify="right",
                hide_below=110,
            ),
        ]

    def show_sort(self, sort: CampaignSort) -> None:
        """Mark the column of ``sort`` (its rows are read by the source)."""
        self.set_columns(self._sorted_columns(sort))

    @property
    def source(self) -> CampaignSource:
        """Where the rows come from."""
        assert isinstance(self._source, CampaignSource)
        return self._source

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _component(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self.get_component_rich_style(f"campaign-table--{name}", partial=True)
            self._styles[name] = style
        return style

    def _counter(self, value: int, status: str) -> Text:
        return styled(count(value), self._component(status if value else "zero"))

    def _campaign_name(self, campaign: CampaignSummary) -> Text:
        name = safe_text(campaign.name)
        if self.source.suggested.get(campaign.id):
            name = styled(f"{SUGGESTION_MARK} ", self._component("suggested")) + name
        if self.source.alerts.get(campaign.id):
            name = styled(f"{ALERT_MARK} ", self._component("alert")) + name
        if far_below(campaign, self.source.rates):
            name = styled(f"{BELOW_MARK} ", self._component("below")) + name
        if campaign.followup_of is not None:
            # Under the campaign it follows up (``campaign_page`` puts it there), indented.
            name = Text(f"{FOLLOWUP_MARK} ") + name
        return name

    def _sent(self, campaign: CampaignSummary) -> Text:
        progress = self._progress(campaign.id)
        if progress is not None and progress.total:
            done = (progress.submitted + progress.refused) * 100 // progress.total
            # Another campaign sends from the same number: they share its pace (Details says).
            doing = "sending" if progress.sharing_with is None else "shared"
            return styled(f"{doing} {done}%", self._component("sending"))
        if campaign.state == CampaignState.CANCELED:
            return styled("cancelled", self._component("zero"))
        if campaign.send_at is not None and (
            campaign.state == CampaignState.SCHEDULED or campaign.send_at > self._now()
        ):
            # Scheduled (by the provider, or waiting in the store): when it goes out.
            at = local(campaign.send_at, self._tz)
            return styled(f"→{at:%m-%d %H:%M}", self._component("sending"))
        if campaign.state == CampaignState.SCHEDULED:
            return styled("held", self._component("sending"))  # by quiet hours
        if campaign.state == CampaignState.SENDING:
            return styled("sending…", self._component("sending"))
        if campaign.state == CampaignState.INTERRUPTED:
            return styled("interrupted", self._component("sending"))
        if campaign.sent_at is None:
            return styled("not sent", self._component("zero"))
        return Text(when(campaign.sent_at, self._now(), self._tz))

    def _recipients(self, campaign: CampaignSummary) -> Text:
        style = self._component("sending") if campaign.sending else Style()
        progress = self._progress(campaign.id)
        return styled(
            recipients_cell(campaign, progress, self.source.waiting.get(campaign.id)), style
        )
