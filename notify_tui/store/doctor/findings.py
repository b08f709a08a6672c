"""What ``doctor`` finds: the kinds of problem, one problem, and an examination's report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notify_tui.store.doctor.storage import Salvage

__all__ = ["REPAIRABLE", "Check", "Examination", "Problem"]


class Check(StrEnum):
    """The kinds of problem the doctor knows."""

    SCHEMA = "schema"
    INTEGRITY = "integrity"
    COUNTERS = "counters"
    TALLIES = "tallies"
    BREAKDOWNS = "breakdowns"
    EXPIRED_LEASES = "expired leases"
    ORPHAN_LEASES = "orphan leases"
    ABANDONED_SEND = "abandoned send"
    ATTEMPTING = "attempting"
    NEVER_POLLED = "never polled"
    OPT_OUT_TRAIL = "opt-out trail"
    PROVIDER_FAULTS = "provider faults"
    PERMISSIONS = "permissions"
    SEARCH_INDEX = "search index"


REPAIRABLE = frozenset(
    {
        Check.COUNTERS,
        Check.TALLIES,
        Check.BREAKDOWNS,
        Check.EXPIRED_LEASES,
        Check.ORPHAN_LEASES,
        Check.ABANDONED_SEND,
        Check.NEVER_POLLED,
        Check.PERMISSIONS,
        Check.SEARCH_INDEX,
    }
)
"""What ``repair`` can fix from the rows alone."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong, in one line for the user."""

    check: Check
    text: str
    campaign_id: int | None = None
    ids: tuple[int, ...] = ()
    """The campaigns (or messages) concerned, for the repair."""

    @property
    def repairable(self) -> bool:
        """True when ``repair`` can fix it."""
        return self.check in REPAIRABLE


@dataclass
class Examination:
    """What ``examine`` found: problems, and notes on what is fine or merely in progress."""

    at: datetime
    backend: str
    schema_version: int | None
    problems: list[Problem] = field(default_factory=list)
    healthy: list[str] = field(default_factory=list)
    """One line per check that passed."""
    notes: list[str] = field(default_factory=list)
    """Things in progress that are not problems (live leases, campaigns being sent)."""
    damaged: bool = False
    """The SQLite file failed its integrity check, or a check could not read it: restore a
    backup (what can still be read is in ``salvaged``)."""
    salvaged: Salvage | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def of(self, check: Check) -> list[Problem]:
        """The problems of one kind."""
        return [p for p in self.problems if p.check is check]
