"""Faults the sandbox can inject, to see the client and the services cope.

Set them when building the app, or at run time with ``POST /_sandbox/faults`` and a JSON object
of the fields to change (``GET`` answers the current ones). Rates are shares of requests
between 0 and 1; draws come from the app's seeded random generator, so a run with a seed and
the same sequence of requests injects the same faults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace

import httpx

__all__ = ["ConnectionDropped", "Faults"]

MAX_LATENCY = 60.0
MAX_CALLBACK_DELAY = 3600.0


@dataclass(frozen=True, slots=True)
class Faults:
    """What goes wrong, and how often."""

    latency: float = 0.0
    """Seconds added before every API answer (also while holding a concurrency slot)."""
    error_rate: float = 0.0
    """Share of API requests answered 500 (code 20500) without doing anything."""
    drop_rate: float = 0.0
    """Share of API requests whose connection is dropped without an answer, nothing done."""
    lost_answer_rate: float = 0.0
    """Share of creates that DO create the message, then drop the connection."""
    lost_rate: float = 0.0
    """Share of new messages the provider loses: fetch answers 404 and lists leave them out."""
    callback_drop_rate: float = 0.0
    """Share of status callbacks never sent."""
    callback_duplicate_rate: float = 0.0
    """Share of status callbacks sent twice."""
    callback_delay_rate: float = 0.0
    """Share of status callbacks held back by up to ``callback_delay`` seconds (over speed)."""
    callback_delay: float = 0.0
    """The longest hold of a delayed callback, in seconds before dividing by the speed."""
    callback_reorder_rate: float = 0.0
    """Share of status changes whose callback goes out after the next one's."""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{item.name} must be a number")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{item.name} must be a finite number, at least 0")
            if item.name == "latency" and value > MAX_LATENCY:
                raise ValueError(f"latency must be at most {MAX_LATENCY:g} seconds")
            if item.name == "callback_delay" and value > MAX_CALLBACK_DELAY:
                raise ValueError(f"callback_delay must be at most {MAX_CALLBACK_DELAY:g} seconds")
            if item.name.endswith("_rate") and value > 1:
                raise ValueError(f"{item.name} must be between 0 and 1")

    def updated(self, changes: Mapping[str, object]) -> Faults:
        """These faults with ``changes`` applied; ``ValueError`` for unknown keys or values."""
        known = {item.name for item in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}")
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, float]:
        """The faults as a JSON object."""
        return asdict(self)


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised by the sandbox app to drop the connection without an answer.

    In process, the ASGI transport lets it through, so the client sees a transport failure as
    it would from a network; over HTTP the sandbox server closes the socket instead.
    """

    def __init__(self) -> None:
        super().__init__("the sandbox dropped the connection without answering")
