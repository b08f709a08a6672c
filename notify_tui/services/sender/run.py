"""One run of one campaign: a feeder claims pending messages, workers create them at the
configured pace, a writer records each outcome in batches (see the package's docstring)."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, cast

from peewee import IntegrityError

from notify_tui.domain.faults import Fault, FaultKind, Operation
from notify_tui.domain.optout_policy import STOP_CODE
from notify_tui.domain.polling import next_poll_delay
from notify_tui.domain.quiet_hours import QuietHours, hold_for
from notify_tui.domain.schedule import DEFAULT_TIMEZONE, provider_send_at
from notify_tui.domain.status import (
    UNSENT,
    CampaignState,
    SendState,
    Status,
    classify_create_refusal,
)
from notify_tui.provider import (
    AuthenticationError,
    CreateOutcomeUnknownError,
    NotFoundError,
    ProviderError,
    ProviderFaultError,
    ProviderMessage,
    RateLimitedError,
    RefusedError,
    TransportError,
    TwilioClient,
)
from notify_tui.provider.answers import CheckedListing, check_created
from notify_tui.services.health import OutageError, ProviderHealth
from notify_tui.services.provider_updates import naive_utc, update_from
from notify_tui.services.sender.events import (
    ProgressCallback,
    ResolutionHook,
    SendProgress,
    SendResult,
)
from notify_tui.services.sender.lookup import AttemptWindow, Verdict, find_created
from notify_tui.services.sender.pacing import Clock, DatabaseThread, Pacer, Sleep
from notify_tui.services.sender.plan import SendError
from notify_tui.store import sending
from notify_tui.store.campaigns import CampaignSummary, get_campaign, set_state, wait_in_store
from notify_tui.store.db import give_back, make_room, reserve_space, storage_error
from notify_tui.store.faults import record_faults
from notify_tui.store.models import database, utcnow
from notify_tui.store.optouts import SOURCE_PROVIDER, OptOutRequest, opt_out_many
from notify_tui.store.updates import AppliedUpdates, StatusUpdate, apply_updates

DEFAULT_CONCURRENCY = 16
"""Creates in flight at once: well under the provider's concurrency limit (the sandbox's 100)."""

STOP_REASON = "replied STOP (21610)"

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

SALVAGE_BATCH = 50
"""Answers per transaction when the store failed and the stop path saves what still fits."""

CLAIM_SLACK = 60.0
"""Seconds a claimed create may wait for its turn (the feeder claims about half a second of
sending ahead) before its stored window must be moved on (``_create`` does)."""

FEED_BATCH = 200
"""Messages claimed per transaction when sending as fast as possible. At most twice this many
are claimed ahead of the creates: after a crash, each of them costs a lookup."""


@dataclass(slots=True)
class _Work:
    message_id: int
    phone: str
    attempted_at: datetime | None = None
    """Aware UTC: when the first create that may have reached the provider began."""
    deadline: datetime | None = None
    """Aware UTC: the stored ``attempt_deadline``; no request leaves that could be answered
    later (see ``_create``)."""
    answered_by: datetime | None = None
    """Aware UTC: when this run last gave up waiting for an answer (the window's end)."""
    last_try_at: datetime | None = None
    tries: int = 0
    ambiguous: bool = False
    """The create may have reached the provider: look it up before anything else."""
    body: str | None = None
    """The recipient's own recorded text (a personal message), or ``None``: the campaign's."""


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
    faults: list[Fault] = field(default_factory=list)
    """Provider answers of this work that were not applied (recorded by the writer)."""
    rejected: bool = False
    """The writer refused the answer (its SID belongs to another message): look it up again."""

    @property
    def sid(self) -> str | None:
        """The SID the answer would link to the message."""
        if self.submitted_row is not None:
            return self.submitted_row.sid
        return self.update.sid if self.update is not None else None

    review: str | None = None
    """Why the lookup could not settle it: the message is left ``needs_review``."""


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class _CampaignSender:
    """One run of one campaign: a feeder, ``concurrency`` workers and a writer."""

    def __init__(
        self,
        client: TwilioClient,
        campaign_id: int,
        *,
        rate: float | None,
        sender_rates: Mapping[str, float],
        concurrency: int,
        on_progress: ProgressCallback | None,
        on_applied: ResolutionHook | None,
        clock: Clock,
        wall: Callable[[], datetime],
        sleep: Sleep,
        pace_clock: Clock | None,
        settle: float,
        retry_base: float,
        actor: str,
        health: ProviderHealth | None,
        outage_limit: float | None,
        max_tries: int | None,
        status_callback: str | None = None,
        callback_grace: float = 0.0,
    ) -> None:
        if concurrency < 1:
            raise SendError("concurrency must be at least 1")
        for pace in (rate, *sender_rates.values()):
            if pace is not None and not (pace > 0 and math.isfinite(pace)):
                raise SendError("the send rate must be a positive number of messages per second")
        self.client = client
        self.id = campaign_id
        self.campaign: CampaignSummary | None = None
        self.concurrency = concurrency
        self.on_progress = on_progress
        self.on_applied = on_applied
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.settle = settle
        self.retry_base = retry_base
        self.actor = actor
        self.health = health or ProviderHealth.for_url(client.config.base_url)
        self.outage_limit = outage_limit
        self.max_tries = max_tries
        self.status_callback = status_callback
        self.callback_grace = callback_grace
        self.rate = rate
        self.sender_rates = sender_rates
        self.pace_clock = pace_clock
        self._pacer: Pacer | None = None
        self.feed_batch = FEED_BATCH
        self.db = DatabaseThread()
        self.queue: asyncio.Queue[_Work | None] = asyncio.Queue()
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
        self.store_failure: Exception | None = None
        self.reserve: Path | None = None
        """Disk set aside while the run lasts, freed to stop cleanly on a full disk."""
        """The store failed (a full disk...): the run stops as ``fatal`` stops it, lets the
        creates in flight finish, saves what it can and raises this."""
        self.submitted = 0
        self.refused = 0
        self.total = 0
        self.skipped = 0
        self.linked = 0
        self.resent = 0
        self.looked_up = 0
        self.unresolved = 0
        self.needs_review = 0
        self.given_up = 0
        self.faults: Counter[str] = Counter()
        self.answered: dict[str, int] = {}
        """Every SID a create answer of this run named, with the first message it was named for:
        a SID named again for another message is a repeated SID, even before the first one is
        written (or when the first answer was itself refused). A lookup, which lists by the
        recipient's own ``To``, is not judged by it: it is how the truth is found."""
        self.suspects: set[int] = set()
        """Messages first named with a SID that was named again: which of the two answers is
        right is unknown (answers may be read in another order than the provider sent them),
        so neither is linked if it is not written yet; both are looked up by their ``To``."""
        self.latest_fault: str | None = None
        self.budget = timedelta(seconds=client.create_budget + CLAIM_SLACK)
        """From a claim to the latest moment its create's answer can be due."""
        self.trouble: str | None = None
        self.trouble_at = -math.inf
        self.send_at: datetime | None = None
        """Aware UTC: when the campaign is to go out (``None``: now)."""
        self.quiet: QuietHours | None = None
        self.timezone = DEFAULT_TIMEZONE
        self.hold_rest = False
        """Its time came too close for the provider to schedule the rest: they wait in the
        store until it (``stopping``), then go out as a normal campaign."""
        self.held = 0
        self.wake_at: datetime | None = None
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
        finished = self.submitted + self.refused + self.needs_review
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
                faults=self.faults.total(),
                sender=self._pacer.sender if self._pacer else None,
                sharing_with=self._pacer.behind if self._pacer and not done else None,
            )
        )

    def _note_trouble(self, error: BaseException | None) -> None:
        """Remember provider trouble (its first error), or its end once the provider has answered
        well for ``TROUBLE_QUIET`` seconds; an event tells each change, not each failure."""
        now = self.clock()
        if error is None:
            self.health.ok()
        else:
            self.health.failed(error)
            outage = self.health.exceeded(self.outage_limit)
            if outage is not None and self.fatal is None:
                # No good answer for too long (no route, DNS, the provider down): stop cleanly.
                self._stop(OutageError(outage, f"notify-tui send --resume {self.id}"))
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
            if campaign.state == CampaignState.CANCELED:
                raise SendError(f"campaign {self.id} was cancelled: nothing more of it is sent")
            self.campaign = campaign
            self.send_at = _aware(campaign.send_at)
            self.timezone = campaign.timezone or DEFAULT_TIMEZONE
            self.quiet = QuietHours.parse(campaign.quiet_hours) if campaign.quiet_hours else None
            sender = campaign.messaging_service_sid or campaign.sender or ""
            rate = self.sender_rates.get(sender, self.rate)
            # Claim no further ahead than about half a second of sending.
            self.feed_batch = FEED_BATCH if rate is None else max(1, min(FEED_BATCH, int(rate / 4)))
            self.queue = asyncio.Queue(maxsize=self.feed_batch)
            self._pacer = Pacer(
                sender,
                self.id,
                rate,
                self.db,
                self.clock,
                self.sleep,
                self.pace_clock,
            )
            if not await self.db.call(sending.try_lock_campaign, self.id):
                raise SendError(f"campaign {self.id} is being sent by another process")
        except BaseException:
            await self.db.close()
            raise
        state = campaign.state
        # The state to leave the campaign in, once this run has marked it ``sending``.
        moved: CampaignState | None = None
        try:
            self.reserve = await self.db.call(reserve_space, f"send-{self.id}")
            counts = await self.db.call(sending.send_state_counts, self.id)
            self.submitted = counts.get(SendState.SUBMITTED, 0)
            self.refused = counts.get(SendState.REFUSED, 0)
            remaining = sum(counts.get(s, 0) for s in UNSENT)
            self.total = self.submitted + self.refused + remaining
            if remaining and self._waits_in_store():
                # Its time is ahead and the provider can't hold it: a poller or the app starts
                # it then (``store.campaigns.due_to_start``).
                self.wake_at = self.send_at
                moved = state = CampaignState.SCHEDULED
            elif remaining or campaign.state != CampaignState.SENT:
                await self.db.call(set_state, self.id, CampaignState.SENDING)
                moved = CampaignState.INTERRUPTED
                self._progress(force=True)
                await self._run_tasks()
                counts = await self.db.call(sending.send_state_counts, self.id)
                remaining = sum(counts.get(s, 0) for s in UNSENT)
                moved = state = CampaignState.INTERRUPTED if remaining else CampaignState.SENT
                if remaining and await self._wait_for_rest(remaining):
                    moved = state = CampaignState.SCHEDULED
        finally:
            await asyncio.shield(self._finish(moved))
        if state == CampaignState.SENT:
            self.trouble = None
        review = counts.get(SendState.NEEDS_REVIEW, 0)
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
            faults=dict(self.faults),
            latest_fault=self.latest_fault,
            needs_review=review,
            held=self.held,
            wake_at=naive_utc(self.wake_at),
            send_at=naive_utc(self.send_at),
        )

    def _waits_in_store(self) -> bool:
        """The campaign's time is ahead and no create now could ask the provider to hold it."""
        now = self._now()
        if self.send_at is None or self.send_at <= now:
            return False
        campaign = self.campaign
        assert campaign is not None
        service = bool(campaign.messaging_service_sid)
        return provider_send_at(self.send_at, now, messaging_service=service) is None

    async def _wait_for_rest(self, remaining: int) -> bool:
        """After a run that left ``remaining`` messages unsent: whether they all wait for a
        time (quiet hours, or the campaign's own time come too close for the provider), and
        then when the campaign is to be started again (``wake_at``)."""
        held_until = await self.db.call(sending.next_held, self.id)
        held = await self.db.call(sending.held_count, self.id, self.wall())
        self.held = held
        wakes = [t for t in (_aware(held_until) if held else None,) if t is not None]
        if self.hold_rest and self.send_at is not None:
            wakes.append(self.send_at)
        elif remaining > held:
            return False  # some could not be sent for other reasons: a resume is needed
        if not wakes:
            return False
        self.wake_at = min(wakes)
        return True

    def _hold(self, phone: str) -> tuple[datetime, str] | None:
        """Quiet hours: until when (naive UTC) ``phone`` waits, judged at the moment its
        message would reach them (the campaign's time, if ahead), and how that is said
        (``held until 08:00 America/Chicago``); ``None``: not held."""
        if self.quiet is None:
            return None
        at = max(self._now(), self.send_at or self._now())
        hold = hold_for(phone, at, self.quiet, self.timezone)
        if hold is None:
            return None
        return hold.until.astimezone(UTC).replace(tzinfo=None), hold.describe()

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
        if self.fatal is not None:
            raise self.fatal
        if self.store_failure is not None:
            raise self.store_failure

    async def _finish(self, state: CampaignState | None) -> None:
        give_back(self.reserve)
        try:
            if state is CampaignState.SCHEDULED and self.wake_at is not None:
                await self.db.call(wait_in_store, self.id, naive_utc(self.wake_at))
            elif state is not None:
                try:
                    await self.db.call(set_state, self.id, state)
                except Exception as exc:
                    if storage_error(exc) is None or self.store_failure is None:
                        raise
                    # The disk is full even for one row: a checkpoint may make room in the
                    # WAL (its frames are rewritten from the start once all are in the file).
                    await self.db.call(make_room)
                    await self.db.call(set_state, self.id, state)
        finally:
            # Even when the store failed: the right to send is given back (on SQLite a file
            # lock, on PostgreSQL a session lock that a lost connection gives back anyway).
            try:
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
        try:
            await self._flush(release=unsent)
        except Exception as exc:
            if storage_error(exc) is None:
                raise
            await self._save_what_fits(unsent)
            raise

    async def _save_what_fits(self, unsent: list[int]) -> None:
        """The store failed (a full disk, a lost server): save what matters most, each part in
        its own small transaction, which may fit where the failed one did not. First the
        messages claimed but never sent go back to pending, so that none is left attempting
        that was not attempted; then the answers received, a few at a time (whatever is not
        saved stays attempting, and ``send --resume`` looks it up)."""
        give_back(self.reserve)  # a full disk: these few writes must fit
        batch, self.outcomes = self.outcomes, []
        certain = {id(o) for o in batch if o.retry_after is not None and not o.work.ambiguous} - {
            id(o) for o in batch if o.rejected
        }
        unsent = unsent + [o.work.message_id for o in batch if id(o) in certain]
        batch = [o for o in batch if id(o) not in certain]
        steps: list[Callable[[], object]] = []
        if unsent:
            steps.append(partial(_release, unsent))
        for start in range(0, len(batch), SALVAGE_BATCH):
            steps.append(partial(self._write, batch[start : start + SALVAGE_BATCH], []))
        room_made = False
        for step in steps:
            while True:
                try:
                    await self.db.call(step)
                    break
                except Exception as exc:
                    if storage_error(exc) is None:
                        raise
                    if room_made:
                        return  # nothing more fits: the rest stays as it was committed
                    # A checkpoint lets the WAL be written again from its start.
                    room_made = True
                    await self.db.call(make_room)

    # ---------------------------------------------------------------- feeding

    @property
    def stopping(self) -> bool:
        """No more claims, creates or lookups: the provider or the store failed for good."""
        return self.fatal is not None or self.store_failure is not None or self.hold_rest

    def _store_failed(self, error: Exception) -> None:
        """Stop the run after the store failed with ``error``, as ``_stop`` does."""
        self.store_failure = self.store_failure or error
        self.wakeup.set()
        self.flush_now.set()

    async def _feed(self) -> None:
        try:
            await self._feed_until_done()
        except Exception as exc:
            # A claim that failed wrote nothing: its messages are still pending.
            if storage_error(exc) is None:
                raise
            self._store_failed(exc)
        self.feeding_done = True
        for _ in range(self.concurrency):
            await self.queue.put(None)
        self.flush_now.set()

    async def _feed_until_done(self) -> None:
        after_id = 0
        exhausted = False
        while not self.stopping:
            await self._claim_due_retries()
            if not exhausted:
                rows = await self.db.call(
                    sending.to_submit, self.id, self.feed_batch, after_id, self.wall()
                )
                if rows:
                    after_id = rows[-1].message_id
                    for row in rows:
                        if row.send_state == SendState.ATTEMPTING:
                            # A previous run may have sent it: look it up before anything else.
                            self.outstanding += 1
                            attempted_at = _aware(row.attempted_at)
                            deadline = _aware(row.attempt_deadline)
                            if deadline is None and attempted_at is not None:
                                # Claimed by a version that kept no deadline: the longest a
                                # create could have taken.
                                deadline = attempted_at + self.budget
                            work = _Work(row.message_id, row.phone, attempted_at, deadline)
                            work.body = row.body
                            work.last_try_at = attempted_at
                            work.ambiguous = True
                            await self.queue.put(work)
                    pending = [r.message_id for r in rows if r.send_state == SendState.PENDING]
                    if pending:
                        await self._claim(pending, {})
                    continue
                exhausted = True
            if not self.retries and self.outstanding == 0:
                break
            await self._wait_for_retry()

    async def _claim(self, message_ids: list[int], tries: dict[int, int]) -> None:
        now = self.wall()
        claimed = await self.db.call(
            sending.claim_for_submit,
            self.id,
            message_ids,
            now,
            now + self.budget,
            self._hold if self.quiet is not None else None,
        )
        self.held += claimed.held
        self.total -= claimed.held
        self.skipped += claimed.skipped_opted_out
        self.total -= claimed.skipped_opted_out
        attempted_at = _aware(claimed.attempted_at)
        deadline = _aware(now + self.budget)
        # Retried works were outstanding already: each one claimed stays so, the others
        # (opted out meanwhile, or no longer pending) are done.
        self.outstanding += len(claimed.messages) - len(tries)
        for index, (message_id, phone) in enumerate(claimed.messages):
            work = _Work(message_id, phone, attempted_at, deadline, None, attempted_at)
            work.tries = tries.get(message_id, 0)
            work.body = claimed.bodies.get(message_id)
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
        """Until the writer wakes us, or the first retry is due (on the run's own ``sleep``)."""
        self.wakeup.clear()
        if not self.retries:
            await self.wakeup.wait()
            return
        timeout = self.retries[0][0] - self.clock()
        if timeout <= 0:
            return
        woken = asyncio.ensure_future(self.wakeup.wait())
        due = asyncio.ensure_future(self.sleep(timeout))
        try:
            await asyncio.wait((woken, due), return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            due.cancel()

    # ---------------------------------------------------------------- working

    async def _work(self) -> None:
        while True:
            work = await self.queue.get()
            if work is None:
                return
            if self.stopping:
                # The run is stopping: nothing more is sent, nothing is looked up.
                outcome = _Outcome(work, unresolved=True) if work.ambiguous else self._unsent(work)
            elif work.ambiguous:
                try:
                    outcome = await self._resolve(work)
                except Exception as exc:
                    if storage_error(exc) is None:
                        raise
                    # The store failed during the lookup: it stays attempting, for a resume.
                    self._store_failed(exc)
                    outcome = _Outcome(work, unresolved=True)
            else:
                outcome = await self._create(work)
            self.outcomes.append(outcome)
            if len(self.outcomes) >= FLUSH_MAX:
                self.flush_now.set()

    @property
    def pacer(self) -> Pacer:
        assert self._pacer is not None, "made when the run starts"
        return self._pacer

    async def _create(self, work: _Work) -> _Outcome:
        sharing = self.pacer.behind
        try:
            await self.pacer.acquire()
        except asyncio.CancelledError:
            self.unsent.append(work.message_id)
            raise
        except Exception as exc:
            # The pace lives in the store: a store that fails there sent nothing of this work.
            if storage_error(exc) is None:
                raise
            self._store_failed(exc)
            return self._unsent(work)
        if self.stopping:
            return self._unsent(work)
        if self.pacer.behind != sharing:
            # Another campaign started or stopped sending from this sender: say so at once.
            self._progress(force=True)
        campaign = self.campaign
        assert campaign is not None
        budget = timedelta(seconds=self.client.create_budget)
        service = bool(campaign.messaging_service_sid)
        send_at = provider_send_at(self.send_at, self._now(), messaging_service=service)
        if send_at is None and self.send_at is not None and self.send_at > self._now():
            # Its time came too close for the provider to hold it: this one and the rest wait
            # in the store until then (``_wait_for_rest``).
            self.hold_rest = True
            self.wakeup.set()
            return self._unsent(work)
        if work.deadline is None or self._now() + budget > work.deadline:
            # Waited long for its turn: the stored window must cover this request before it
            # leaves, or a lookup could not tell its message from someone else's.
            work.deadline = self._now() + self.budget
            await self.db.call(sending.extend_attempts, [work.message_id], naive_utc(work.deadline))
        try:
            message = await self.client.create_message(
                work.phone,
                campaign.body if work.body is None else work.body,
                from_=None if campaign.messaging_service_sid else campaign.sender,
                messaging_service_sid=campaign.messaging_service_sid,
                status_callback=self.status_callback,
                send_at=send_at,
                # A 429 holds the whole sender and is retried in a turn of its own, so that a
                # retry never lands between two turns of the sender's pace.
                retry_busy=False,
            )
        except RefusedError as error:
            classification = classify_create_refusal(
                error.http_status or 400, error.code, error.provider_text or error.message
            )
            update = StatusUpdate(
                work.message_id,
                classification,
                error_message=error.provider_text or error.message,
                send_state=SendState.REFUSED,
            )
            self._note_trouble(None)
            return _Outcome(work, update, refused=True, stop=error.code == STOP_CODE)
        except CreateOutcomeUnknownError as error:
            self._note_trouble(error.cause)
            # The window runs on our clock: from the claim (before the request left) to now.
            work.last_try_at = work.answered_by = self._now()
            work.attempted_at = work.attempted_at or work.last_try_at
            faults = []
            if isinstance(error.cause, ProviderFaultError):
                faults.append(replace(error.cause.fault, message_id=work.message_id))
            return await self._resolve(work, faults)
        except (AuthenticationError, NotFoundError) as error:
            # Nothing was created (a 401/403/404 answer), and no other create can succeed: stop
            # the run. The creates already on their way end with their own answers, so none is
            # left ``attempting`` for a lookup it doesn't need.
            self._stop(error)
            return self._unsent(work)
        except (RateLimitedError, TransportError) as error:
            # For a create the client raises these only when it certainly created nothing.
            self._note_trouble(error)
            after = error.retry_after if isinstance(error, RateLimitedError) else None
            outcome = self._retry(work, after)
            if isinstance(error, RateLimitedError) and outcome.retry_after:
                # The provider is busy: nothing goes out from this sender, whichever campaign
                # sends it, until it said (or, when it did not say, this create's backoff).
                try:
                    await self.pacer.hold(outcome.retry_after)
                except Exception as exc:
                    if storage_error(exc) is None:
                        raise
                    self._store_failed(exc)
            return outcome
        faults = [
            replace(fault, message_id=work.message_id)
            for fault in check_created(
                message,
                to=work.phone,
                account_sid=self.client.config.account_sid,
                from_=None if campaign.messaging_service_sid else campaign.sender,
                messaging_service_sid=campaign.messaging_service_sid,
            )
        ]
        if (repeated := self._repeated(work, message.sid)) is not None:
            faults.insert(0, repeated)
        if any(fault.kind.mismatch for fault in faults):
            # Not an answer to this create: whether it made a message is unknown. Look it up,
            # as after a lost answer; never link what came.
            work.last_try_at = work.answered_by = self._now()
            return await self._resolve(work, faults)
        return self._submitted(work, message, faults=faults)

    def _now(self) -> datetime:
        """Now on the run's wall clock, aware UTC (the clock of the attempt windows)."""
        return self.wall().replace(tzinfo=UTC)

    def _stop(self, error: ProviderError) -> None:
        """Stop the run after ``error``: no more claims, creates or lookups."""
        self.fatal = self.fatal or error
        self.wakeup.set()
        self.flush_now.set()

    @staticmethod
    def _unsent(work: _Work) -> _Outcome:
        """A create that certainly made nothing: back to pending (not retried, the run stops)."""
        return _Outcome(work, retry_after=0.0)

    def _retry(self, work: _Work, at_least: float | None = None) -> _Outcome:
        work.tries += 1
        backoff = min(RETRY_CAP, self.retry_base * 2.0 ** (work.tries - 1))
        delay = backoff * (0.5 + random.random() / 2)
        return _Outcome(work, retry_after=max(delay, at_least or 0.0))

    def _submitted(
        self,
        work: _Work,
        message: ProviderMessage,
        linked: bool = False,
        faults: list[Fault] | None = None,
    ) -> _Outcome:
        """The create made ``message``: link it. ``faults`` (values outside the API only) keep it
        Unknown, unclassified, with the raw values in its note; the poller asks again later."""
        self._note_trouble(None)
        faults = faults or []
        note = faults[0].note if faults else None
        delay = next_poll_delay(timedelta(0)) or timedelta(seconds=2)
        if self.status_callback:
            # Its status callbacks are due: pollers leave it to them for the grace.
            delay = max(delay, timedelta(seconds=self.callback_grace))
        next_poll_at = self.wall() + delay
        if message.api_status == "scheduled" and self.send_at is not None:
            # Nothing to learn before it leaves: look at it once its time has come.
            due = self.send_at.astimezone(UTC).replace(tzinfo=None) + delay
            next_poll_at = max(next_poll_at, due)
        classification = message.classify()
        sid = message.sid or ""
        if classification.status is Status.UNKNOWN and message.price is None:
            # The usual answer: nothing to count, so the bulk path records it.
            row = sending.Submitted(
                work.message_id,
                sid,
                message.api_status,
                message.num_segments,
                naive_utc(message.date_sent),
                next_poll_at,
                note,
            )
            return _Outcome(work, submitted_row=row, submitted=True, linked=linked, faults=faults)
        update = update_from(
            work.message_id,
            message,
            classification,
            sid=sid,
            next_poll_at=next_poll_at,
            send_state=SendState.SUBMITTED,
            note=note,
        )
        return _Outcome(work, update, submitted=True, linked=linked, faults=faults)

    # ------------------------------------------------------------- lookups

    async def _resolve(self, work: _Work, faults: list[Fault] | None = None) -> _Outcome:
        """A create of unknown outcome: adopt the provider's message if it is provably this
        one's, send it again if the provider has none, else leave it for a person to review.

        ``faults``: the answers that made the outcome unknown (recorded with the outcome)."""
        met: list[Fault] = []
        outcome = await self._look_up(work, met)
        outcome.faults[:0] = [*(faults or []), *met]
        return outcome

    async def _look_up(self, work: _Work, met: list[Fault]) -> _Outcome:
        """Look the create up; ``met`` receives the faults of the listings read."""
        work.ambiguous = True
        attempted_at = work.attempted_at or self._now()
        last_try = work.last_try_at or attempted_at
        end = work.answered_by or work.deadline or self._now()
        window = AttemptWindow(attempted_at, max(end, attempted_at))
        wait = (last_try - self._now()).total_seconds() + self.settle
        if wait > 0:
            # A create still on its way must reach the provider's records before we look.
            await self.sleep(min(wait, self.settle))
        self.looked_up += 1
        for attempt in range(LOOKUP_TRIES):
            try:
                found = await find_created(
                    cast(TwilioClient, CheckedListing(self.client)),
                    self.campaign_summary,
                    work.phone,
                    window,
                    partial(self.db.call, sending.linked_sids, except_message_id=work.message_id),
                    body=work.body,
                )
            except (AuthenticationError, NotFoundError) as error:
                # Still attempting: a resume with the right settings looks it up.
                self._stop(error)
                return _Outcome(work, unresolved=True)
            except ProviderError as error:
                if isinstance(error, ProviderFaultError):
                    # A listing outside its question can't say the message is not there.
                    met.append(replace(error.fault, message_id=work.message_id))
                self._note_trouble(error)
                if attempt + 1 < LOOKUP_TRIES:
                    await self.sleep(min(RETRY_CAP, self.retry_base * 2.0**attempt))
                continue
            if found.verdict is Verdict.ADOPT and found.message is not None:
                return self._found(work, found.message)
            if found.verdict is Verdict.REVIEW:
                # Never adopted, never sent again: a person decides (``notify-tui review``).
                self._note_trouble(None)
                return _Outcome(work, review=found.note(window))
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

    def _found(self, work: _Work, found: ProviderMessage) -> _Outcome:
        """Link what the lookup found, once it is checked like a create's answer: a message of
        another account, recipient or sender is never adopted (the work stays attempting, and
        is looked up again later, or by a resume)."""
        campaign = self.campaign_summary
        checked = check_created(
            found,
            to=work.phone,
            account_sid=self.client.config.account_sid,
            from_=None if campaign.messaging_service_sid else campaign.sender,
            messaging_service_sid=campaign.messaging_service_sid,
        )
        faults = [replace(f, operation=Operation.LIST, message_id=work.message_id) for f in checked]
        if any(f.kind.mismatch for f in faults):
            outcome = self._retry(work)
            outcome.unresolved = True
            outcome.faults = faults
            return outcome
        return self._submitted(work, found, linked=True, faults=faults)

    def _repeated(self, work: _Work, sid: str | None) -> Fault | None:
        """A fault when another message of this run was answered with ``sid`` first."""
        if not sid:
            return None
        first = self.answered.setdefault(sid, work.message_id)
        if first == work.message_id:
            return None
        self.suspects.add(first)
        return Fault(
            FaultKind.REPEATED_SID,
            Operation.CREATE,
            f"To {work.phone}",
            f"sid {sid}, already named for message {first}",
            sid,
            work.message_id,
            self.id,
        )

    @property
    def campaign_summary(self) -> CampaignSummary:
        assert self.campaign is not None, "read when the run starts"
        return self.campaign

    # ---------------------------------------------------------------- writing

    async def _write_loop(self) -> None:
        while not self.feeding_done:
            if len(self.outcomes) < FLUSH_MAX:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.flush_now.wait(), FLUSH_INTERVAL)
            self.flush_now.clear()
            if self.outcomes:
                try:
                    await self._flush()
                except Exception as exc:
                    if storage_error(exc) is None:
                        raise
                    # The answers stay in memory: the stop path saves what still fits.
                    self._store_failed(exc)
                    return

    async def _flush(self, release: list[int] | None = None) -> None:
        batch, self.outcomes = self.outcomes, []
        if not batch and not release:
            return
        call = asyncio.ensure_future(self.db.call(self._write, batch, list(release or [])))
        try:
            applied = await asyncio.shield(call)
        except asyncio.CancelledError:
            # The write runs on in its thread: wait for it, so that what it wrote is never
            # written again (every answer would count twice in the campaign's counters) and
            # what it did not write is saved by the stop path.
            with contextlib.suppress(BaseException):
                await call
            if call.done() and (call.cancelled() or call.exception() is not None):
                self.outcomes = batch + self.outcomes
            raise
        except Exception:
            # The store refused it (its transaction rolled back): nothing of it was written, and
            # the stop path saves what it can of these answers.
            self.outcomes = batch + self.outcomes
            raise
        now = self.clock()
        for outcome in batch:
            work = outcome.work
            for fault in outcome.faults:
                self.faults[fault.kind] += 1
                self.latest_fault = fault.text
            if outcome.rejected:
                # Its answer named another message's SID: whether this create made a message is
                # unknown. It stays attempting, and is looked up (never linked, never resent
                # blindly); past MAX_TRIES it is left for a resume.
                work.ambiguous = True
                work.tries += 1
                if work.tries < MAX_TRIES and not self.stopping:
                    self.retry_seq += 1
                    heapq.heappush(self.retries, (now, self.retry_seq, work))
                    continue
                self.outstanding -= 1
                self.unresolved += 1
                continue
            more = self.max_tries is None or work.tries < self.max_tries
            if outcome.retry_after is not None and more and not self.stopping:
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
            self.needs_review += outcome.review is not None
        self.wakeup.set()
        self._progress()
        if self.on_applied is not None and applied.resolutions:
            await self.on_applied(applied)

    def _write(self, batch: list[_Outcome], release: list[int]) -> AppliedUpdates:
        """One transaction: the provider's answers, the counters, the opt-outs, the provider
        faults (DB thread). An answer whose SID another message holds is refused and recorded;
        the rest of the batch is written. Should another process link one of these SIDs between
        the check and the write, the transaction is redone with a fresh check."""
        for attempt in range(3):
            try:
                return self._write_once(batch, release)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _write_once(self, batch: list[_Outcome], release: list[int]) -> AppliedUpdates:
        now = utcnow()
        with database.atomic():
            self._refuse_taken_sids(batch)
            return self._write_answers(batch, release, now)

    def _refuse_taken_sids(self, batch: list[_Outcome]) -> None:
        """Mark the outcomes whose SID is another message's (in the store, or earlier in this
        batch) rejected: their answer is not applied, and is recorded as a repeated SID."""
        linking = [(o.work.message_id, sid) for o in batch if not o.rejected and (sid := o.sid)]
        holders = sending.sid_holders(linking)
        for outcome in batch:
            sid = outcome.sid
            message_id = outcome.work.message_id
            if outcome.rejected or not sid:
                continue
            holder = holders.get(message_id)
            if holder is not None:
                answered = f"sid {sid}, already the SID of message {holder}"
            elif message_id in self.suspects:
                answered = f"sid {sid}, named again for another message"
            else:
                continue
            self.suspects.discard(message_id)
            outcome.rejected = True
            outcome.update = outcome.submitted_row = None
            outcome.submitted = outcome.linked = False
            outcome.faults.append(
                Fault(
                    FaultKind.REPEATED_SID,
                    Operation.CREATE,
                    f"To {outcome.work.phone}",
                    answered,
                    sid,
                    message_id,
                    self.id,
                )
            )

    def _write_answers(
        self, batch: list[_Outcome], release: list[int], now: datetime
    ) -> AppliedUpdates:
        updates = [o.update for o in batch if o.update is not None]
        release = release + [
            o.work.message_id for o in batch if o.retry_after is not None and not o.work.ambiguous
        ]
        rows = [o.submitted_row for o in batch if o.submitted_row is not None]
        with database.atomic():
            record_faults([f for o in batch for f in o.faults], now)
            sending.record_submitted(rows, now)
            applied = apply_updates(updates, now)
            sending.count_submitted(self.id, sum(1 for o in batch if o.submitted))
            sending.release_to_pending(release)
            sending.mark_needs_review(
                [(o.work.message_id, o.review) for o in batch if o.review is not None], now
            )
            stops = [
                OptOutRequest(
                    o.work.phone, SOURCE_PROVIDER, STOP_REASON, self.actor, self.id, STOP_CODE
                )
                for o in batch
                if o.stop
            ]
            opt_out_many(stops, now)
        return applied


def _release(message_ids: list[int]) -> None:
    with database.atomic():
        sending.release_to_pending(message_ids)


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
    sender_rates: Mapping[str, float] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
    on_applied: ResolutionHook | None = None,
    clock: Clock = time.monotonic,
    wall: Callable[[], datetime] = utcnow,
    sleep: Sleep = asyncio.sleep,
    pace_clock: Clock | None = None,
    settle: float = SETTLE,
    retry_base: float = RETRY_BASE,
    actor: str = "provider",
    health: ProviderHealth | None = None,
    outage_limit: float | None = None,
    max_tries: int | None = MAX_TRIES,
    status_callback: str | None = None,
    callback_grace: float = 0.0,
) -> SendResult:
    """Submit every pending message of a recorded campaign, at most ``rate`` per second.

    ``rate`` is the pace of the campaign's sender (its From number or Messaging Service), which
    every campaign sending from it shares, in this process and in any other sharing the
    workspace: two campaigns from one number at 1/s send 1 message a second between them.
    ``rate`` ``None`` sends as fast as ``concurrency`` creates in flight allow (waiting only
    while the provider holds the sender back with a 429). ``sender_rates`` gives particular
    senders paces of their own, in place of ``rate`` (the ``[senders]`` settings). Messages a
    previous run left ``attempting`` are looked up first (see ``resume_campaign``). The
    campaign ends ``sent`` when every message was submitted or refused, else ``interrupted``
    (cancelled, or some messages could not be submitted in this run) and resumable.

    ``on_applied`` receives what each write resolved (for the opt-out policy); ``settle`` is how
    long after an ambiguous create the provider's records are looked at;
    ``retry_base`` the first backoff after the provider was busy or unreachable; ``actor`` who
    records a STOP opt-out; ``clock`` and ``sleep`` time the run, ``pace_clock`` (seconds since
    the epoch) the sender's shared pace (``None``: the database's clock); ``wall`` (naive UTC)
    times the claims and the attempt windows that lookups judge by (inject them in tests: it
    must agree with the provider's clock). ``health`` hears of every answer and failure (the app
    shares one to show an outage); past ``outage_limit`` seconds without a good answer the run
    stops (``None``: it never does) and raises ``OutageError``, naming the resume command.
    ``max_tries``: creates (and lookups) tried this many times in a run before the message is
    left for a resume (``None``: until the provider answers, as in the app).
    ``status_callback``: every create asks the provider to POST its status changes there (push),
    and pollers leave each submitted message to them for ``callback_grace`` seconds.
    Raises ``SendError`` (no such campaign, no sender, another process is sending it),
    ``ProviderError`` for failures that stop the run (wrong credentials) and ``StorageError``
    when the store fails (a full disk...: the run stops as if interrupted, saving what still
    fits); cancellation leaves the campaign ``interrupted`` and consistent.
    """
    sender = _CampaignSender(
        client,
        campaign_id,
        rate=rate,
        sender_rates=sender_rates or {},
        concurrency=concurrency,
        on_progress=on_progress,
        on_applied=on_applied,
        clock=clock,
        wall=wall,
        sleep=sleep,
        pace_clock=pace_clock,
        settle=settle,
        retry_base=retry_base,
        actor=actor,
        health=health,
        outage_limit=outage_limit,
        max_tries=max_tries,
        status_callback=status_callback,
        callback_grace=callback_grace,
    )
    try:
        return await sender.run()
    except Exception as exc:
        # A full disk, a read-only file, a lost PostgreSQL: the run stopped as if interrupted.
        failure = storage_error(exc, resume=campaign_id)
        if failure is None:
            raise
        raise failure from None


async def resume_campaign(client: TwilioClient, campaign_id: int, **options: Any) -> SendResult:
    """Carry on sending a campaign that a crash, a cancellation or provider trouble interrupted.

    The same as ``send_campaign`` (and takes its options): every message left ``attempting`` is
    looked up in the provider's records first (by ``To`` around its attempt, matching the body
    and a SID no other message has), linked if there and sent again only if not; then the
    pending ones are submitted. A campaign with nothing left to send is only marked ``sent``.
    """
    return await send_campaign(client, campaign_id, **options)
