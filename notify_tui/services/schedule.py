"""Scheduled campaigns: cancelling one, cancelling what opted-out numbers still have scheduled,
and starting the campaigns that wait in the store once they are due.

Cancelling stops a campaign for good: the messages never created are recorded Failed,
"Canceled" at once (in the store, with the campaign marked ``canceled``, so no sender ever takes
it again), then each message the provider holds is cancelled there (``Status=canceled``) and its
answer recorded. A cancel interrupted half-way is finished by running it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from notify_tui.domain.status import CampaignState, classify_message
from notify_tui.errors import NotifyError
from notify_tui.provider import ProviderError, ProviderMessage, RefusedError, TwilioClient
from notify_tui.services.sender.pacing import DatabaseThread
from notify_tui.store import schedule as store
from notify_tui.store.campaigns import due_to_start, get_campaign
from notify_tui.store.models import utcnow
from notify_tui.store.sending import try_lock_campaign, unlock_campaign
from notify_tui.store.updates import AppliedUpdates, StatusUpdate, apply_updates

CONCURRENCY = 8
"""Cancel requests in flight at once."""


class CancelError(NotifyError):
    """A campaign that cannot be cancelled (now); the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class CancelResult:
    """What cancelling did."""

    campaign_id: int
    never_sent: int
    """Messages never created: recorded as cancelled, never sent."""
    canceled: int
    """Messages the provider held, cancelled there."""
    gone: int
    """Messages the provider had already sent (their time had come): left as they are."""
    failed: int
    """Cancel requests that failed (provider trouble): run the cancel again."""


def _update(message_id: int, message: ProviderMessage) -> StatusUpdate:
    return StatusUpdate(
        message_id,
        classify_message(message.status, message.error_code, message.error_message),
        provider_status=message.api_status,
        error_message=message.error_message,
        price=message.price,
        price_unit=message.price_unit,
        num_segments=message.num_segments,
        date_sent=None
        if message.date_sent is None
        else message.date_sent.astimezone(UTC).replace(tzinfo=None),
        next_poll_at=None if message.status == "canceled" else utcnow(),
    )


async def cancel_messages(
    client: TwilioClient,
    messages: Sequence[tuple[int, str]],
    call: Callable[..., Awaitable[AppliedUpdates]],
) -> tuple[int, int, int, AppliedUpdates]:
    """Cancel each ``(message_id, sid)`` at the provider and record its answer (through
    ``call``, which runs a store function off the event loop): ``(cancelled, already sent,
    failed, what changed)``."""
    limit = asyncio.Semaphore(CONCURRENCY)
    updates: list[StatusUpdate] = []
    gone = failed = 0

    async def one(message_id: int, sid: str) -> None:
        nonlocal gone, failed
        async with limit:
            try:
                answer = await client.cancel_message(sid)
            except RefusedError:
                # 30409: no longer scheduled (its time came): the poller follows it as usual.
                gone += 1
                updates.append(
                    StatusUpdate(
                        message_id,
                        classify_message("queued", None, None),
                        provider_status="queued",
                        next_poll_at=utcnow(),
                    )
                )
                return
            except ProviderError:
                failed += 1
                return
        updates.append(_update(message_id, answer))

    await asyncio.gather(*(one(m, sid) for m, sid in messages))
    applied = await call(apply_updates, updates, utcnow())
    canceled = sum(1 for u in updates if u.provider_status == "canceled")
    return canceled, gone, failed, applied


async def cancel_campaign(client: TwilioClient, campaign_id: int) -> CancelResult:
    """Cancel a campaign that has not gone out (all of it, or what is left of it).

    Raises ``CancelError`` when there is no such campaign, when a sender is sending it right
    now, when nothing of it waits to go out, or when a crash left creates of unknown outcome
    (``send --resume`` settles them first).
    """
    db = DatabaseThread()
    try:
        campaign = await db.call(get_campaign, campaign_id)
        if campaign is None:
            raise CancelError(f"no campaign with id {campaign_id}")
        if not await db.call(try_lock_campaign, campaign_id):
            raise CancelError(
                f"campaign {campaign_id} is being sent right now: stop that sender, then cancel"
            )
        try:
            pending, attempting = await db.call(store.unsent_counts, campaign_id)
            held = await db.call(store.scheduled_messages, campaign_id)
            if attempting:
                raise CancelError(
                    f"campaign {campaign_id} has {attempting:,} creates of unknown outcome (the "
                    f"sender stopped mid-way): notify-tui send --resume {campaign_id} settles "
                    "them first (a scheduled one is only scheduled), then cancel"
                )
            if not pending and not held and campaign.state != CampaignState.CANCELED:
                raise CancelError(
                    f"nothing of campaign {campaign_id} waits to go out: it has been sent"
                )
            never_sent = await db.call(store.cancel_unsent, campaign_id)
            canceled, gone, failed, _ = await cancel_messages(client, held, db.call)
        finally:
            await db.call(unlock_campaign, campaign_id)
    finally:
        await db.close()
    return CancelResult(campaign_id, len(never_sent.changed_ids), canceled, gone, failed)


async def cancel_for_opted_out(client: TwilioClient) -> AppliedUpdates:
    """Cancel every scheduled message to a number that has opted out since it was created
    (Twilio keeps sending it otherwise). Safe to call often: one small query finds none."""
    found = await asyncio.to_thread(store.scheduled_to_opted_out)
    if not found:
        return AppliedUpdates()

    async def call(function: Callable[..., AppliedUpdates], *args: object) -> AppliedUpdates:
        return await asyncio.to_thread(function, *args)

    *_, applied = await cancel_messages(client, found, call)
    return applied


class DueCampaigns:
    """Starts, in this process, each campaign waiting in the store once it is due (a poller's
    companion: ``notify-tui poll`` and the app). ``start(campaign_id)`` sends it; a campaign
    another process took first is refused by its lock and left to that process."""

    def __init__(
        self,
        start: Callable[[int], Awaitable[object]],
        *,
        clock: Callable[[], datetime] = utcnow,
        on_error: Callable[[int, Exception], object] | None = None,
    ) -> None:
        self._start = start
        self._clock = clock
        self._on_error = on_error
        self._running: dict[int, asyncio.Task[None]] = {}

    @property
    def running(self) -> set[int]:
        """The campaigns this process is sending because they came due."""
        return set(self._running)

    async def check(self) -> list[int]:
        """Start each due campaign not started yet; answers the ids started now."""
        started = []
        for campaign_id in await asyncio.to_thread(due_to_start, self._clock()):
            if campaign_id not in self._running:
                self._running[campaign_id] = asyncio.create_task(self._run(campaign_id))
                started.append(campaign_id)
        return started

    async def _run(self, campaign_id: int) -> None:
        try:
            await self._start(campaign_id)
        except Exception as exc:
            if self._on_error is None:
                raise
            self._on_error(campaign_id, exc)
        finally:
            self._running.pop(campaign_id, None)

    async def wait(self) -> None:
        """Until every campaign started here has finished its run."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop the runs started here (each leaves its campaign interrupted and consistent)."""
        for task in self._running.values():
            task.cancel()
        await self.wait()
