"""Resolving Unknown messages by asking the provider, for the TUI and ``notify-tui poll`` alike.

Each cycle leases the messages that are due (so that any number of pollers never work the same
message), asks the provider about them and applies the answers in one transaction. With few
messages due it fetches them one by one. With many it *sweeps* the provider's listing of their
sender: pages of 1,000 messages by sender and send date, newest first, each page answering for
every Unknown message it shows (not only the ones leased), so that a hundred thousand pending
messages cost about a hundred requests. A sweep is leased too (``store.polling.take_sweep``):
while one poller reads a sender's pages the others leave that sender alone, so the requests do
not grow with the number of pollers. A long sweep carries on over several cycles.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache, partial
from typing import TypeVar

from notify_tui.domain.faults import Fault, Operation
from notify_tui.domain.polling import next_poll_delay
from notify_tui.domain.status import (
    NO_RECEIPT_NOTE,
    Classification,
    Status,
    classify_fetch_not_found,
    classify_message,
)
from notify_tui.provider import (
    AuthenticationError,
    NotFoundError,
    ProviderError,
    ProviderFaultError,
    ProviderMessage,
    TwilioClient,
)
from notify_tui.provider.answers import (
    ListQuestion,
    check_fetched,
    check_listed,
    check_recipient,
    flaw_faults,
)
from notify_tui.services.health import OutageError, ProviderHealth
from notify_tui.services.provider_updates import naive_utc, update_from
from notify_tui.services.schedule import cancel_for_opted_out
from notify_tui.store import polling
from notify_tui.store.faults import record_faults
from notify_tui.store.models import database, utcnow
from notify_tui.store.updates import (
    CURRENT_COLUMNS,
    AppliedUpdates,
    StatusUpdate,
    apply_updates,
)

_T = TypeVar("_T")

FETCH_THRESHOLD = 50
"""Up to this many due messages are fetched one by one; more are listed by page."""

UNLISTED_GRACE = timedelta(minutes=10)
"""A message missing from the list pages is fetched on its own only once it is this old:
younger ones may not have a send date yet, which the list filters on."""

RETRY_AFTER_ERROR = timedelta(seconds=30)
"""After provider trouble, a message waits at least this long before the next try."""

SWEEP_PAGES = 25
"""Pages of a listing read in one cycle at most; a longer sweep goes on in the next cycle."""

SWEEP_SECONDS = 2.0
"""A cycle stops reading pages after about this long, so that progress shows regularly."""

READ_AHEAD_WAIT = 0.005
"""A sweep reads each next page while writing the last once the provider has made it wait at
least this long for a page (and for at least half the time its own share of the work took)."""

EXPIRE_EVERY = timedelta(minutes=1)
"""How often a poller looks for messages past the polling window."""

STILL_UNKNOWN = Classification(Status.UNKNOWN)

MAX_BACKOFF = 60.0
"""After a cycle that broke, ``Poller.run`` waits twice as long as after the one before, at most
this long (seconds)."""

NOT_FOUND_CODE = 20404
"""The provider's code for "no such message": only a 404 carrying it marks a message lost."""


@dataclass(frozen=True)
class PollCycle:
    """What one cycle did: the event the UI and the CLI render."""

    at: datetime
    checked: int
    applied: AppliedUpdates
    pending: int
    requests: int
    error: str | None = None
    resolvable: int = 0
    """Pending messages still expected to resolve soon (not just awaiting a late receipt)."""
    faults: tuple[Fault, ...] = ()
    """Provider answers rejected in this cycle (recorded, never applied)."""

    @property
    def resolved(self) -> int:
        """Messages that became Delivered or Failed in this cycle."""
        return len(self.applied.resolutions)

    @property
    def campaign_ids(self) -> set[int]:
        """Campaigns whose rows or counters changed."""
        return set(self.applied.campaigns)


ResolutionHook = Callable[[AppliedUpdates], Awaitable[None]]
CycleHook = Callable[[PollCycle], "Awaitable[None] | None"]


@dataclass
class _Sweep:
    """One sender's listing being read, and the leased messages it must answer for."""

    sender: str | None
    """The ``From`` filter; ``None`` lists every sender (Messaging Service sends)."""
    question: ListQuestion
    """What the listing asked for: every message of its pages is checked against it."""
    pages: AsyncIterator[list[ProviderMessage]]
    anchors: dict[int, polling.PollTask]
    """Messages leased for this sweep and not answered yet."""
    renewed_at: datetime
    ahead: asyncio.Future[list[ProviderMessage]] | None = None
    """The next page, being read while the last one is written."""
    waits: bool = False
    """The provider has been seen to make us wait for a page: reading ahead pays."""

    async def read(self) -> list[ProviderMessage]:
        """The next page: the one read ahead, or one read now (timed, to learn whether the
        provider makes us wait; raises ``StopAsyncIteration`` at the end of the listing)."""
        ahead, self.ahead = self.ahead, None
        if ahead is not None:
            return await ahead
        started, cpu = time.perf_counter(), time.thread_time()
        page = await anext(self.pages)
        cpu = time.thread_time() - cpu
        self.waits = self.waits or provider_made_us_wait(time.perf_counter() - started, cpu)
        return page

    def read_ahead(self) -> None:
        """Start reading the next page, when the provider makes us wait for one: a real one
        takes a while to answer a page of a thousand, time better spent writing the last page.
        Not when reading costs only work of our own (the in-process sandbox): both would then
        compete for the interpreter, and the pair run slower than one after the other."""
        if self.ahead is None and self.waits:
            self.ahead = asyncio.ensure_future(anext(self.pages))

    async def close(self) -> None:
        """Stop reading: a page read ahead is dropped, and the listing closed."""
        ahead, self.ahead = self.ahead, None
        if ahead is not None:
            ahead.cancel()
            # The listing can't be closed while a read is still running inside it.
            await asyncio.gather(ahead, return_exceptions=True)
        await _close(self.pages)


@dataclass
class _Answers:
    found: dict[int, ProviderMessage] = field(default_factory=dict)
    lost: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    faulty: dict[int, str] = field(default_factory=dict)
    """Messages whose answer was a provider fault, with the note to show on them."""
    faults: list[Fault] = field(default_factory=list)
    """Faults met and not recorded yet."""
    recorded: list[Fault] = field(default_factory=list)
    """Faults of this cycle already recorded."""
    requests: int = 0
    error: str | None = None
    refused: AuthenticationError | None = None
    """The provider refused our credentials: the cycle's work is put back, then this is raised
    (no later request can succeed until someone fixes the settings)."""

    def refuse(self, task: polling.PollTask, faults: Sequence[Fault]) -> None:
        """``task``'s answer is not applied: keep the faults, note the first on the message."""
        self.faults.extend(
            replace(f, message_id=task.message_id, campaign_id=task.campaign_id) for f in faults
        )
        self.faulty[task.message_id] = faults[0].note


def provider_made_us_wait(elapsed: float, cpu: float) -> bool:
    """Whether reading a page that took ``elapsed`` seconds, ``cpu`` of them this thread's own
    work, was mostly waiting for the provider: then reading the next page ahead pays."""
    waited = elapsed - cpu
    return waited >= max(READ_AHEAD_WAIT, cpu / 2)


def backoff(failures: int) -> float:
    """Seconds to wait after ``failures`` broken cycles in a row."""
    return float(min(MAX_BACKOFF, 2.0**failures))


def next_wait(due: datetime | None, now: datetime, idle: float) -> float:
    """Seconds until the next cycle: when the next message falls due, at most ``idle``."""
    if due is None:
        return idle
    return min(idle, max(0.2, (due - now).total_seconds()))


def default_owner() -> str:
    """A lease owner name that is unique per process, and says where it runs."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Poller:
    """Resolves Unknown messages. One per process; safe beside pollers in other processes."""

    def __init__(
        self,
        client: TwilioClient,
        *,
        owner: str | None = None,
        batch: int = 1000,
        fetch_threshold: int = FETCH_THRESHOLD,
        concurrency: int = 8,
        lease_for: timedelta = timedelta(seconds=120),
        clock: Callable[[], datetime] = utcnow,
        on_applied: ResolutionHook | None = None,
        receipt_grace: timedelta = timedelta(seconds=60),
        health: ProviderHealth | None = None,
    ) -> None:
        self._client = client
        self.health = health or ProviderHealth()
        """Told of every cycle's answers and failures: an outage, if there is one."""
        self.owner = owner or default_owner()
        self._batch = batch
        self._fetch_threshold = fetch_threshold
        self._concurrency = concurrency
        self._lease_for = lease_for
        self._clock = clock
        self._on_applied = on_applied
        self._receipt_grace = receipt_grace
        self.requests = 0
        self._sweeps: list[_Sweep] = []
        self._expired_at: datetime | None = None
        self._account = client.config.account_sid

    @property
    def sweeping(self) -> bool:
        """True while a listing is being read: the next cycle carries on with it at once."""
        return bool(self._sweeps)

    async def poll_once(self, campaign_id: int | None = None) -> PollCycle:
        """Lease what is due, ask the provider, apply the answers (or go on with a sweep)."""
        now = self._clock()
        if self._expired_at is None or not now - EXPIRE_EVERY < self._expired_at <= now:
            await asyncio.to_thread(polling.expire_old, now)
            self._expired_at = now
        # A number opted out (STOP, a person, the policy) keeps its scheduled messages at the
        # provider until they are cancelled: each cycle looks, whatever wrote the opt-out.
        canceled = await cancel_for_opted_out(self._client)
        answers = _Answers()
        applied = AppliedUpdates()
        checked = 0
        tasks: list[polling.PollTask] = []
        try:
            if not self._sweeps:
                due = await asyncio.to_thread(
                    polling.due_by_sender,
                    self.owner,
                    limit=self._batch,
                    now=now,
                    campaign_id=campaign_id,
                )
                busiest = max(due, key=lambda sender: due[sender], default=None)
                if due and due[busiest] > self._fetch_threshold:
                    await self._start_sweep(busiest, now, campaign_id)
                else:
                    tasks = await self._leasing(
                        partial(
                            polling.claim_due,
                            self.owner,
                            limit=self._batch,
                            lease_for=self._lease_for,
                            now=now,
                            campaign_id=campaign_id,
                        ),
                        self._release_tasks,
                    )
                    await self._fetch_each(tasks, answers)
                    updates = self._updates(tasks, answers, self._clock())
                    applied = await asyncio.to_thread(
                        _apply, updates, answers.faults, self._clock()
                    )
                    answers.recorded.extend(answers.faults)
                    answers.faults = []
                    checked = len(tasks)
                    tasks = []
            if self._sweeps:
                checked += await self._sweep(answers, applied)
        except asyncio.CancelledError:
            await self._abandon([t.message_id for t in tasks])
            raise
        except BaseException:
            await self._abandon([t.message_id for t in tasks])
            raise
        if answers.faults:
            await asyncio.to_thread(record_faults, answers.faults, self._clock())
            answers.recorded.extend(answers.faults)
        self.requests += answers.requests
        if answers.requests > len(answers.failed):
            self.health.ok()  # something was answered: the provider is there
        elif answers.error is not None and answers.refused is None:
            self.health.failed(answers.error)
        applied.merge(canceled)
        if self._on_applied is not None and applied.resolutions:
            await self._on_applied(applied)
        if answers.refused is not None:
            # What the cycle learnt is written and its leases let go: now stop, naming the
            # setting to check (``poll`` exits 1; the app shows it and tries again later).
            raise answers.refused
        pending, resolvable = await asyncio.to_thread(
            polling.pending_counts, self._clock(), campaign_id, self._receipt_grace
        )
        return PollCycle(
            now,
            checked,
            applied,
            pending,
            answers.requests,
            answers.error,
            resolvable,
            tuple(answers.recorded),
        )

    async def run(
        self,
        campaign_id: int | None = None,
        *,
        until_settled: bool = False,
        on_cycle: CycleHook | None = None,
        on_error: Callable[[Exception], object] | None = None,
        before_cycle: Callable[[], object] | None = None,
        idle_sleep: float = 5.0,
        outage_limit: float | None = None,
    ) -> None:
        """Poll until cancelled (or, with ``until_settled``, until nothing can resolve now).

        Past ``outage_limit`` seconds without a good answer from the provider, it raises
        ``OutageError`` (``None``: it goes on trying, as a daemon and the app do).

        ``on_cycle`` hears about every cycle (it may be a coroutine function: it is awaited).
        Without ``on_error`` a cycle that breaks ends the loop with its exception; with it, the
        exception is handed over and the loop carries on after a pause that doubles with each
        broken cycle in a row, up to ``MAX_BACKOFF`` seconds (a locked database, a bad answer).
        """
        failures = 0
        while True:
            if before_cycle is not None:
                before_cycle()
            try:
                cycle = await self.poll_once(campaign_id)
                if on_cycle is not None:
                    done = on_cycle(cycle)
                    if inspect.isawaitable(done):
                        await done
                more = cycle.checked >= self._batch or bool(self._sweeps)
                due = None
                if not more:
                    due = await asyncio.to_thread(polling.next_due_at, campaign_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if on_error is None:
                    raise
                failures += 1
                on_error(exc)
                await asyncio.sleep(backoff(failures))
                continue
            failures = 0
            outage = self.health.exceeded(outage_limit)
            if outage is not None:
                raise OutageError(outage)
            if until_settled and cycle.resolvable == 0 and not self._sweeps:
                return
            if more:
                await asyncio.sleep(0)  # let the caller's loop breathe between full cycles
                continue
            await asyncio.sleep(next_wait(due, self._clock(), idle_sleep))

    async def _fetch_each(self, tasks: Sequence[polling.PollTask], answers: _Answers) -> None:
        gate = asyncio.Semaphore(self._concurrency)

        async def fetch(task: polling.PollTask) -> None:
            async with gate:
                answers.requests += 1
                try:
                    message = await self._client.fetch_message(task.sid)
                    faults = check_fetched(
                        message, sid=task.sid, account_sid=self._account, to=task.phone
                    )
                    if faults:
                        answers.refuse(task, faults)
                    else:
                        answers.found[task.message_id] = message
                except NotFoundError as exc:
                    if exc.code == NOT_FOUND_CODE:
                        answers.lost.add(task.message_id)
                    else:
                        # A 404 that is not the provider's own answer about this message (a
                        # proxy, a wrong URL) says nothing about it: try again later.
                        answers.failed.add(task.message_id)
                        answers.error = answers.error or str(exc)
                except ProviderFaultError as exc:
                    answers.refuse(task, [exc.fault])
                    answers.error = answers.error or str(exc)
                except ProviderError as exc:
                    answers.failed.add(task.message_id)
                    answers.error = answers.error or str(exc)
                    if isinstance(exc, AuthenticationError):
                        answers.refused = answers.refused or exc

        await asyncio.gather(*(fetch(t) for t in tasks))

    # ---------------------------------------------------------------- sweeps

    async def _start_sweep(
        self, sender: str | None, now: datetime, campaign_id: int | None
    ) -> None:
        """Take the sweep of ``sender``'s listing, then lease its due messages. In that order:
        a poller never holds messages of a sender that another one is sweeping."""

        def end(taken: object) -> None:
            if taken:
                polling.end_sweep(self.owner, sender)

        def give_back(tasks: Sequence[polling.PollTask]) -> None:
            self._release_tasks(tasks)
            polling.end_sweep(self.owner, sender)

        taken = await self._leasing(
            partial(polling.take_sweep, self.owner, sender, lease_for=self._lease_for, now=now),
            end,
        )
        if not taken:
            return  # another poller just took it: it answers for these messages
        try:
            tasks = await self._leasing(
                partial(
                    polling.claim_due,
                    self.owner,
                    limit=self._batch,
                    lease_for=self._lease_for,
                    now=now,
                    campaign_id=campaign_id,
                    senders=[sender],
                ),
                give_back,
            )
        except asyncio.CancelledError:
            raise
        except BaseException:
            await asyncio.to_thread(polling.end_sweep, self.owner, sender)
            raise
        if not tasks:
            await asyncio.to_thread(polling.end_sweep, self.owner, sender)
            return
        days = [_day(t) for t in tasks]
        question = ListQuestion(
            self._account,
            from_=sender,
            date_sent_after=min(days) - timedelta(days=1),
            date_sent_before=max(days) + timedelta(days=1),
        )
        pages = self._client.list_messages(
            from_=question.from_,
            date_sent_after=question.date_sent_after,
            date_sent_before=question.date_sent_before,
        )
        anchors = {t.message_id: t for t in tasks}
        self._sweeps.append(_Sweep(sender, question, pages, anchors, now))

    async def _sweep(self, answers: _Answers, applied: AppliedUpdates) -> int:
        """Read the current sweep's next pages; answers how many messages they answered for.

        Each page is written on a worker thread. When the provider makes us wait for pages, the
        next one is read meanwhile (SQLite and the network both let go of the interpreter); when
        reading a page is only our own work, one after the other is quicker (``read_ahead``).
        """
        sweep = self._sweeps[0]
        started = time.monotonic()
        checked = pages = 0
        finished = failed = False
        while pages < SWEEP_PAGES and time.monotonic() - started < SWEEP_SECONDS:
            try:
                page = await sweep.read()
            except StopAsyncIteration:
                finished = True
                break
            except ProviderError as exc:
                if isinstance(exc, ProviderFaultError):
                    answers.faults.append(exc.fault)
                answers.error = answers.error or str(exc)
                if isinstance(exc, AuthenticationError):
                    answers.refused = answers.refused or exc
                finished = failed = True
                break
            pages += 1
            answers.requests += 1
            listed: dict[str, ProviderMessage] = {}
            foreign: list[Fault] = []
            for m in page:
                faults = check_listed(m, sweep.question)
                if faults:
                    foreign.extend(faults)
                elif m.sid:
                    listed[m.sid] = m
            sweep.read_ahead()
            page_applied, page_faults = await asyncio.to_thread(self._apply_listed, listed, foreign)
            answers.recorded.extend(page_faults)
            applied.merge(page_applied)
            checked += len(page_applied.changed_ids)
            for message_id in page_applied.changed_ids:
                sweep.anchors.pop(message_id, None)
            if not sweep.anchors and not page_applied.changed_ids:
                # Everything leased is answered, and this page showed nothing more to answer.
                finished = True
                break
            if self._lease_due() and not await self._renew():
                return checked
        if finished:
            self._sweeps.remove(sweep)
            checked += await self._finish(sweep, answers, applied, failed)
        return checked

    def _apply_listed(
        self, listed: Mapping[str, ProviderMessage], foreign: list[Fault]
    ) -> tuple[AppliedUpdates, list[Fault]]:
        """Answer, in one transaction, for every Unknown message of one page no other poller
        holds (runs on a worker thread). A listed message about another recipient than ours
        of that SID, or with values outside the API, is not applied (``foreign``: the page's
        messages outside the question; all are recorded). Answers the faults recorded."""
        now = self._clock()
        with database.atomic():
            rows = polling.claim_listed(self.owner, listed, now)
            answer = self._answer
            updates = []
            faults = list(foreign)
            for r in rows:
                message = listed[r.sid]
                phone = str(r.current[CURRENT_COLUMNS.index("phone")])
                found = flaw_faults(message, Operation.LIST, f"sid {r.sid}")
                if (wrong := check_recipient(message, phone, Operation.LIST)) is not None:
                    found.insert(0, wrong)
                if not found:
                    updates.append(answer(r.message_id, r.attempted_at, message, now))
                    continue
                campaign_id = int(str(r.current[CURRENT_COLUMNS.index("campaign_id")]))
                faults.extend(
                    replace(f, message_id=r.message_id, campaign_id=campaign_id) for f in found
                )
                delay = next_poll_delay(now - (r.attempted_at or now))
                updates.append(
                    StatusUpdate(
                        r.message_id,
                        STILL_UNKNOWN,
                        next_poll_at=None if delay is None else now + max(delay, RETRY_AFTER_ERROR),
                        note=found[0].note,
                    )
                )
            record_faults(faults, now)
            applied = apply_updates(
                updates, now, current={r.message_id: r.current for r in rows}, via="pull"
            )
            return applied, faults

    def _lease_due(self) -> bool:
        """True when the sweeps' leases should be renewed (a third of them has passed)."""
        oldest = min(s.renewed_at for s in self._sweeps)
        return self._clock() - oldest >= self._lease_for / 3

    async def _renew(self) -> bool:
        """Keep the sweeps' leases (theirs and their messages') alive; ``False`` when the
        current one was lost (this poller stalled past its lease) and was dropped."""
        now = self._clock()
        kept = True
        for sweep in list(self._sweeps):
            taken = await asyncio.to_thread(
                polling.take_sweep, self.owner, sweep.sender, lease_for=self._lease_for, now=now
            )
            if taken:
                await asyncio.to_thread(
                    polling.renew, self.owner, list(sweep.anchors), now + self._lease_for
                )
                sweep.renewed_at = now
                continue
            kept = kept and sweep is not self._sweeps[0]
            self._sweeps.remove(sweep)
            await asyncio.to_thread(polling.release, self.owner, list(sweep.anchors))
            await sweep.close()
        return kept

    async def _finish(
        self, sweep: _Sweep, answers: _Answers, applied: AppliedUpdates, failed: bool
    ) -> int:
        """End a sweep: what it leased and never saw is fetched, or looked at again later."""
        await sweep.close()
        left = list(sweep.anchors.values())
        if left:
            now = self._clock()
            if failed:
                answers.failed.update(t.message_id for t in left)
            else:
                # Not in the pages: too young to carry a send date, or lost by the provider.
                stragglers = [t for t in left if now - (t.attempted_at or now) >= UNLISTED_GRACE]
                await self._fetch_each(stragglers, answers)
            updates = self._updates(left, answers, self._clock())
            applied.merge(await asyncio.to_thread(_apply, updates, answers.faults, self._clock()))
            answers.recorded.extend(answers.faults)
            answers.faults = []
        await asyncio.to_thread(polling.end_sweep, self.owner, sweep.sender)
        return len(left)

    async def _leasing(self, take: Callable[[], _T], undo: Callable[[_T], None]) -> _T:
        """Run ``take``, a store call that leases, on a thread. A thread cannot be cancelled:
        when this task is (a signal, the app leaving) while ``take`` runs, its leases would be
        committed with no one left to give them back. So it is waited for, ``undo`` gives back
        what it took, and the cancellation goes on."""
        future = asyncio.ensure_future(asyncio.to_thread(take))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(undo, await future)
            raise

    def _release_tasks(self, tasks: Sequence[polling.PollTask]) -> None:
        polling.release(self.owner, [t.message_id for t in tasks])

    async def _abandon(self, leased: list[int]) -> None:
        """Give back every lease (the cycle was cancelled or broke)."""
        sweeps, self._sweeps = self._sweeps, []
        for sweep in sweeps:
            leased.extend(sweep.anchors)
        await asyncio.to_thread(polling.release, self.owner, leased)
        for sweep in sweeps:
            await asyncio.to_thread(polling.end_sweep, self.owner, sweep.sender)
            with contextlib.suppress(ProviderError, RuntimeError):
                await sweep.close()

    def _updates(
        self, tasks: Sequence[polling.PollTask], answers: _Answers, now: datetime
    ) -> list[StatusUpdate]:
        updates: list[StatusUpdate] = []
        for task in tasks:
            age = now - (task.attempted_at or now)
            delay = next_poll_delay(age)
            next_at = now + delay if delay is not None else None
            note = NO_RECEIPT_NOTE if delay is None else None
            message = answers.found.get(task.message_id)
            if message is not None:
                updates.append(self._answer(task.message_id, task.attempted_at, message, now))
            elif task.message_id in answers.faulty:
                # A provider fault: not applied; asked again later, as after an error.
                if delay is not None:
                    next_at = now + max(delay, RETRY_AFTER_ERROR)
                updates.append(
                    StatusUpdate(
                        task.message_id,
                        STILL_UNKNOWN,
                        next_poll_at=next_at,
                        note=answers.faulty[task.message_id],
                    )
                )
            elif task.message_id in answers.lost:
                updates.append(StatusUpdate(task.message_id, classify_fetch_not_found()))
            else:
                # No answer this time (provider trouble, or not listed yet): look again later.
                if delay is not None and task.message_id in answers.failed:
                    next_at = now + max(delay, RETRY_AFTER_ERROR)
                updates.append(
                    StatusUpdate(task.message_id, STILL_UNKNOWN, next_poll_at=next_at, note=note)
                )
        return updates

    @staticmethod
    def _answer(
        message_id: int, attempted_at: datetime | None, message: ProviderMessage, now: datetime
    ) -> StatusUpdate:
        delay = next_poll_delay(now - (attempted_at or now))
        return update_from(
            message_id,
            message,
            # Checked already (a flawed answer is a fault, never applied): cached by value.
            _classify(message.status, message.error_code, message.error_message),
            resolved_at=naive_utc(message.date_updated),
            next_poll_at=now + delay if delay is not None else None,
            note=NO_RECEIPT_NOTE if delay is None else None,
        )


def _apply(
    updates: Sequence[StatusUpdate], faults: Sequence[Fault], now: datetime
) -> AppliedUpdates:
    """Apply answers and record the provider faults met with them, in one transaction."""
    with database.atomic():
        record_faults(faults, now)
        return apply_updates(updates, now, via="pull")


async def _close(pages: AsyncIterator[list[ProviderMessage]]) -> None:
    """Close a listing left before its end (its generator holds a response open)."""
    close = getattr(pages, "aclose", None)
    if close is not None:
        await close()


def _day(task: polling.PollTask) -> date:
    moment = task.date_sent or task.attempted_at or utcnow()
    return moment.date()


# A page of a thousand answers holds a handful of distinct statuses and timestamps (to the
# second): both conversions are cached.
_classify = lru_cache(maxsize=1024)(classify_message)
