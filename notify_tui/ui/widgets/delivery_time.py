"""How fast a campaign's messages landed, on one line: p50, p90, p99 from the provider's dates
and a small histogram; on a wide terminal, the slowest groups too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from notify_tui.domain.insights import DeliveryTimes, Group
from notify_tui.ui.formatting import count
from notify_tui.ui.text import safe_text

HISTOGRAM_LEVELS = "▁▂▃▄▅▆▇█"
LABEL = "Delivery time"


def short_duration(seconds: float) -> str:
    """``4.2s``, ``41s``, ``3m12s``, ``2h05m``, ``3.1d``: at most six cells."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 48 * 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{seconds / 86400:.1f}d"


def histogram_bars(counts: Sequence[int]) -> str:
    """One bar per count, scaled to the largest; an empty bucket is the lowest bar, and a
    bucket with anything in it is never drawn as empty."""
    top = max(counts, default=0)
    if not top:
        return HISTOGRAM_LEVELS[0] * len(counts)
    steps = len(HISTOGRAM_LEVELS) - 1
    return "".join(
        HISTOGRAM_LEVELS[max(1, round(n * steps / top))] if n else HISTOGRAM_LEVELS[0]
        for n in counts
    )


class DeliveryTimeLine(Widget):
    """``Delivery time p50 8.2s · p90 41s · p99 3m12s  <10s ▂█▅▂▁▁▁▁ 6h+`` and, where there is
    room, how many were timed and the slowest groups."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "delivery-time--label",
        "delivery-time--bars",
        "delivery-time--muted",
    }

    DEFAULT_CSS = """
    DeliveryTimeLine {
        height: 1;
        padding: 0 1;
        & > .delivery-time--label { text-style: bold; }
        & > .delivery-time--bars { color: $text-accent; }
        & > .delivery-time--muted { color: $text-muted; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._times: DeliveryTimes | None = None
        self._slowest: tuple[Group, ...] = ()

    @property
    def times(self) -> DeliveryTimes | None:
        """The delivery times shown (``None`` until read)."""
        return self._times

    def show(self, times: DeliveryTimes, slowest: Sequence[Group] = ()) -> None:
        """Show ``times``, and the ``slowest`` groups (of the breakdown shown)."""
        slowest = tuple(slowest)
        if times == self._times and slowest == self._slowest:
            return
        self._times = times
        self._slowest = slowest
        self.refresh()

    def _component(self, name: str) -> Style:
        return self.get_component_rich_style(f"delivery-time--{name}", partial=True)

    def render(self) -> Text:
        width = self.content_region.width or self.size.width
        line = Text(f"{LABEL}  ", style=self._component("label"))
        times = self._times
        if times is None:
            return line
        if not times.counted:
            line.append(
                "no delivered message with the provider's dates yet", self._component("muted")
            )
            return line
        line.append(
            " · ".join(
                f"{name} {short_duration(value)}"
                for name, value in (("p50", times.p50), ("p90", times.p90), ("p99", times.p99))
                if value is not None
            )
        )
        bars = times.histogram()
        histogram = Text("  ")
        first, last = Text(f"{bars[0].label} "), Text(f" {bars[-1].label}")
        drawn = Text(histogram_bars([bar.count for bar in bars]), self._component("bars"))
        if line.cell_len + 2 + len(bars) + first.cell_len + last.cell_len > width:
            first, last = Text(""), Text("")  # narrow: the bars without their range
        histogram.append_text(first.copy())
        histogram.stylize(self._component("muted"))
        histogram.append_text(drawn)
        histogram.append_text(Text(last.plain, style=self._component("muted")))
        line.append_text(histogram)
        muted = self._component("muted")
        # What fits whole, in order of use: how many were timed, then the slowest groups.
        extras = [Text(f" · {count(times.counted)} timed", style=muted)]
        if self._slowest:
            slow = Text(" · slowest p90 ", style=muted)
            slow.append_text(
                Text(", ").join(
                    safe_text(group.label) + Text(f" {short_duration(group.delivery.p90 or 0)}")
                    for group in self._slowest
                )
            )
            extras.append(slow)
        for extra in extras:
            if line.cell_len + extra.cell_len > width:
                break
            line.append_text(extra)
        line.no_wrap = True
        line.overflow = "ellipsis"
        return line
