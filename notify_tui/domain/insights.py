"""Breakdowns and delivery times of a campaign, as values: what the store answers with.

A breakdown splits a campaign's recipients by one ``Dimension`` into ``Group``s; delivery
times are counted into fixed buckets (``BUCKET_BOUNDS``) as messages resolve, and the
percentiles are read off those counts (``DeliveryTimes``). Nothing here touches the database.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Dimension(StrEnum):
    """What a breakdown groups recipients by."""

    REASON = "reason"
    """The Failed Message Reason (delivered and unknown messages form their own groups)."""
    COUNTRY = "country"
    """The number's region (ISO 3166 code), from phonenumbers."""
    CARRIER = "carrier"
    """The number's original carrier (ported numbers keep it), from phonenumbers."""
    LINE_TYPE = "line_type"
    """Mobile, fixed line, VoIP, toll-free, ... from phonenumbers."""

    @property
    def label(self) -> str:
        """The heading shown to the user."""
        return {
            Dimension.REASON: "Reason",
            Dimension.COUNTRY: "Country",
            Dimension.CARRIER: "Original carrier",
            Dimension.LINE_TYPE: "Line type",
        }[self]

    def next(self) -> Dimension:
        """The dimension after this one, in the order a key cycles through them."""
        order = list(Dimension)
        return order[(order.index(self) + 1) % len(order)]


BUCKET_BOUNDS: tuple[int, ...] = (
    *range(1, 10),
    10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 2700,
    3600, 5400, 7200, 10800, 14400, 21600, 28800, 43200, 86400, 172800, 259200,
)  # fmt: skip
"""Upper bounds (seconds, exclusive) of the delivery-time buckets. Bucket ``i`` holds times in
``[BUCKET_BOUNDS[i-1], BUCKET_BOUNDS[i])``; the last bucket (index ``len(BUCKET_BOUNDS)``)
holds everything from 72 h on. Percentiles are exact to within a bucket."""

HISTOGRAM_BOUNDS: tuple[int, ...] = (10, 30, 60, 300, 900, 3600, 21600)
"""The small histogram's bucket edges (seconds): <10 s, 10-30 s, 30 s-1 min, 1-5 min,
5-15 min, 15 min-1 h, 1-6 h, 6 h and more. Each is a union of ``BUCKET_BOUNDS`` buckets."""


def bucket_of(seconds: float) -> int:
    """The index of the delivery-time bucket for ``seconds`` (negative times count as 0)."""
    return bisect_right(BUCKET_BOUNDS, max(seconds, 0.0))


def _lower(bucket: int) -> int:
    return 0 if bucket == 0 else BUCKET_BOUNDS[bucket - 1]


def _upper(bucket: int) -> int:
    return BUCKET_BOUNDS[bucket] if bucket < len(BUCKET_BOUNDS) else BUCKET_BOUNDS[-1]


def percentile(buckets: Mapping[int, int], share: float) -> float | None:
    """The time (seconds) under which ``share`` (0..1) of the counted messages landed,
    interpolated within its bucket; ``None`` when nothing was counted."""
    total = sum(buckets.values())
    if total <= 0:
        return None
    rank = share * total
    seen = 0
    for bucket in sorted(buckets):
        n = buckets[bucket]
        if n <= 0:
            continue
        if seen + n >= rank:
            low, high = _lower(bucket), _upper(bucket)
            return low + (high - low) * max(rank - seen, 0) / n
        seen += n
    return float(_upper(max(buckets)))


@dataclass(frozen=True, slots=True)
class HistogramBar:
    """One bar of the delivery-time histogram: times in ``[low, high)`` seconds (``high``
    ``None``: no upper bound) and how many messages took them."""

    low: int
    high: int | None
    count: int

    @property
    def label(self) -> str:
        """E.g. ``10-30 s``, ``1-5 min``, ``6 h+``."""
        if self.high is None:
            return f"{_short(self.low)}+"
        if not self.low:
            return f"<{_short(self.high)}"
        return f"{_short(self.low)}-{_short(self.high)}"


def _short(seconds: int) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        value, suffix = seconds // 3600, " h"
    elif seconds >= 60 and seconds % 60 == 0:
        value, suffix = seconds // 60, " min"
    else:
        value, suffix = seconds, " s"
    return f"{value}{suffix}"


@dataclass(frozen=True, slots=True)
class DeliveryTimes:
    """How long delivered messages took, from the provider's send date to their final status.

    ``buckets``: counts by ``BUCKET_BOUNDS`` bucket index. Only messages with both provider
    dates are counted (``counted``)."""

    buckets: Mapping[int, int] = field(default_factory=dict)

    @property
    def counted(self) -> int:
        """How many delivered messages have a delivery time."""
        return sum(self.buckets.values())

    @property
    def p50(self) -> float | None:
        """Half of the messages landed within this many seconds."""
        return percentile(self.buckets, 0.50)

    @property
    def p90(self) -> float | None:
        """Nine in ten landed within this many seconds."""
        return percentile(self.buckets, 0.90)

    @property
    def p99(self) -> float | None:
        """99 in 100 landed within this many seconds."""
        return percentile(self.buckets, 0.99)

    def histogram(self) -> list[HistogramBar]:
        """The small histogram (``HISTOGRAM_BOUNDS``), every bar present, zeros included."""
        edges = (0, *HISTOGRAM_BOUNDS)
        counts = [0] * len(edges)
        for bucket, n in self.buckets.items():
            counts[bisect_right(HISTOGRAM_BOUNDS, _lower(bucket))] += n
        return [
            HistogramBar(low, edges[i + 1] if i + 1 < len(edges) else None, counts[i])
            for i, low in enumerate(edges)
        ]

    def merged(self, other: DeliveryTimes) -> DeliveryTimes:
        """These times and ``other``'s together."""
        merged = dict(self.buckets)
        for bucket, n in other.buckets.items():
            merged[bucket] = merged.get(bucket, 0) + n
        return DeliveryTimes(merged)


@dataclass(frozen=True, slots=True)
class Group:
    """One group of a breakdown: its recipients and how their messages ended.

    ``key`` is what the store filters by (a reason, an ISO region code, a carrier name, a
    ``LineType`` value; "" for none); ``label`` is what the user reads. ``cost`` is in whole
    millionths (``domain.money``). ``top_reason``: the most frequent Failed Message Reason in
    the group (``None`` when nothing failed), with ``top_reason_count`` messages."""

    key: str
    label: str
    recipients: int
    delivered: int
    failed: int
    unknown: int
    cost: int
    top_reason: str | None = None
    top_reason_count: int = 0
    delivery: DeliveryTimes = field(default_factory=DeliveryTimes)

    @property
    def delivered_pct(self) -> float:
        """Delivered, in percent of the group's recipients."""
        return 100.0 * self.delivered / self.recipients if self.recipients else 0.0

    @property
    def failed_pct(self) -> float:
        """Failed, in percent of the group's recipients."""
        return 100.0 * self.failed / self.recipients if self.recipients else 0.0


def slowest(groups: Sequence[Group], limit: int = 3, minimum: int = 20) -> list[Group]:
    """The groups whose messages took longest to land (by p90), among those with at least
    ``minimum`` delivery times counted (a handful of messages says little)."""
    timed = [g for g in groups if g.delivery.counted >= minimum]
    timed.sort(key=lambda g: (-(g.delivery.p90 or 0.0), g.key))
    return timed[:limit]
