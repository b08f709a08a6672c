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
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial

from notify_tui.domain.faults import Operation
from notify_tui.domain.status import CampaignState, SendState, classify_message
from notify_tui.errors import NotifyError
from notify_tui.provider import ProviderError, ProviderMessage, RefusedError, TwilioClient
from notify_tui.provider.answers import check_fetched
from notify_tui.services.provider_updates import update_from
from notify_tui.services.sender.lookup import AttemptWindow, Verdict, find_created
from notify_tui.services.sender.pacing import DatabaseThread
from notify_tui.store import schedule as store
from notify_tui.store.campaigns import CampaignSummary, due_to_start, get_campaign
from notify_tui.store.faults import record_faults
from notify_tui.store.models import database, utcnow
from notify_tui.store.sending import (
    count_submitted,
    linked_sids,
    mark_needs_review,
    release_to_pending,
    try_lock_campaign,
    unlock_campaign,
)
from notify_tui.store.updates import AppliedUpdates, StatusUpdate, apply_updates

LOOKUP_SPAN = timedelta(minutes=2)
"""A create's window when its deadline was not kept (an older version's claim)."""

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
    needs_review: int = 0
    """Creates of unknown outcome a dead sender left that no lookup could settle: neither
    sent nor cancelled; ``notify-tui review`` (then cancel again)."""


def _update(message_id: int, message: ProviderMessage) -> StatusUpdate:
    next_poll_at = None if message.api_status == "canceled" else utcnow()
    return update_from(message_id, message, next_poll_at=next_poll_at)


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
        faults = check_fetched(
            answer, sid=sid, account_sid=client.config.account_sid, operation=Operation.CANCEL
        )
        if faults:
            # Not an answer about this message (or not one the API sends): not applied; the
            # cancel counts as failed and can be run again.
            await call(record_faults, [replace(f, message_id=message_id) for f in faults])
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
            review = await _settle_attempting(client, db, campaign)
            pending, _ = await db.call(store.unsent_counts, campaign_id)
            held = await db.call(store.scheduled_messages, campaign_id)
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
    return CancelResult(campaign_id, len(never_sent.changed_ids), canceled, gone, failed, review)


async def _settle_attempting(
    client: TwilioClient, db: DatabaseThread, campaign: CampaignSummary
) -> int:
    """Settle the creates a dead sender left of unknown outcome, as a resume would look them
    up (``sender.lookup``), but never send: one the provider made is linked (and cancelled
    with the others if it is scheduled), one it did not make goes back to pending (and is
    never sent), one that can't be told is left for review. Answers how many need review."""
    review: list[tuple[int, str]] = []
    for message_id, phone, attempted_at, deadline, body in await db.call(
        store.attempting, campaign.id
    ):
        start = (attempted_at or utcnow()).replace(tzinfo=UTC)
        end = (deadline or start.replace(tzinfo=None) + LOOKUP_SPAN).replace(tzinfo=UTC)
        window = AttemptWindow(start, max(start, end))
        try:
            found = await find_created(
                client,
                campaign,
                phone,
                window,
                partial(db.call, linked_sids, except_message_id=message_id),
                body,
            )
        except ProviderError as exc:
            raise CancelError(
                f"campaign {campaign.id}: a create of unknown outcome could not be looked up "
                f"({exc}); nothing was cancelled: run the cancel again"
            ) from None
        if found.verdict is Verdict.ADOPT and found.message is not None:
            update = replace(_update(message_id, found.message), sid=found.message.sid)
            await db.call(_adopt, campaign.id, replace(update, send_state=SendState.SUBMITTED))
        elif found.verdict is Verdict.ABSENT:
            await db.call(_release, [message_id])
        else:
            review.append((message_id, found.note(window)))
    if review:
        await db.call(mark_needs_review, review)
    return len(review)


def _adopt(campaign_id: int, update: StatusUpdate) -> None:
    """Link the provider's message to its recipient, counted as submitted (as a sender does)."""
    with database.atomic():
        apply_updates([update], utcnow())
        count_submitted(campaign_id, 1)


def _release(message_ids: list[int]) -> None:
    with database.atomic():
        release_to_pending(message_ids)


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
