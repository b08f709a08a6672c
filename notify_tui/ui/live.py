"""Live work, one owner: the app's poll worker and its senders.

Screens never run loops of their own. The screen on top says what it follows (``follow``: every
campaign, or one) and subscribes to the signals it draws from; this service polls that scope
with the one ``Poller`` of the app (whose ``run`` backs off after a broken cycle) and sends
campaigns in app-level workers, so that sending goes on whichever screen is shown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.signal import Signal
from textual.worker import Worker, WorkerState

from notify_tui.errors import user_message
from notify_tui.services.runtime import Runtime
from notify_tui.ui.formatting import describe_error, plain
from notify_tui.ui.messages import CampaignOverview, SendingEnded, SendProgressed

if TYPE_CHECKING:
    # The services that poll and send bring httpx and the provider: they are imported when
    # they are first used, after History's first frame.
    from textual.app import App
    from textual.dom import DOMNode

    from notify_tui.services.health import Outage
    from notify_tui.services.poller import PollCycle, Poller
    from notify_tui.services.sender import SendProgress, SendResult

POLL_BATCH = 1000
"""Messages leased per cycle; a full batch means more are due: poll again at once."""

POLL_GROUP = "poll"

SEND_GROUP = "send:"
"""Workers sending a campaign are in group ``send:<campaign id>``: one at a time per campaign."""

ALL_IDLE = 5.0
"""At most this long between two poll cycles of every campaign (History)."""

CAMPAIGN_IDLE = 2.0
"""At most this long between two poll cycles of the one campaign shown (Details)."""

StateLoader = Callable[["PollCycle"], CampaignOverview | None]


@dataclass(frozen=True)
class Scope:
    """What the screen on top follows live."""

    campaign_id: int | None
    """One campaign, or ``None`` for every campaign."""
    load_state: StateLoader | None = None
    """Run on a worker thread after each cycle: what the screen draws above its table."""

    @property
    def idle(self) -> float:
        """At most this long between two cycles."""
        return ALL_IDLE if self.campaign_id is None else CAMPAIGN_IDLE


@dataclass(frozen=True)
class PollResult:
    """One poll cycle of a scope: what it did and, when the scope asked for it, the new state."""

    cycle: PollCycle
    campaign_id: int | None
    state: CampaignOverview | None = None

    @property
    def changed(self) -> bool:
        """True when any row or counter moved in this cycle."""
        return bool(self.cycle.applied.campaigns)


class LiveUpdates:
    """The poll worker and the senders of one app, and the signals they publish."""

    def __init__(self, app: App[Any], runtime: Runtime, *, poll: bool) -> None:
        self._app = app
        self._runtime = runtime
        self.enabled = poll
        """Whether Unknown messages are resolved live."""
        self._poller: Poller | None = None
        self._owner: DOMNode | None = None
        self._scope: Scope | None = None
        self._polling: Scope | None = None
        self._poll_worker: Worker[None] | None = None
        self._senders: dict[int, Worker[SendResult | None]] = {}
        self.send_progress: dict[int, SendProgress | None] = {}
        """The campaigns this app is sending, with the latest progress of each."""

        self.poll_started: Signal[int | None] = Signal(app, "poll_started")
        """Published with the scope's campaign (``None``: all) as each poll cycle begins."""
        self.statuses_resolved: Signal[PollResult] = Signal(app, "statuses_resolved")
        """Published as each poll cycle ends."""
        self.poll_failed: Signal[str] = Signal(app, "poll_failed")
        """Published when a poll cycle broke (polling goes on after a pause)."""
        self.sends_changed: Signal[int] = Signal(app, "sends_changed")
        """Published with a campaign id whenever its sending moves on, starts or ends."""
        self.outage_changed: Signal[Outage | None] = Signal(app, "outage_changed")
        """Published when the provider stops answering (with the outage), when the last error
        changes, and when it answers again (``None``). The poller and the senders keep trying."""
        self._outage_key: tuple[object, str] | None = None
        self.delivery_changed: Signal[str] = Signal(app, "delivery_changed")
        """Published with ``push`` or ``polling`` when how statuses arrive changes (only when
        sends ask for status callbacks: ``status_callback_url``)."""
        self.delivery: str | None = None
        """How statuses arrive: ``push``, ``polling``, or ``None`` (no callbacks asked for)."""

    # Polling

    @property
    def poller(self) -> Poller:
        """The one poller of this app (it applies the opt-out policy too), built on first use."""
        if self._poller is None:
            self._poller = self._runtime.make_poller(batch=POLL_BATCH)
        return self._poller

    @property
    def poll_worker(self) -> Worker[None] | None:
        """The worker polling now, if any."""
        worker = self._poll_worker
        return worker if worker is not None and not worker.is_finished else None

    @property
    def scope(self) -> Scope | None:
        """What is being followed, if anything."""
        return self._scope

    def follow(
        self, owner: DOMNode, campaign_id: int | None, load_state: StateLoader | None = None
    ) -> None:
        """``owner`` (the screen on top) follows every campaign, or one, from now on."""
        self._owner = owner
        self._scope = Scope(campaign_id, load_state)
        self._app.call_after_refresh(self._restart)

    def unfollow(self, owner: DOMNode) -> None:
        """``owner`` no longer follows anything (a screen over it, or it is gone): polling stops
        unless another screen follows something meanwhile."""
        if self._owner is owner:
            self._owner = None
            self._scope = None
            self._restart()

    def _restart(self) -> None:
        scope = self._scope if self.enabled else None
        if scope == self._polling and self.poll_worker is not None:
            return
        self._polling = scope
        if scope is None:
            self._app.workers.cancel_group(self._app, POLL_GROUP)
            self._poll_worker = None
            return
        self._poll_worker = self._app.run_worker(
            self._poll(scope),
            name="poll",
            group=POLL_GROUP,
            description=(
                "Resolving Unknown messages of every campaign"
                if scope.campaign_id is None
                else "Resolving the campaign's Unknown messages"
            ),
            exclusive=True,
            exit_on_error=False,
        )

    async def _poll(self, scope: Scope) -> None:
        # The first poller needs httpx, the provider and the sandbox (about half a second to
        # import): they are imported on a thread, so that keys are answered meanwhile.
        await asyncio.to_thread(Runtime.load_provider_modules)
        campaign_id = scope.campaign_id
        load_state = scope.load_state

        async def cycle_done(cycle: PollCycle) -> None:
            state = await asyncio.to_thread(load_state, cycle) if load_state else None
            self.statuses_resolved.publish(PollResult(cycle, campaign_id, state))
            self.check_health()
            await self.check_push(cycle.pending)
            await self.start_due()

        def cycle_failed(exc: Exception) -> None:
            self.poll_failed.publish(describe_error(exc))
            self.check_health()

        await self.poller.run(
            campaign_id,
            on_cycle=cycle_done,
            on_error=cycle_failed,
            before_cycle=lambda: self.poll_started.publish(campaign_id),
            idle_sleep=scope.idle,
        )

    # The provider's health, shared by the poller and the senders (``Runtime.health``)

    @property
    def outage(self) -> Outage | None:
        """The provider's current outage, if any."""
        return self._runtime.outage

    def check_health(self) -> None:
        """Publish ``outage_changed`` if the outage began, changed its last error, or ended."""
        outage = self._runtime.outage
        key = None if outage is None else (outage.since, outage.last_error)
        if key != self._outage_key:
            self._outage_key = key
            self.outage_changed.publish(outage)

    # Push: status callbacks received by ``notify-tui callbacks``

    async def check_push(self, pending: int) -> None:
        """Publish ``delivery_changed`` when push starts or stops bringing statuses; warn once
        when it went quiet while messages are pending (the poller sweeps them meanwhile)."""
        settings = self._runtime.settings
        if not settings.status_callback_url:
            return
        from datetime import timedelta

        from notify_tui.services.callbacks import push_state

        quiet = timedelta(seconds=settings.callback_quiet)
        state = await asyncio.to_thread(push_state, pending=pending, quiet_after=quiet)
        if state.mode == self.delivery:
            return
        was, self.delivery = self.delivery, state.mode
        self.delivery_changed.publish(state.mode)
        if state.quiet and was == "push":
            self._app.notify(
                f"No status callback for {settings.callback_quiet:g} s while messages are "
                "pending: is notify-tui callbacks running? Polling resolves them meanwhile.",
                title="Push stopped",
                severity="warning",
                markup=False,
            )

    # Sending

    def is_sending(self, campaign_id: int) -> bool:
        """Whether this app is sending the campaign right now."""
        worker = self._senders.get(campaign_id)
        return worker is not None and not worker.is_finished

    @property
    def sending_ids(self) -> list[int]:
        """The campaigns this app is sending."""
        return [c for c in self._senders if self.is_sending(c)]

    def start_sending(self, campaign_id: int, name: str, *, resume: bool = False) -> bool:
        """Send (or resume) a recorded campaign in the background; False if already sending."""
        if self.is_sending(campaign_id):
            return False
        self.send_progress[campaign_id] = None
        self._senders[campaign_id] = self._app.run_worker(
            self._send(campaign_id, name, resume),
            name=f"send-{campaign_id}",
            group=f"{SEND_GROUP}{campaign_id}",
            description="Sending a campaign",
            exclusive=True,
            exit_on_error=False,
        )
        self.sends_changed.publish(campaign_id)
        return True

    async def _send(self, campaign_id: int, name: str, resume: bool) -> SendResult | None:
        from notify_tui.services.sender import resume_campaign, send_campaign

        settings = self._runtime.settings

        def progress(event: SendProgress) -> None:
            self._app.post_message(SendProgressed(event))
            self.check_health()

        job = resume_campaign if resume else send_campaign
        try:
            result = await job(
                self._runtime.client,
                campaign_id,
                rate=settings.send_rate or None,
                sender_rates=settings.sender_rates,
                on_progress=progress,
                on_applied=self._runtime.policy_hook(),
                # The app never gives up: it shows the outage and keeps trying (capped backoff).
                health=self._runtime.health,
                outage_limit=None,
                max_tries=None,
                **self._runtime.push_options,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            explained = user_message(exc)
            if explained is None:
                raise  # a bug: the worker's error handler tells the user
            self._app.post_message(SendingEnded(campaign_id, name, error=plain(explained)))
            return None
        self._app.post_message(SendingEnded(campaign_id, name, result=result))
        return result

    async def start_due(self) -> None:
        """Start each campaign waiting in the store (a time, quiet hours) that is due: the app
        is one of the processes that keep scheduled campaigns going."""
        from notify_tui.store.campaigns import due_to_start, get_campaign

        for campaign_id in await asyncio.to_thread(due_to_start):
            campaign = await asyncio.to_thread(get_campaign, campaign_id)
            if campaign is not None:
                self.start_sending(campaign_id, campaign.name, resume=True)

    def progressed(self, progress: SendProgress) -> bool:
        """Keep a sender's latest progress; False when that sender is already over."""
        campaign_id = progress.campaign_id
        if not self.is_sending(campaign_id):
            return False
        self.send_progress[campaign_id] = progress
        self.sends_changed.publish(campaign_id)
        return True

    def sender_changed(self, worker: Worker[Any], state: WorkerState) -> None:
        """A worker of the app changed state: a sender that is over is forgotten."""
        if not worker.group.startswith(SEND_GROUP) or state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            return
        campaign_id = int(worker.group.removeprefix(SEND_GROUP))
        if self._senders.get(campaign_id) is worker:
            del self._senders[campaign_id]
            self.send_progress.pop(campaign_id, None)
            self.sends_changed.publish(campaign_id)

    async def stop_sending(self, timeout: float) -> None:
        """Stop every sender, and give each up to ``timeout`` seconds to record what it did."""
        workers = [w for w in self._senders.values() if not w.is_finished]
        for worker in workers:
            worker.cancel()
        if workers:
            # Each sender records what it did and leaves its campaign interrupted.
            await asyncio.wait(
                [asyncio.ensure_future(_finished(w)) for w in workers], timeout=timeout
            )


async def _finished(worker: Worker[Any]) -> None:
    try:
        await worker.wait()
    except Exception:  # cancelled or failed: either way it is over
        return
