"""Resolving Unknown messages by asking the provider, for the TUI and ``notify-tui poll`` alike.

Each cycle leases the messages that are due (so that any number of pollers never work the same
message), asks the provider about them and applies the answers in one transaction. With few
messages due it fetches them one by one; with many it lists pages of up to 1,000 messages by
sender and send date and matches them by SID, which takes a thousand times fewer requests.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from notify_tui.domain.polling import next_poll_delay
from notify_tui.domain.status import (
    NO_RECEIPT_NOTE,
    Classification,
    Status,
    classify_fetch_not_found,
)
from notify_tui.provider import NotFoundError, ProviderError, ProviderMessage, TwilioClient
from notify_tui.store import polling
from notify_tui.store.models import utcnow
from notify_tui.store.updates import AppliedUpdates, StatusUpdate, apply_updates

FETCH_THRESHOLD = 50
"""Up to this many due messages are fetched one by one; more are listed by page."""

UNLISTED_GRACE = timedelta(minutes=10)
"""A message missing from the list pages is fetched on its own only once it is this old:
younger ones may not have a send date yet, which the list filters on."""

RETRY_AFTER_ERROR = timedelta(seconds=30)
"""After provider trouble, a message waits at least this long before the next try."""

STILL_UNKNOWN = Classification(Status.UNKNOWN)


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

    @property
    def resolved(self) -> int:
        """Messages that became Delivered or Failed in this cycle."""
        return len(self.applied.resolutions)

    @property
    def campaign_ids(self) -> set[int]:
        """Campaigns whose rows or counters changed."""
        return set(self.applied.campaigns)


ResolutionHook = Callable[[AppliedUpdates], Awaitable[None]]


@dataclass
class _Answers:
    found: dict[int, ProviderMessage] = field(default_factory=dict)
    lost: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    requests: int = 0
    error: str | None = None


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
    ) -> None:
        self._client = client
        self.owner = owner or default_owner()
        self._batch = batch
        self._fetch_threshold = fetch_threshold
        self._concurrency = concurrency
        self._lease_for = lease_for
        self._clock = clock
        self._on_applied = on_applied
        self._receipt_grace = receipt_grace
        self.requests = 0

    async def poll_once(self, campaign_id: int | None = None) -> PollCycle:
        """Lease what is due, ask the provider, apply the answers."""
        now = self._clock()
        await asyncio.to_thread(polling.expire_old, now)
        tasks = await asyncio.to_thread(
            polling.claim_due,
            self.owner,
            limit=self._batch,
            lease_for=self._lease_for,
            now=now,
            campaign_id=campaign_id,
        )
        answers = _Answers()
        try:
            if len(tasks) <= self._fetch_threshold:
                await self._fetch_each(tasks, answers)
            else:
                await self._list_pages(tasks, answers, now)
        except asyncio.CancelledError:
            await asyncio.to_thread(polling.release, self.owner, [t.message_id for t in tasks])
            raise
        self.requests += answers.requests
        updates = self._updates(tasks, answers, self._clock())
        applied = await asyncio.to_thread(apply_updates, updates, self._clock())
        if self._on_applied is not None and applied.resolutions:
            await self._on_applied(applied)
        pending = await asyncio.to_thread(polling.pending_count, campaign_id)
        resolvable = await asyncio.to_thread(
            polling.resolvable_now_count, self._clock(), campaign_id, self._receipt_grace
        )
        return PollCycle(
            now, len(tasks), applied, pending, answers.requests, answers.error, resolvable
        )

    async def run(
        self,
        campaign_id: int | None = None,
        *,
        until_settled: bool = False,
        on_cycle: Callable[[PollCycle], None] | None = None,
        idle_sleep: float = 5.0,
    ) -> None:
        """Poll until cancelled (or, with ``until_settled``, until nothing can resolve now)."""
        while True:
            cycle = await self.poll_once(campaign_id)
            if on_cycle is not None:
                on_cycle(cycle)
            if until_settled and cycle.resolvable == 0:
                return
            if cycle.checked >= self._batch:
                continue
            due = await asyncio.to_thread(polling.next_due_at, campaign_id)
            wait = idle_sleep
            if due is not None:
                wait = min(idle_sleep, max(0.2, (due - self._clock()).total_seconds()))
            await asyncio.sleep(wait)

    async def _fetch_each(self, tasks: Sequence[polling.PollTask], answers: _Answers) -> None:
        gate = asyncio.Semaphore(self._concurrency)

        async def fetch(task: polling.PollTask) -> None:
            async with gate:
                answers.requests += 1
                try:
                    answers.found[task.message_id] = await self._client.fetch_message(task.sid)
                except NotFoundError:
                    answers.lost.add(task.message_id)
                except ProviderError as exc:
                    answers.failed.add(task.message_id)
                    answers.error = answers.error or str(exc)

        await asyncio.gather(*(fetch(t) for t in tasks))

    async def _list_pages(
        self, tasks: Sequence[polling.PollTask], answers: _Answers, now: datetime
    ) -> None:
        groups: dict[str | None, list[polling.PollTask]] = defaultdict(list)
        for task in tasks:
            groups[task.sender if not task.messaging_service_sid else None].append(task)
        for sender, group in groups.items():
            wanted = {t.sid: t.message_id for t in group}
            days = [_day(t) for t in group]
            try:
                async for page in self._client.list_messages(
                    from_=sender,
                    date_sent_after=min(days) - timedelta(days=1),
                    date_sent_before=max(days) + timedelta(days=1),
                ):
                    answers.requests += 1
                    for message in page:
                        message_id = wanted.pop(message.sid or "", None)
                        if message_id is not None:
                            answers.found[message_id] = message
                    if not wanted:
                        break
            except ProviderError as exc:
                answers.error = answers.error or str(exc)
                answers.failed.update(wanted.values())
                continue
            # Not in the pages: too young to carry a send date, or lost by the provider.
            by_id = {t.message_id: t for t in group}
            stragglers = [
                by_id[i]
                for i in wanted.values()
                if now - (by_id[i].attempted_at or now) >= UNLISTED_GRACE
            ]
            await self._fetch_each(stragglers, answers)

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
                updates.append(
                    StatusUpdate(
                        task.message_id,
                        message.classify(),
                        provider_status=message.status,
                        error_message=message.error_message,
                        price=message.price,
                        price_unit=message.price_unit,
                        num_segments=message.num_segments,
                        date_sent=_naive(message.date_sent),
                        resolved_at=_naive(message.date_updated),
                        next_poll_at=next_at,
                        note=note,
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


def _day(task: polling.PollTask) -> date:
    moment = task.date_sent or task.attempted_at or utcnow()
    return moment.date()


def _naive(moment: datetime | None) -> datetime | None:
    """The store keeps naive UTC."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
