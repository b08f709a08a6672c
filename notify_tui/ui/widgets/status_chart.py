"""A campaign's status chart: a bar per status and a sparkline of resolutions over time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from notify_tui.domain.status import Status
from notify_tui.ui.formatting import count, local, percent

BAR_GLYPHS: dict[Status, str] = {
    Status.DELIVERED: "█",
    Status.FAILED: "▓",
    Status.UNKNOWN: "░",
}
"""A different glyph per status, so the bars read without colour."""

NOT_SENT_GLYPH = "·"
NO_RECEIPT_GLYPH = "▒"
NOT_SENT = "Not sent yet"
NO_RECEIPT = "No receipt"

SPARK_LEVELS = "▂▃▄▅▆▇█"
SPARK_ZERO = "▁"
LABEL_WIDTH = 13


@dataclass(frozen=True)
class ChartData:
    """What the chart shows."""

    delivered: int = 0
    failed: int = 0
    unknown: int = 0
    """Every Unknown message, ``not_sent`` and ``no_receipt`` included."""
    not_sent: int = 0
    """Of ``unknown``, the messages not submitted yet: they have no receipt to wait for."""
    no_receipt: int = 0
    """Of ``unknown``, those sent and past the carriers' window: they keep Unknown."""
    series: Sequence[tuple[datetime, int, int]] = ()
    """Resolutions per minute: (minute, delivered, failed), oldest first."""
    since: datetime | None = None
    """When sending started: the sparkline's left edge."""
    until: datetime | None = None
    """The sparkline's right edge."""
    until_now: bool = True
    """Whether ``until`` is now (the axis says "now") or the last resolution."""

    @property
    def total(self) -> int:
        """Every recipient counted by the chart."""
        return self.delivered + self.failed + self.unknown

    @property
    def awaiting_receipt(self) -> int:
        """Of ``unknown``, those sent and waiting for a delivery receipt: the Unknown bar."""
        return max(self.unknown - self.not_sent - self.no_receipt, 0)


def bucket_series(
    series: Sequence[tuple[datetime, int, int]],
    start: datetime,
    end: datetime,
    width: int,
) -> list[int]:
    """Resolutions summed into at most ``width`` equal spans of time from ``start`` to ``end``.

    One bucket per minute when there are fewer minutes than cells, so a young campaign's line
    grows from the left instead of being stretched.
    """
    if width <= 0:
        return []
    first = start.replace(second=0, microsecond=0)
    minutes = max(int((end - first) / timedelta(minutes=1)) + 1, 1)
    if series:
        minutes = max(minutes, int((series[-1][0] - first) / timedelta(minutes=1)) + 1)
    buckets = min(width, minutes)
    values = [0] * buckets
    for minute, delivered, failed in series:
        offset = int((minute - first) / timedelta(minutes=1))
        index = min(max(offset, 0) * buckets // minutes, buckets - 1)
        values[index] += delivered + failed
    return values


def sparkline(values: Sequence[int]) -> str:
    """Bars scaled from zero to the largest value; a zero is a flat line, anything else shows."""
    top = max(values, default=0)
    if not top:
        return SPARK_ZERO * len(values)
    steps = len(SPARK_LEVELS) - 1
    return "".join(
        SPARK_LEVELS[round(value * steps / top)] if value else SPARK_ZERO for value in values
    )


class StatusChart(Widget):
    """Delivered, Failed and Unknown as labelled bars with counts and percentages, and below them
    the resolutions over time since sending.

    Unknown is what is sent and waiting for a delivery receipt; the messages not sent yet and
    those past the receipt window get a bar of their own ("Not sent yet", "No receipt") when
    there are any, above the sparkline, which gives way to them on a short terminal.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-chart--delivered",
        "status-chart--failed",
        "status-chart--unknown",
        "status-chart--label",
        "status-chart--spark",
        "status-chart--axis",
    }

    DEFAULT_CSS = """
    StatusChart {
        height: 5;
        & > .status-chart--delivered { color: $success; }
        & > .status-chart--failed { color: $error; }
        & > .status-chart--unknown { color: $warning; }
        & > .status-chart--label { text-style: bold; }
        & > .status-chart--spark { color: $accent; }
        & > .status-chart--axis { color: $text-muted; }
    }
    """

    def __init__(
        self, *, tz: tzinfo | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._tz = tz
        self._data = ChartData()

    @property
    def data(self) -> ChartData:
        """What is shown."""
        return self._data

    def update(self, data: ChartData) -> None:
        """Show new counts and series."""
        if data != self._data:
            self._data = data
            self.refresh()

    def _component(self, name: str) -> Style:
        return self.get_component_rich_style(f"status-chart--{name}", partial=True)

    def render(self) -> Text:
        width = self.content_region.width or self.size.width
        data = self._data
        total = data.total
        unknown = self._component(Status.UNKNOWN.value)
        lines = [
            self._bar(
                Status.DELIVERED.label,
                BAR_GLYPHS[Status.DELIVERED],
                data.delivered,
                total,
                width,
                self._component(Status.DELIVERED.value),
            ),
            self._bar(
                Status.FAILED.label,
                BAR_GLYPHS[Status.FAILED],
                data.failed,
                total,
                width,
                self._component(Status.FAILED.value),
            ),
            self._bar(
                Status.UNKNOWN.label,
                BAR_GLYPHS[Status.UNKNOWN],
                data.awaiting_receipt,
                total,
                width,
                unknown,
            ),
        ]
        if data.not_sent:
            lines.append(self._bar(NOT_SENT, NOT_SENT_GLYPH, data.not_sent, total, width, unknown))
        if data.no_receipt:
            lines.append(
                self._bar(NO_RECEIPT, NO_RECEIPT_GLYPH, data.no_receipt, total, width, unknown)
            )
        lines.extend(self._spark(width))
        height = self.content_region.height or self.size.height
        if height:
            lines = lines[:height]  # the bars first: the sparkline gives way on a short terminal
        return Text("\n").join(lines)

    def _bar(
        self, label: str, glyph: str, value: int, total: int, width: int, style: Style
    ) -> Text:
        figures = f" {count(value):>7} {percent(value, total):>6}"
        room = max(width - LABEL_WIDTH - len(figures), 0)
        filled = round(room * value / total) if total else 0
        if value and not filled and room:
            filled = 1  # a status that happened never looks like none
        line = Text(f"{label:<{LABEL_WIDTH}}", style=self._component("label"))
        line.append(glyph * filled, style=style)
        line.append(" " * (room - filled))
        line.append(figures)
        line.truncate(width, overflow="crop")
        return line

    def _spark(self, width: int) -> list[Text]:
        data = self._data
        room = max(width - LABEL_WIDTH, 0)
        label = Text(f"{'Resolved':<{LABEL_WIDTH}}", style=self._component("label"))
        since = data.since or (data.series[0][0] if data.series else None)
        if since is None or data.until is None or not room:
            label.append("nothing yet", style=self._component("axis"))
            return [label, Text("")]
        end = max(data.until, since)
        values = bucket_series(data.series, since, end, room)
        label.append(sparkline(values), style=self._component("spark"))
        start_text = local(since, self._tz).strftime("%b %d %H:%M")
        end_text = "now" if data.until_now else local(end, self._tz).strftime("%b %d %H:%M")
        if local(end, self._tz).date() == local(since, self._tz).date():
            start_text = local(since, self._tz).strftime("%H:%M")
            if not data.until_now:
                end_text = local(end, self._tz).strftime("%H:%M")
        axis = Text(" " * LABEL_WIDTH, style=self._component("axis"))
        used = len(values)
        gap = max(used - len(start_text) - len(end_text), 1)
        axis.append(f"{start_text}{' ' * gap}{end_text}", style=self._component("axis"))
        axis.truncate(width, overflow="crop")
        label.truncate(width, overflow="crop")
        return [label, axis]
