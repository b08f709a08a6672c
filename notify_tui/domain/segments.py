"""How many SMS segments a body takes, and what it costs.

GSM-7 fits 160 characters in one segment and 153 per segment once split; the extension
characters count twice. Any character outside GSM-7 switches the whole message to UCS-2:
70 UTF-16 units in one segment, 67 per segment once split (an emoji is two units).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

MAX_BODY_CHARS = 1600
"""The provider refuses longer bodies (error 21617)."""

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """The encoding and size of one message body."""

    encoding: Encoding
    characters: int
    units: int
    """Septets for GSM-7 (extension characters count two), UTF-16 units for UCS-2."""
    segments: int
    ucs2_trigger: str | None = None
    """The first character that forced UCS-2, to show the user."""

    @property
    def too_long(self) -> bool:
        """Whether the provider would refuse the body for its length."""
        return self.characters > MAX_BODY_CHARS


def _pack(widths: list[int], single: int, multi: int) -> int:
    """Segments needed for characters of the given widths, never splitting one character."""
    total = sum(widths)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for width in widths:
        if used + width > multi:
            segments += 1
            used = 0
        used += width
    return segments


def count_segments(body: str) -> SegmentInfo:
    """Measure ``body`` as the provider will bill it."""
    trigger = next((ch for ch in body if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION), None)
    if trigger is None:
        widths = [2 if ch in GSM7_EXTENSION else 1 for ch in body]
        return SegmentInfo("GSM-7", len(body), sum(widths), _pack(widths, 160, 153))
    widths = [2 if ord(ch) > 0xFFFF else 1 for ch in body]
    return SegmentInfo("UCS-2", len(body), sum(widths), _pack(widths, 70, 67), trigger)


def estimate_cost(segments: int, price_per_segment: Decimal) -> Decimal:
    """The estimated cost of ``segments`` segments at ``price_per_segment`` (never negative)."""
    return abs(price_per_segment) * max(segments, 0)
