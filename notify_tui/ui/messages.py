"""The app's own messages, named for what happened.

Workers post them instead of touching widgets; the screens and the app react. Poll results
coalesce: a cycle that arrives while an older one still waits in the queue replaces it, since
each carries the whole state the screen needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from textual.message import Message

from notify_tui.services.poller import PollCycle
from notify_tui.store.campaigns import CampaignSummary


@dataclass(frozen=True)
class CampaignState:
    """What Details draws above the table, read in one go (off the UI thread when live)."""

    campaign: CampaignSummary
    reasons: list[tuple[str, int]]
    series: list[tuple[datetime, int, int]]


class CampaignStateLoaded(Message):
    """The reasons and the time series of a campaign were read (off the UI thread)."""

    def __init__(self, state: CampaignState) -> None:
        super().__init__()
        self.state = state


class PollStarted(Message):
    """A poll cycle began (the header shows a quiet activity mark)."""

    def __init__(self, campaign_id: int | None) -> None:
        super().__init__()
        self.campaign_id = campaign_id


class StatusesResolved(Message):
    """A poll cycle ended: what it did and, when something changed, the fresh state."""

    def __init__(
        self, cycle: PollCycle, campaign_id: int | None, state: CampaignState | None = None
    ) -> None:
        super().__init__()
        self.cycle = cycle
        self.campaign_id = campaign_id
        """The campaign polled, or ``None`` for all of them."""
        self.state = state

    @property
    def changed(self) -> bool:
        """True when any row or counter moved in this cycle."""
        return bool(self.cycle.applied.campaigns)

    def can_replace(self, message: Message) -> bool:
        # Textual asks the queued (older) message whether the next one supersedes it. A newer
        # cycle does, unless only the older one carries fresh state or changes to draw.
        if not isinstance(message, StatusesResolved) or message.campaign_id != self.campaign_id:
            return False
        if message.state is not None:
            return True
        return self.state is None and (message.changed or not self.changed)


class PollFailed(Message):
    """A poll cycle failed outright (not provider trouble: that is in the cycle)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class RecipientOptedOut(Message):
    """A recipient's number was opted out from Details."""

    def __init__(self, message_id: int, phone: str, changed: bool) -> None:
        super().__init__()
        self.message_id = message_id
        self.phone = phone
        self.changed = changed
        """False when the number already was opted out."""


class RecipientOptedIn(Message):
    """A recipient's number was opted back in from Details."""

    def __init__(self, message_id: int, phone: str) -> None:
        super().__init__()
        self.message_id = message_id
        self.phone = phone


class OptInWasRefused(Message):
    """The number cannot be opted back in by the app (the person replied STOP)."""

    def __init__(self, message_id: int, explanation: str) -> None:
        super().__init__()
        self.message_id = message_id
        self.explanation = explanation


class RecipientsExported(Message):
    """The filtered recipients were written to a CSV file."""

    def __init__(self, path: Path, rows: int) -> None:
        super().__init__()
        self.path = path
        self.rows = rows


class DemoProgressed(Message):
    """The first-run demo moved on."""

    def __init__(self, stage: str, done: int, total: int) -> None:
        super().__init__()
        self.stage = stage
        self.done = done
        self.total = total


class DemoBuilt(Message):
    """The first-run demo is ready (or could not be built: ``error`` says why)."""

    def __init__(self, error: str | None = None) -> None:
        super().__init__()
        self.error = error
