"""The app's own messages, named for what happened.

Workers post them instead of touching widgets; the screens and the app react. Poll results
coalesce: a cycle that arrives while an older one still waits in the queue replaces it, since
each carries the whole state the screen needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    # Annotations only: History's first frame must not wait for the services (httpx, the
    # provider) nor for the stores of the other screens.
    from datetime import datetime
    from pathlib import Path
    from typing import Any

    from textual.worker import Worker, WorkerState

    from notify_tui.domain.alerts import Alert
    from notify_tui.domain.insights import Dimension, Group
    from notify_tui.services.poller import PollCycle
    from notify_tui.services.sender import CampaignPlan, SendProgress, SendResult
    from notify_tui.store.campaigns import CampaignSummary
    from notify_tui.store.contacts import DeliveryRecord
    from notify_tui.store.followups import Recovery
    from notify_tui.store.insights import CampaignInsights
    from notify_tui.store.optouts import OptOutRecord
    from notify_tui.store.recipients import RecipientIndex, RecipientRow
    from notify_tui.store.suggestions import Suggestion
    from notify_tui.store.waiting import Waiting


# Navigation: screens say where the user goes; the app shows it (screens never import screens).


class CampaignOpened(Message):
    """The user opened a campaign: its Details."""

    def __init__(self, campaign_id: int) -> None:
        super().__init__()
        self.campaign_id = campaign_id


class ComposeOpened(Message):
    """The user wants to write a new campaign."""


class CampaignComposed(Message):
    """A new campaign was recorded from Compose (posted to the screen Compose came back to)."""

    def __init__(self, campaign_id: int) -> None:
        super().__init__()
        self.campaign_id = campaign_id


class ContactsOpened(Message):
    """The user wants the contacts."""


class OptOutsOpened(Message):
    """The user wants the opted-out numbers."""


class HistoryOpened(Message):
    """The first-run demo is over (or skipped): History replaces it."""


@dataclass(frozen=True)
class CampaignOverview:
    """What Details draws above the table, read in one go (off the UI thread when live)."""

    campaign: CampaignSummary
    reasons: list[tuple[str, int]]
    series: list[tuple[datetime, int, int]]
    suggested: int = 0
    """Pending opt-out suggestions from this campaign."""
    needs_review: int = 0
    """Recipients whose create's outcome a person must settle (``notify-tui review``, ``v``)."""
    insights: CampaignInsights | None = None
    """Its breakdowns and delivery times (``None``: not read with this state)."""
    waiting: Waiting | None = None
    """What sending and receipts have left (``None``: not read)."""
    alerts: tuple[Alert, ...] = ()
    """What is worth acting on (``store.insights.alerts``)."""
    recovery: Recovery | None = None
    """What its follow-ups achieved (``store.followups.recovered``)."""


class CampaignRead(Message):
    """A campaign's row was read (off the UI thread): ``None`` when it is gone."""

    def __init__(
        self, campaign: CampaignSummary | None, opening: bool, waiting: Waiting | None = None
    ) -> None:
        super().__init__()
        self.campaign = campaign
        self.opening = opening
        self.waiting = waiting
        """What sending has left, read with it."""
        """Read for a screen opening on it (not to follow its sending)."""


class CampaignOverviewLoaded(Message):
    """The reasons and the time series of a campaign were read (off the UI thread)."""

    def __init__(self, state: CampaignOverview) -> None:
        super().__init__()
        self.state = state


class GroupFound(Message):
    """The numbers of a breakdown's group were looked up (off the UI thread): the number
    profiles the table filters by."""

    def __init__(self, dimension: Dimension, group: Group, profiles: tuple[int, ...]) -> None:
        super().__init__()
        self.dimension = dimension
        self.group = group
        self.profiles = profiles


class StatusesResolved(Message):
    """A poll cycle ended: what it did and, when something changed, the fresh state."""

    def __init__(
        self, cycle: PollCycle, campaign_id: int | None, state: CampaignOverview | None = None
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


class WorkerEnded(Message):
    """A widget's worker succeeded or failed (worker messages do not bubble; this does, to the
    screen, which tells the app)."""

    def __init__(self, worker: Worker[Any], state: WorkerState) -> None:
        super().__init__()
        self.worker = worker
        self.state = state


class RecipientsFound(Message):
    """A search of a campaign's recipients was read off the UI thread: its index and first rows."""

    def __init__(
        self,
        view: int,
        index: RecipientIndex,
        pages: dict[int, list[RecipientRow]],
        keep_cursor: bool,
    ) -> None:
        super().__init__()
        self.view = view
        """Which of the table's requests this answers: only the latest is shown."""
        self.index = index
        self.pages = pages
        """Rows read along with the index, by offset: what the table shows first."""
        self.keep_cursor = keep_cursor
        """The same view read again after the data changed: the cursor stays."""


class RecipientsExported(Message):
    """The filtered recipients were written to a CSV file."""

    def __init__(self, path: Path, rows: int) -> None:
        super().__init__()
        self.path = path
        self.rows = rows


class RecipientsExportFailed(Message):
    """Writing the export failed (no room, no permission, the folder went away)."""

    def __init__(self, path: Path, error: str) -> None:
        super().__init__()
        self.path = path
        self.error = error


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


# Sending


@dataclass(frozen=True)
class AudienceSummary:
    """Where a campaign's recipients came from, for the summary before sending."""

    label: str
    """``all contacts`` or the file's path."""
    rows: int
    """Contacts read, or data lines of the file."""
    unusable: int = 0
    """Lines of the file with no number at all, or malformed: not recipients."""
    rejections: tuple[str, ...] = ()
    """The first rejected or invalid lines of the file, as plain text."""
    note: str | None = None
    """Something to know about the file (it was not UTF-8)."""


class AudienceCounted(Message):
    """The contacts a new campaign would go to were counted, and those opted out among them."""

    def __init__(self, contacts: int, opted_out: int) -> None:
        super().__init__()
        self.contacts = contacts
        self.opted_out = opted_out


class CampaignPlanned(Message):
    """The audience was read and the campaign planned: nothing is recorded yet."""

    def __init__(self, plan: CampaignPlan, audience: AudienceSummary) -> None:
        super().__init__()
        self.plan = plan
        self.audience = audience


class CampaignPlanFailed(Message):
    """The campaign cannot be planned as it is (no name, an unreadable file...)."""

    def __init__(self, error: str, field: str) -> None:
        super().__init__()
        self.error = error
        self.field = field
        """``name``, ``body``, ``audience`` or ``sender``: where the user should look."""


class CampaignRecorded(Message):
    """The campaign and every recipient were recorded, ready to send."""

    def __init__(self, campaign_id: int, name: str) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.name = name


class SendProgressed(Message):
    """A sender moved on; a newer event of the same campaign replaces a queued one."""

    def __init__(self, progress: SendProgress) -> None:
        super().__init__()
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        # Asked of the queued (older) event: the next one of the same campaign supersedes it,
        # unless this one is the last (``done``).
        return (
            isinstance(message, SendProgressed)
            and message.progress.campaign_id == self.progress.campaign_id
            and not self.progress.done
        )


class SendingEnded(Message):
    """A sender stopped: every message submitted, interrupted, or failed (``error`` says why)."""

    def __init__(
        self,
        campaign_id: int,
        name: str,
        result: SendResult | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.name = name
        self.result = result
        self.error = error


class CampaignTidied(Message):
    """A campaign was archived, restored or deleted (or that was refused: ``failed``)."""

    def __init__(self, said: str, failed: bool = False) -> None:
        super().__init__()
        self.said = said
        """What to tell the user (plain text, never markup)."""
        self.failed = failed


class ResumeChecked(Message):
    """What is left to send of a campaign the user asked to resume."""

    def __init__(self, campaign: CampaignSummary, remaining: int, waiting: Waiting) -> None:
        super().__init__()
        self.campaign = campaign
        self.remaining = remaining
        self.waiting = waiting
        """How far sending is, as the header and History count it."""


# Contacts and opt-outs


class DeliveryHistoryLoaded(Message):
    """A number's last status in each campaign was read."""

    def __init__(self, phone: str, records: list[DeliveryRecord]) -> None:
        super().__init__()
        self.phone = phone
        self.records = records


class OptOutsLoaded(Message):
    """The opted-out numbers matching a search and a source were counted, and the first read."""

    def __init__(
        self,
        search: str,
        source: str,
        counts: dict[str, int],
        first: list[OptOutRecord],
        keep_cursor: bool,
        total: int = 0,
    ) -> None:
        super().__init__()
        self.search = search
        self.source = source
        self.counts = counts
        """Matching numbers by source, every source's."""
        self.first = first
        self.keep_cursor = keep_cursor
        self.total = total
        """Every opted-out number, whatever the search and the source."""


class NumberOptedOut(Message):
    """A number was opted out (``changed`` is False when it already was)."""

    def __init__(self, phone: str, changed: bool) -> None:
        super().__init__()
        self.phone = phone
        self.changed = changed


class NumberOptedIn(Message):
    """A number was opted back in."""

    def __init__(self, phone: str) -> None:
        super().__init__()
        self.phone = phone


class NumberOptInRefused(Message):
    """A number cannot be opted back in by the app (the person replied STOP)."""

    def __init__(self, phone: str, explanation: str) -> None:
        super().__init__()
        self.phone = phone
        self.explanation = explanation


# Opt-out suggestions


class SuggestionsLoaded(Message):
    """A campaign's pending suggestions were read, with the names of the campaigns they cite."""

    def __init__(self, suggestions: list[Suggestion], campaign_names: dict[int, str]) -> None:
        super().__init__()
        self.suggestions = suggestions
        self.campaign_names = campaign_names


class SuggestionsDecided(Message):
    """Suggestions were accepted (numbers opted out) or dismissed."""

    def __init__(self, decided: int, opted_out: int, dismissed: int) -> None:
        super().__init__()
        self.decided = decided
        """Suggestions no longer pending."""
        self.opted_out = opted_out
        self.dismissed = dismissed
