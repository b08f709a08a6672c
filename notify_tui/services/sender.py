"""Sending a campaign: plan it, record every recipient, submit at the configured rate, resume.

Every recipient is recorded before anything is submitted (``prepare_campaign``). Just before a
create is sent its message is marked ``attempting`` with the time, so a crash at any moment leaves
a record of every create that may have reached the provider. A create whose outcome is unknown
(a timeout, a dropped connection, a 5xx) is never resent blindly: the provider's records are
listed by ``To`` around the attempt, and only when no unclaimed message with the same body is
there is the message sent again. ``resume_campaign`` does the same for every message a crash
left ``attempting``, then carries on with the pending ones.

The store is synchronous (peewee): its calls run on one worker thread, a batch at a time, so the
event loop (the TUI's) stays responsive and one sender never contends with itself for SQLite's
write lock. Only one process sends a campaign at a time (``store.sending.try_lock_campaign``).

Events: ``on_progress`` receives a ``SendProgress`` a few times a second and once at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Protocol, TypeVar

from notify_tui.domain.phone import DEFAULT_REGION, normalize
from notify_tui.domain.polling import next_poll_delay
from notify_tui.domain.segments import SegmentInfo, count_segments, estimate_cost
from notify_tui.domain.status import Status, classify_create_refusal
from notify_tui.provider import (
    AuthenticationError,
    CreateOutcomeUnknownError,
    NotFoundError,
    ProviderError,
    ProviderMessage,
    RateLimitedError,
    RefusedError,
    TransportError,
    TwilioClient,
)
from notify_tui.store import sending
from notify_tui.store.campaigns import CampaignSummary, create_campaign, get_campaign, set_state
from notify_tui.store.models import database, utcnow
from notify_tui.store.optouts import SOURCE_PROVIDER, opt_out, opted_out_phones
from notify_tui.store.sending import AddedRecipients, NewRecipient, add_recipients
from notify_tui.store.updates import AppliedUpdates, StatusUpdate, apply_updates

__all__ = [
    "CampaignPlan",
    "PreparedCampaign",
    "RecipientLike",
    "SendError",
    "SendProgress",
    "SendResult",
    "plan_campaign",
    "prepare_campaign",
    "record_campaign",
    "resume_campaign",
    "send_campaign",
]

DEFAULT_CONCURRENCY = 16
"""Creates in flight at once: well under the provider's concurrency limit (the sandbox's 100)."""

STOP_CODE = 21610
STOP_REASON = "replied STOP (21610)"

LOOKUP_SKEW = timedelta(minutes=5)
"""How far the provider's clock may be behind ours when matching a message to an attempt."""

LOOKUP_MAX_PAGES = 10
"""Pages of one number's messages read, at most, to find one create."""

SETTLE = 2.0
"""Seconds after an ambiguous create before the provider's records are looked at."""

LOOKUP_TRIES = 4
"""Lookups that fail (provider trouble) before a message is left ``attempting`` for a resume."""

RETRY_BASE = 1.0
RETRY_CAP = 30.0
MAX_TRIES = 8
"""Creates that certainly made nothing (429, connection refused) are retried this many times in
one run, with backoff; then the message stays pending for a resume."""

PROGRESS_INTERVAL = 0.25
"""Seconds between progress events (a few per second)."""

TROUBLE_QUIET = 10.0
"""Seconds of good answers after provider trouble before the trouble is reported over."""

FLUSH_INTERVAL = 0.05
FLUSH_MAX = 1000
"""Outcomes are written every ``FLUSH_INTERVAL`` seconds, or as soon as this many wait."""

FEED_BATCH = 200
"""Messages claimed per transaction when sending as fast as possible. At most twice this many
are claimed ahead of the creates: after a crash, each of them costs a lookup."""

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
T = TypeVar("T")


class SendError(Exception):
    """A campaign cannot be planned or sent; the message says why, in one line."""


class RecipientLike(Protocol):
    """Anything with a phone, a name and, for a number that failed validation, why."""

    @property
    def phone(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def invalid_reason(self) -> str | None: ...


# -- planning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignPlan:
    """What sending a campaign would do, before anything is recorded."""

    name: str
    body: str
    sender: str | None
    messaging_service_sid: str | None
    price_per_segment: Decimal
    recipients: list[NewRecipient] = field(repr=False)
    """Unique by number: valid ones first seen, and invalid ones (recorded, never sent)."""
    to_send: int
    skipped_opted_out: int
    invalid: int
    duplicates: int
    segment_info: SegmentInfo

    @property
    def segments(self) -> int:
        """Segments per message."""
        return self.segment_info.segments

    @property
    def encoding(self) -> str:
        """``GSM-7`` or ``UCS-2``."""
        return self.segment_info.encoding

    @property
    def estimated_cost(self) -> Decimal:
        """What the messages to send are estimated to cost."""
        return estimate_cost(self.segments * self.to_send, self.price_per_segment)

    @property
    def money_saved(self) -> Decimal:
        """The estimated cost of the messages not sent to opted-out numbers."""
        return estimate_cost(self.segments * self.skipped_opted_out, self.price_per_segment)

    def summary_lines(self) -> list[str]:
        """The plan as a few lines of plain text, for a confirmation prompt."""
        info = self.segment_info
        trigger = f" (because of {info.ucs2_trigger!r})" if info.ucs2_trigger else ""
        lines = [
            f"Campaign: {self.name}",
            f"Message: {info.characters} characters, {info.encoding}{trigger}, "
            f"{info.segments} segment{'s' if info.segments != 1 else ''} per message",
            f"Recipients: {self.to_send:,} to send, {self.skipped_opted_out:,} skipped (opted "
            f"out), {self.invalid:,} invalid (recorded as Failed, not sent), "
            f"{self.duplicates:,} duplicates",
            f"Estimated cost: ${self.estimated_cost:.4f} ({self.segments * self.to_send:,} "
            f"segments at ${self.price_per_segment})",
        ]
        if self.skipped_opted_out:
            lines.append(f"Saved by skipping opted-out numbers: ${self.money_saved:.4f}")
        return lines


@dataclass(frozen=True)
class PreparedCampaign:
    """A campaign recorded with all its recipients, ready to send."""

    campaign_id: int
    plan: CampaignPlan
    added: AddedRecipients
    """What was recorded (opt-outs may have changed since the plan)."""


def plan_campaign(
    name: str,
    body: str,
    recipients: Iterable[RecipientLike],
    *,
    sender: str | None = None,
    messaging_service_sid: str | None = None,
    price_per_segment: Decimal = Decimal(0),
    region: str = DEFAULT_REGION,
) -> CampaignPlan:
    """Count what a campaign would send, skip and cost; nothing is recorded.

    Numbers not in E.164 are normalised with ``region``. Raises ``SendError`` for an empty name
    or body, a body the provider would refuse for its length, or no sender.
    """
    name = name.strip()
    if not name:
        raise SendError("the campaign needs a name")
    if not body.strip():
        raise SendError("the message is empty")
    info = count_segments(body)
    if info.too_long:
        raise SendError(
            f"the message has {info.characters:,} characters: the provider refuses more than 1,600"
        )
    if not sender and not messaging_service_sid:
        raise SendError("no sender: set from_number (NOTIFY_FROM) or messaging_service_sid")
    seen: set[str] = set()
    unique: list[NewRecipient] = []
    duplicates = invalid = 0
    for recipient in recipients:
        phone, reason = recipient.phone, recipient.invalid_reason
        if reason is None and not _E164.match(phone):
            result = normalize(phone, region)
            phone, reason = (result.e164, None) if result.e164 else (phone, result.error)
        if phone in seen:
            duplicates += 1
            continue
        seen.add(phone)
        if reason is not None:
            invalid += 1
        unique.append(NewRecipient(phone, recipient.name or "", reason))
    opted = opted_out_phones(r.phone for r in unique if r.invalid_reason is None)
    return CampaignPlan(
        name=name,
        body=body,
        sender=sender,
        messaging_service_sid=messaging_service_sid,
        price_per_segment=abs(price_per_segment),
        recipients=unique,
        to_send=len(unique) - invalid - len(opted),
        skipped_opted_out=len(opted),
        invalid=invalid,
        duplicates=duplicates,
        segment_info=info,
    )


def record_campaign(plan: CampaignPlan) -> PreparedCampaign:
    """Record the campaign and every recipient (invalid ones as Failed), ready to send."""
    with database.atomic():
        campaign_id = create_campaign(
            plan.name,
            plan.body,
            sender=plan.sender,
            messaging_service_sid=plan.messaging_service_sid,
            segments=plan.segments,
            price_per_segment=plan.price_per_segment,
            state="draft",
        )
        added = add_recipients(campaign_id, plan.recipients)
    return PreparedCampaign(campaign_id, plan, added)


def prepare_campaign(
    name: str,
    body: str,
    recipients: Iterable[RecipientLike],
    *,
    sender: str | None = None,
    messaging_service_sid: str | None = None,
    price_per_segment: Decimal = Decimal(0),
    region: str = DEFAULT_REGION,
) -> PreparedCampaign:
    """Plan a campaign and record it with all its recipients (``plan_campaign`` then
    ``record_campaign``); nothing is submitted."""
    plan = plan_campaign(
        name,
        body,
        recipients,
        sender=sender,
        messaging_service_sid=messaging_service_sid,
        price_per_segment=price_per_segment,
        region=region,
    )
    return record_campaign(plan)


# -- events -----------------------------------------------------------------------------------


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

    @property
    def remaining(self) -> int:
        """Messages not yet submitted or refused."""
        return max(0, self.total - self.submitted - self.refused)


@dataclass(frozen=True, slots=True)
class SendResult:
    """How a run ended."""

    campaign_id: int
    state: str
    """``sent`` when every message was submitted or refused; ``interrupted`` otherwise."""
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


ProgressCallback = Callable[[SendProgress], object]
ResolutionHook = Callable[[AppliedUpdates], Awaitable[None]]
"""Called with what each write resolved (refusals, creates found already final): the hook the
opt-out policy takes, as with the poller's ``on_applied``."""


# -- the run ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Work:
    message_id: int
    phone: str
    attempted_at: datetime | None = None
    """Aware UTC: when the first create that may have reached the provider began."""
    last_try_at: datetime | None = None
    tries: int = 0
    ambiguous: bool = False
    """The create may have reached the provider: look it up before anything else."""


@dataclass(slots=True)
class _Outcome:
    work: _Work
    update: StatusUpdate | None = None
    submitted_row: sending.Submitted | None = None
    submitted: bool = False
    refused: bool = False
    stop: bool = False
    retry_after: float | None = None
    """Put back to pending and try again after this many seconds."""
    resent: bool = False
    linked: bool = False
    unresolved: bool = False


class _DatabaseThread:
    """Runs store calls on one thread, in order, so the event loop never blocks on them."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify-sender-db")

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args, **kwargs))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.call(_close_connection)
        self._executor.shutdown(wait=False)


def _close_connection() -> None:
    if not database.is_closed():
        database.close()


class _Pacer:
    """Spaces creates ``1 / rate`` seconds apart (no burst), or lets them all through."""

    def __init__(self, rate: float | None, clock: Clock, sleep: Sleep) -> None:
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise SendError("the send rate must be a positive number of messages per second")
        self._interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = clock()

    async def acquire(self) -> None:
        now = self._clock()
        slot = max(self._next, now)
        self._next = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (the provider said it is busy)."""
        self._next = max(self._next, self._clock() + seconds)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _naive(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


class _CampaignSender:
    """One run of one campaign: a feeder, ``concurrency`` workers and a writer."""

    def __init__(
        self,
        client: TwilioClient,
        campaign_id: int,
        *,
        rate: float | None,
        concurrency: int,
        on_progress: ProgressCallback | None,
        on_applied: ResolutionHook | None,
        clock: Clock,
        sleep: Sleep,
        settle: float,
        retry_base: float,
        actor: str,
    ) -> None:
        if concurrency < 1:
            raise SendError("concurrency must be at least 1")
        self.client = client
        self.id = campaign_id
        self.campaign: CampaignSummary | None = None
        self.concurrency = concurrency
        self.on_progress = on_progress
        self.on_applied = on_applied
        self.clock = clock
        self.sleep = sleep
        self.settle = settle
        self.retry_base = retry_base
        self.actor = actor
        self.pacer = _Pacer(rate, clock, sleep)
        # Claim no further ahead than about half a second of sending.
        self.feed_batch = FEED_BATCH if rate is None else max(1, min(FEED_BATCH, int(rate / 4)))
        self.db = _DatabaseThread()
        self.queue: asyncio.Queue[_Work | None] = asyncio.Queue(maxsize=self.feed_batch)
        self.retries: list[tuple[float, int, _Work]] = []
        self.retry_seq = 0
        self.wakeup = asyncio.Event()
        """Set by the writer after each flush: the feeder may have retries or be done."""
        self.flush_now = asyncio.Event()
        self.outcomes: list[_Outcome] = []
        self.outstanding = 0
        """Works claimed (or being looked up) whose final outcome is not written yet."""
        self.feeding_done = False
        self.unsent: list[int] = []
        """Claimed, then cancelled before their create was sent."""
        self.fatal: ProviderError | None = None
        self.submitted = 0
        self.refused = 0
        self.total = 0
        self.skipped = 0
        self.linked = 0
        self.resent = 0
        self.looked_up = 0
        self.unresolved = 0
        self.given_up = 0
        self.trouble: str | None = None
        self.trouble_at = -math.inf
        self.started = clock()
        self.samples: deque[tuple[float, int]] = deque()
        self.last_event = -math.inf

    # ---------------------------------------------------------------- events

    def _progress(self, *, force: bool = False, done: bool = False) -> None:
        if self.on_progress is None:
            return
        now = self.clock()
        if not force and now - self.last_event < PROGRESS_INTERVAL:
            return
        self.last_event = now
        finished = self.submitted + self.refused
        self.samples.append((now, finished))
        while len(self.samples) > 2 and now - self.samples[0][0] > 3.0:
            self.samples.popleft()
        first_at, first_count = self.samples[0]
        rate = (finished - first_count) / (now - first_at) if now > first_at else 0.0
        self.on_progress(
            SendProgress(
                campaign_id=self.id,
                submitted=self.submitted,
                refused=self.refused,
                total=self.total,
                rate=rate,
                skipped_opted_out=self.skipped,
                retrying=len(self.retries),
                looked_up=self.looked_up,
                done=done,
                trouble=self.trouble,
            )
        )

    def _note_trouble(self, error: BaseException | None) -> None:
        """Remember provider trouble (its first error), or its end once the provider has answered
        well for ``TROUBLE_QUIET`` seconds; an event tells each change, not each failure."""
        now = self.clock()
        if error is not None:
            self.trouble_at = now
            if self.trouble is None:
                self.trouble = str(error)
                self._progress(force=True)
        elif self.trouble is not None and now - self.trouble_at >= TROUBLE_QUIET:
            self.trouble = None
            self._progress(force=True)

    # ---------------------------------------------------------------- the run

    async def run(self) -> SendResult:
        try:
            campaign = await self.db.call(get_campaign, self.id)
            if campaign is None:
                raise SendError(f"no campaign {self.id}")
            if not campaign.sender and not campaign.messaging_service_sid:
                raise SendError(f"campaign {self.id} has no sender")
            self.campaign = campaign
            if not await self.db.call(sending.try_lock_campaign, self.id):
                raise SendError(f"campaign {self.id} is being sent by another process")
        except BaseException:
            await self.db.close()
            raise
        state = campaign.state
        # The state to leave the campaign in, once this run has marked it ``sending``.
        moved: str | None = None
        try:
            counts = await self.db.call(sending.send_state_counts, self.id)
            self.submitted = counts.get("submitted", 0)
            self.refused = counts.get("refused", 0)
            remaining = counts.get("pending", 0) + counts.get("attempting", 0)
            self.total = self.submitted + self.refused + remaining
            if remaining or campaign.state != "sent":
                await self.db.call(set_state, self.id, "sending")
                moved = "interrupted"
                self._progress(force=True)
                await self._run_tasks()
                counts = await self.db.call(sending.send_state_counts, self.id)
                remaining = counts.get("pending", 0) + counts.get("attempting", 0)
                moved = state = "sent" if remaining == 0 else "interrupted"
        finally:
            await asyncio.shield(self._finish(moved))
        if state == "sent":
            self.trouble = None
        self._progress(force=True, done=True)
        return SendResult(
            campaign_id=self.id,
            state=state,
            submitted=self.submitted,
            refused=self.refused,
            total=self.total,
            skipped_opted_out=self.skipped,
            linked=self.linked,
            resent=self.resent,
            remaining=remaining,
            elapsed=self.clock() - self.started,
        )

    async def _run_tasks(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._feed())
                group.create_task(self._write_loop())
                for _ in range(self.concurrency):
                    group.create_task(self._work())
        except BaseExceptionGroup as failure:
            if self.fatal is not None:
                raise self.fatal from None
            leaves = _leaves(failure)
            if len(leaves) == 1:
                raise leaves[0] from None
            raise
        finally:
            await asyncio.shield(self._shutdown())

    async def _finish(self, state: str | None) -> None:
        try:
            if state is not None:
                await self.db.call(set_state, self.id, state)
            await self.db.call(sending.unlock_campaign, self.id)
        finally:
            await self.db.close()

    async def _shutdown(self) -> None:
        """Write every outcome received, and put back what was claimed but never sent."""
        unsent = self.unsent
        while not self.queue.empty():
            work = self.queue.get_nowait()
            if work is not None and not work.ambiguous:
                unsent.append(work.message_id)
        self.unsent = []
        await self._flush(release=unsent)

    # ---------------------------------------------------------------- feeding

    async def _feed(self) -> None:
        after_id = 0
        exhausted = False
        while True:
            await self._claim_due_retries()
            if not exhausted:
                rows = await self.db.call(sending.to_submit, self.id, self.feed_batch, after_id)
                if rows:
                    after_id = rows[-1].message_id
                    for row in rows:
                        if row.send_state == "attempting":
                            # A previous run may have sent it: look it up before anything else.
                            self.outstanding += 1
                            attempted_at = _aware(row.attempted_at)
                            work = _Work(row.message_id, row.phone, attempted_at, attempted_at)
                            work.ambiguous = True
                            await self.queue.put(work)
                    pending = [r.message_id for r in rows if r.send_state == "pending"]
                    if pending:
                        await self._claim(pending, {})
                    continue
                exhausted = True
            if not self.retries and self.outstanding == 0:
                break
            await self._wait_for_retry()
        self.feeding_done = True
        for _ in range(self.concurrency):
            await self.queue.put(None)
        self.flush_now.set()

    async def _claim(self, message_ids: list[int], tries: dict[int, int]) -> None:
        claimed = await self.db.call(sending.claim_for_submit, self.id, message_ids, utcnow())
        self.skipped += claimed.skipped_opted_out
        self.total -= claimed.skipped_opted_out
        attempted_at = _aware(claimed.attempted_at)
        # Retried works were outstanding already: each one claimed stays so, the others
        # (opted out meanwhile, or no longer pending) are done.
        self.outstanding += len(claimed.messages) - len(tries)
        for index, (message_id, phone) in enumerate(claimed.messages):
            work = _Work(message_id, phone, attempted_at, attempted_at, tries.get(message_id, 0))
            try:
                await self.queue.put(work)
            except asyncio.CancelledError:
                # Claimed but never handed to a worker: certainly not sent.
                self.unsent.extend(m for m, _ in claimed.messages[index:])
                raise

    async def _claim_due_retries(self) -> None:
        now = self.clock()
        due: dict[int, int] = {}
        while self.retries and self.retries[0][0] <= now:
            _, _, work = heapq.heappop(self.retries)
            if work.ambiguous:
                # Still attempting, outcome unknown: only a lookup may decide, never a claim.
                await self.queue.put(work)
                continue
            due[work.message_id] = work.tries
        if due:
            await self._claim(list(due), due)

    async def _wait_for_retry(self) -> None:
        self.wakeup.clear()
        timeout = None
        if self.retries:
            timeout = self.retries[0][0] - self.clock()
            if timeout <= 0:
                return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wakeup.wait(), timeout)

    # ---------------------------------------------------------------- working

    async def _work(self) -> None:
        while True:
            work = await self.queue.get()
            if work is None:
                return
            if work.ambiguous:
                outcome = await self._resolve(work)
            else:
                outcome = await self._create(work)
            self.outcomes.append(outcome)
            if len(self.outcomes) >= FLUSH_MAX:
                self.flush_now.set()

    async def _create(self, work: _Work) -> _Outcome:
        try:
            await self.pacer.acquire()
        except asyncio.CancelledError:
            self.unsent.append(work.message_id)
            raise
        campaign = self.campaign
        assert campaign is not None
        try:
            message = await self.client.create_message(
                work.phone,
                campaign.body,
                from_=None if campaign.messaging_service_sid else campaign.sender,
                messaging_service_sid=campaign.messaging_service_sid,
            )
        except RefusedError as error:
            classification = classify_create_refusal(
                error.http_status or 400, error.code, error.provider_text or error.message
            )
            update = StatusUpdate(
                work.message_id,
                classification,
                error_message=error.provider_text or error.message,
                send_state="refused",
            )
            self._note_trouble(None)
            return _Outcome(work, update, refused=True, stop=error.code == STOP_CODE)
        except CreateOutcomeUnknownError as error:
            self._note_trouble(error.cause)
            tried_at = _aware(error.attempted_at) or datetime.now(UTC)
            work.attempted_at = min(work.attempted_at or tried_at, tried_at)
            work.last_try_at = tried_at
            return await self._resolve(work)
        except (AuthenticationError, NotFoundError) as error:
            # Nothing was created, and no other create can succeed: stop the run.
            self.fatal = self.fatal or error
            self.unsent.append(work.message_id)
            raise
        except (RateLimitedError, TransportError) as error:
            # For a create the client raises these only when it certainly created nothing.
            self._note_trouble(error)
            after = error.retry_after if isinstance(error, RateLimitedError) else None
            if after:
                self.pacer.hold(after)
            return self._retry(work, after)
        return self._submitted(work, message)

    def _retry(self, work: _Work, at_least: float | None = None) -> _Outcome:
        work.tries += 1
        backoff = min(RETRY_CAP, self.retry_base * 2.0 ** (work.tries - 1))
        delay = backoff * (0.5 + random.random() / 2)
        return _Outcome(work, retry_after=max(delay, at_least or 0.0))

    def _submitted(self, work: _Work, message: ProviderMessage, linked: bool = False) -> _Outcome:
        self._note_trouble(None)
        delay = next_poll_delay(timedelta(0)) or timedelta(seconds=2)
        next_poll_at = utcnow() + delay
        classification = message.classify()
        sid = message.sid or ""
        if classification.status is Status.UNKNOWN and message.price is None:
            # The usual answer: nothing to count, so the bulk path records it.
            row = sending.Submitted(
                work.message_id,
                sid,
                message.status,
                message.num_segments,
                _naive(message.date_sent),
                next_poll_at,
            )
            return _Outcome(work, submitted_row=row, submitted=True, linked=linked)
        update = StatusUpdate(
            work.message_id,
            classification,
            provider_status=message.status,
            error_message=message.error_message,
            price=message.price,
            price_unit=message.price_unit,
            num_segments=message.num_segments,
            date_sent=_naive(message.date_sent),
            sid=sid,
            next_poll_at=next_poll_at,
            send_state="submitted",
        )
        return _Outcome(work, update, submitted=True, linked=linked)

    # ------------------------------------------------------------- lookups

    async def _resolve(self, work: _Work) -> _Outcome:
        """A create of unknown outcome: link the message if the provider has it, else resend."""
        work.ambiguous = True
        attempted_at = work.attempted_at or datetime.now(UTC)
        last_try = work.last_try_at or attempted_at
        wait = (last_try - datetime.now(UTC)).total_seconds() + self.settle
        if wait > 0:
            # A create still on its way must reach the provider's records before we look.
            await self.sleep(min(wait, self.settle))
        self.looked_up += 1
        for attempt in range(LOOKUP_TRIES):
            try:
                found = await self._lookup(work, attempted_at)
            except (AuthenticationError, NotFoundError) as error:
                self.fatal = self.fatal or error
                raise
            except ProviderError as error:
                self._note_trouble(error)
                if attempt + 1 < LOOKUP_TRIES:
                    await self.sleep(min(RETRY_CAP, self.retry_base * 2.0**attempt))
                continue
            if found is not None:
                return self._submitted(work, found, linked=True)
            # Not there: the create never reached the provider. Only now is it sent again.
            self._note_trouble(None)
            work.ambiguous = False
            outcome = self._retry(work)
            outcome.retry_after = 0.0
            outcome.resent = True
            return outcome
        # The provider keeps failing: look it up again after a backoff (it stays attempting,
        # never resent blindly); past MAX_TRIES it is left for a resume.
        outcome = self._retry(work)
        outcome.unresolved = True
        return outcome

    async def _lookup(self, work: _Work, attempted_at: datetime) -> ProviderMessage | None:
        since = attempted_at - LOOKUP_SKEW
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
        candidates: dict[str, ProviderMessage] = {}
        # By To and DateSent around the attempt, as the reference says; then by To alone: a
        # message still queued has no send date yet, and no DateSent filter lists it.
        searches: list[dict[str, Any]] = [
            {"date_sent_after": since.date(), "date_sent_before": tomorrow},
            {},
        ]
        for filters in searches:
            pages = 0
            async for page in self.client.list_messages(to=work.phone, page_size=100, **filters):
                pages += 1
                for message in page:
                    if message.sid and self._matches(work, message, since):
                        candidates[message.sid] = message
                # Newest first: once a whole page is well before the attempt, stop reading.
                older = [m for m in page if m.date_created and m.date_created < since - LOOKUP_SKEW]
                if pages >= LOOKUP_MAX_PAGES or (page and len(older) == len(page)):
                    break
            if candidates:
                break
        if not candidates:
            return None
        taken = await self.db.call(sending.linked_sids, list(candidates), work.message_id)
        free = [m for sid, m in candidates.items() if sid not in taken]
        if not free:
            return None
        far_past = datetime.min.replace(tzinfo=UTC)
        return min(free, key=lambda m: (m.date_created or far_past, m.sid or ""))

    def _matches(self, work: _Work, message: ProviderMessage, since: datetime) -> bool:
        campaign = self.campaign
        assert campaign is not None
        if message.to is not None and message.to != work.phone:
            return False
        body = message.body or ""
        # A trial account prefixes the body with a notice: the end still matches.
        if body != campaign.body and not body.endswith(campaign.body):
            return False
        if campaign.messaging_service_sid:
            if message.messaging_service_sid not in (None, campaign.messaging_service_sid):
                return False
        elif message.from_ is not None and campaign.sender and message.from_ != campaign.sender:
            return False
        return message.date_created is None or message.date_created >= since

    # ---------------------------------------------------------------- writing

    async def _write_loop(self) -> None:
        while not self.feeding_done:
            if len(self.outcomes) < FLUSH_MAX:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.flush_now.wait(), FLUSH_INTERVAL)
            self.flush_now.clear()
            if self.outcomes:
                await self._flush()

    async def _flush(self, release: list[int] | None = None) -> None:
        batch, self.outcomes = self.outcomes, []
        if not batch and not release:
            return
        applied = await self.db.call(self._write, batch, list(release or []))
        now = self.clock()
        for outcome in batch:
            work = outcome.work
            if outcome.retry_after is not None and work.tries < MAX_TRIES and not self.fatal:
                self.resent += outcome.resent
                self.retry_seq += 1
                heapq.heappush(self.retries, (now + outcome.retry_after, self.retry_seq, work))
                continue
            self.outstanding -= 1
            self.given_up += outcome.retry_after is not None
            self.submitted += outcome.submitted
            self.refused += outcome.refused
            self.linked += outcome.linked
            self.unresolved += outcome.unresolved
        self.wakeup.set()
        self._progress()
        if self.on_applied is not None and applied.resolutions:
            await self.on_applied(applied)

    def _write(self, batch: list[_Outcome], release: list[int]) -> AppliedUpdates:
        """One transaction: the provider's answers, the counters, the opt-outs (DB thread)."""
        now = utcnow()
        updates = [o.update for o in batch if o.update is not None]
        release = release + [
            o.work.message_id for o in batch if o.retry_after is not None and not o.work.ambiguous
        ]
        rows = [o.submitted_row for o in batch if o.submitted_row is not None]
        with database.atomic():
            sending.record_submitted(rows, now)
            applied = apply_updates(updates, now)
            sending.count_submitted(self.id, sum(1 for o in batch if o.submitted))
            sending.release_to_pending(release)
            for outcome in batch:
                if outcome.stop:
                    opt_out(
                        outcome.work.phone,
                        source=SOURCE_PROVIDER,
                        reason=STOP_REASON,
                        actor=self.actor,
                        campaign_id=self.id,
                        code=STOP_CODE,
                        now=now,
                    )
        return applied


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    leaves: list[BaseException] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            leaves.extend(_leaves(error))
        elif not isinstance(error, asyncio.CancelledError):
            leaves.append(error)
    return leaves


async def send_campaign(
    client: TwilioClient,
    campaign_id: int,
    *,
    rate: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
    on_applied: ResolutionHook | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    settle: float = SETTLE,
    retry_base: float = RETRY_BASE,
    actor: str = "provider",
) -> SendResult:
    """Submit every pending message of a recorded campaign, at most ``rate`` per second.

    ``rate`` ``None`` sends as fast as ``concurrency`` creates in flight allow. Messages a
    previous run left ``attempting`` are looked up first (see ``resume_campaign``). The
    campaign ends ``sent`` when every message was submitted or refused, else ``interrupted``
    (cancelled, or some messages could not be submitted in this run) and resumable.

    ``on_applied`` receives what each write resolved (for the opt-out policy); ``settle`` is how
    long after an ambiguous create the provider's records are looked at;
    ``retry_base`` the first backoff after the provider was busy or unreachable; ``actor`` who
    records a STOP opt-out; ``clock`` and ``sleep`` pace the sends (inject them in tests).
    Raises ``SendError`` (no such campaign, no sender, another process is sending it) and
    ``ProviderError`` for failures that stop the run (wrong credentials); cancellation leaves
    the campaign ``interrupted`` and consistent.
    """
    sender = _CampaignSender(
        client,
        campaign_id,
        rate=rate,
        concurrency=concurrency,
        on_progress=on_progress,
        on_applied=on_applied,
        clock=clock,
        sleep=sleep,
        settle=settle,
        retry_base=retry_base,
        actor=actor,
    )
    return await sender.run()


async def resume_campaign(client: TwilioClient, campaign_id: int, **options: Any) -> SendResult:
    """Carry on sending a campaign that a crash, a cancellation or provider trouble interrupted.

    The same as ``send_campaign`` (and takes its options): every message left ``attempting`` is
    looked up in the provider's records first (by ``To`` around its attempt, matching the body
    and a SID no other message has), linked if there and sent again only if not; then the
    pending ones are submitted. A campaign with nothing left to send is only marked ``sent``.
    """
    return await send_campaign(client, campaign_id, **options)
