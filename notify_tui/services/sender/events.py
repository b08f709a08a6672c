"""What a run tells as it goes (``SendProgress``) and how it ended (``SendResult``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from notify_tui.domain.status import CampaignState
from notify_tui.store.updates import AppliedUpdates


@dataclass(frozen=True, slots=True)
class SendProgress:
    """How far a campaign's sending is: the event the UI and the CLI render."""

    campaign_id: int
    submitted: int
    """Accepted by the provider (including before a resume)."""
    refused: int
    """Refused by the provider at create (recorded as Failed)."""
    total: int
    """Messages to submit in all: submitted + refused + still to go."""
    rate: float
    """Messages per second over the last few seconds."""
    skipped_opted_out: int = 0
    """Skipped in this run because the number opted out after the campaign was prepared."""
    retrying: int = 0
    """Waiting to be retried after the provider was busy or unreachable."""
    looked_up: int = 0
    """Creates of unknown outcome looked up in the provider's records in this run."""
    done: bool = False
    trouble: str | None = None
    """What the provider last failed with, while it keeps failing (``None`` once it answers)."""
    faults: int = 0
    """Provider answers rejected in this run (``domain.faults``): recorded, never applied."""
    sender: str | None = None
    """The From number or Messaging Service SID this campaign sends from."""
    sharing_with: int | None = None
    """Another campaign sending from the same sender, whose turns this one waits behind: they
    share its pace (``None`` when this campaign has the sender to itself)."""

    @property
    def remaining(self) -> int:
        """Messages not yet submitted or refused."""
        return max(0, self.total - self.submitted - self.refused)


@dataclass(frozen=True, slots=True)
class SendResult:
    """How a run ended."""

    campaign_id: int
    state: CampaignState
    """``SENT`` when every message was submitted or refused; ``INTERRUPTED`` otherwise."""
    submitted: int
    refused: int
    total: int
    skipped_opted_out: int
    linked: int
    """Creates of unknown outcome found in the provider's records (not resent)."""
    resent: int
    """Creates of unknown outcome not found, and sent again."""
    remaining: int
    """Messages left pending or attempting, for ``resume_campaign``."""
    elapsed: float
    faults: dict[str, int] = field(default_factory=dict)
    """Provider answers rejected in this run, by kind (``domain.faults.FaultKind``)."""
    latest_fault: str | None = None
    """The last of them, in one line."""

    @property
    def fault_count(self) -> int:
        """How many provider answers this run rejected."""
        return sum(self.faults.values())

    needs_review: int = 0
    """Messages of the campaign whose create's outcome a person must decide (``review``)."""
    held: int = 0
    """Recipients held by quiet hours (still pending, each with its ``held_until``)."""
    wake_at: datetime | None = None
    """Naive UTC: when a campaign left ``scheduled`` in the store is started again."""
    send_at: datetime | None = None
    """Naive UTC: the campaign's own time, if it has one."""


ProgressCallback = Callable[[SendProgress], object]
ResolutionHook = Callable[[AppliedUpdates], Awaitable[None]]
"""Called with what each write resolved (refusals, creates found already final): the hook the
opt-out policy takes, as with the poller's ``on_applied``."""
