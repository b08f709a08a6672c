"""Is this normal? The delivery rate of the last campaigns as a sparkline, and the rule that marks
a campaign far below the workspace's usual rate (History's header and its campaign names)."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from notify_tui.domain.alerts import (
    BELOW_USUAL_POINTS,
    HISTORY_MIN_CAMPAIGNS,
    RECENT_CAMPAIGNS,
    below_usual,
)
from notify_tui.store.campaigns import CampaignSummary
from notify_tui.ui.formatting import plural

RECENT = RECENT_CAMPAIGNS
"""The usual rate is the median of this many latest campaigns that count."""

BELOW_MARK = "▼"
"""Before the name of a campaign far below the usual rate."""

TREND_LEVELS = "▁▂▃▄▅▆▇█"


def delivery_rate(campaign: CampaignSummary) -> float | None:
    """The campaign's delivery rate (delivered of recipients, as History's ``%`` column), or
    ``None`` while it cannot say yet: still sending, or a quarter or more of its messages still
    waiting for a status (a young campaign is not a bad one); ``None`` for a follow-up too."""
    if campaign.sending or not campaign.recipients or campaign.followup_of is not None:
        return None  # a follow-up resends to failures: its rate is not the workspace's
    if campaign.unknown * 4 >= campaign.recipients:
        return None
    return 100.0 * campaign.delivered / campaign.recipients


def counted(recent: Sequence[CampaignSummary]) -> list[tuple[CampaignSummary, float]]:
    """The latest ``RECENT`` campaigns of ``recent`` (newest first) whose rate counts, with it."""
    rated = [(c, delivery_rate(c)) for c in recent]
    return [(c, rate) for c, rate in rated if rate is not None][:RECENT]


def usual_rates(recent: Sequence[CampaignSummary]) -> list[float]:
    """The delivery rates the usual one is the median of (newest first)."""
    return [rate for _, rate in counted(recent)]


def usual_rate(recent: Sequence[CampaignSummary]) -> float | None:
    """The workspace's usual delivery rate: the median of the latest campaigns that count
    (``None`` with fewer than ``HISTORY_MIN_CAMPAIGNS``)."""
    rates = usual_rates(recent)
    return median(rates) if len(rates) >= HISTORY_MIN_CAMPAIGNS else None


def far_below(campaign: CampaignSummary, rates: Sequence[float]) -> bool:
    """Whether ``campaign`` delivered more than ``BELOW_USUAL_POINTS`` under the median of
    ``rates`` (``usual_rates``): the rule of ``domain.alerts.below_usual``."""
    rate = delivery_rate(campaign)
    return rate is not None and below_usual(rate, rates)


def trend_bars(rates: Sequence[float]) -> str:
    """One bar per rate, from the floor (ten points under the lowest, by tens) to 100%: the
    differences that matter (80% against 60%) show, and a full bar is all delivered."""
    if not rates:
        return ""
    floor = max(0.0, (min(rates) - 10) // 10 * 10)
    span = 100.0 - floor or 1.0
    steps = len(TREND_LEVELS) - 1
    return "".join(
        TREND_LEVELS[max(0, min(steps, round((r - floor) * steps / span)))] for r in rates
    )


class DeliveryTrend(Widget):
    """One line: the delivery rate of the latest campaigns, oldest first, the usual rate, and
    how many of them are far below it (each marked ``BELOW_MARK``)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "delivery-trend--label",
        "delivery-trend--bars",
        "delivery-trend--below",
        "delivery-trend--muted",
    }

    DEFAULT_CSS = """
    DeliveryTrend {
        height: 1;
        padding: 0 1;
        & > .delivery-trend--label { text-style: bold; }
        & > .delivery-trend--bars { color: $text-accent; }
        & > .delivery-trend--below { color: $text-error; text-style: bold; }
        & > .delivery-trend--muted { color: $text-muted; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._recent: tuple[CampaignSummary, ...] = ()
        self._read = False

    @property
    def usual(self) -> float | None:
        """The usual delivery rate, as last shown."""
        return usual_rate(self._recent)

    def show(self, recent: Sequence[CampaignSummary]) -> None:
        """Show the trend of ``recent`` (the latest campaigns, newest first)."""
        recent = tuple(recent)
        if self._read and recent == self._recent:
            return
        self._recent = recent
        self._read = True
        self.refresh()

    def _component(self, name: str) -> Style:
        return self.get_component_rich_style(f"delivery-trend--{name}", partial=True)

    def render(self) -> Text:
        line = Text("Delivery rate ", style=self._component("label"))
        if not self._read:
            return line
        rated = counted(self._recent)
        if not rated:
            line.append(
                "shows once a campaign has been sent and resolved", self._component("muted")
            )
            return line
        usual = usual_rate(self._recent)
        rates = usual_rates(self._recent)
        oldest_first = list(reversed(rated))
        bars = trend_bars([rate for _, rate in oldest_first])
        for (campaign, _), bar in zip(oldest_first, bars, strict=True):
            line.append(bar, self._component("below" if far_below(campaign, rates) else "bars"))
        facts = [f"last {plural(len(rated), 'campaign')}"]
        if usual is not None:
            facts.append(f"usual {usual:.1f}%")
        line.append(" " + " · ".join(facts), self._component("muted"))
        below = sum(far_below(c, rates) for c, _ in rated)
        if below:
            line.append(" · ")
            line.append(
                f"{BELOW_MARK} {below} >{BELOW_USUAL_POINTS:.0f} points below",
                self._component("below"),
            )
        line.no_wrap = True
        line.overflow = "ellipsis"
        return line
