"""The Textual app: built by ``make_app`` from a runtime, started by ``run_app``.

``make_app`` builds and starts nothing (no database, no client, no worker): the CLI and the tests
both use it, and everything starts when the app mounts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, tzinfo
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import App
from textual.binding import Binding, BindingType
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from notify_tui.errors import user_message
from notify_tui.services.runtime import Runtime
from notify_tui.store.models import utcnow
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.formatting import count, plain
from notify_tui.ui.messages import SendingEnded, SendProgressed
from notify_tui.ui.polling import POLL_BATCH, describe_error
from notify_tui.ui.screens.help import HelpScreen, help_entries

if TYPE_CHECKING:
    # The services that poll and send bring httpx and the provider: they are imported when
    # they are first used, after History's first frame.
    from notify_tui.config import Settings
    from notify_tui.services.poller import PollCycle, Poller
    from notify_tui.services.sender import SendProgress, SendResult
    from notify_tui.store.updates import AppliedUpdates

Clock = Callable[[], datetime]

SEND_GROUP = "send:"
"""Workers sending a campaign are in group ``send:<campaign id>``: one at a time per campaign."""

STOP_TIMEOUT = 15.0
"""Seconds to wait, when quitting, for stopped senders to record what they did."""


def stylesheet_path() -> Path:
    """``notify.tcss`` as installed inside the package (a regular install or an editable one)."""
    return Path(str(files("notify_tui").joinpath("notify.tcss")))


class NotifyApp(App[int]):
    """notify-tui: History, Details, sending, live resolution of Unknown messages, opt-outs."""

    CSS_PATH = str(stylesheet_path())
    TITLE = "notify-tui"
    HELP_SECTION = "Everywhere"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="app.help", tooltip="List the keys of this screen"),
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            id="app.quit",
            priority=True,
            tooltip="Quit notify-tui (sending and polling resume on the next start)",
        ),
    ]

    def __init__(
        self,
        runtime: Runtime,
        *,
        poll: bool = True,
        first_run_demo: bool = True,
        clock: Clock = utcnow,
        tz: tzinfo | None = None,
    ) -> None:
        super().__init__()
        self.runtime = runtime
        self.poll = poll
        """Whether screens resolve Unknown messages live."""
        self.first_run_demo = first_run_demo
        self.clock = clock
        """Now, as naive UTC (fixed in snapshot tests)."""
        self.tz = tz
        """The zone times are shown in (``None``: this machine's)."""
        self._poller: Poller | None = None
        self._problems: dict[str, str] = {}
        self.send_progress: dict[int, SendProgress | None] = {}
        """The campaigns this app is sending, with the latest progress of each."""
        self._senders: dict[int, Worker[SendResult | None]] = {}
        self._quitting = False
        self.sends_changed: Signal[int] = Signal(self, "sends_changed")
        """Published with a campaign id whenever its sending moves on, starts or ends."""

    @property
    def poller(self) -> Poller:
        """The one poller of this app (it applies the opt-out policy too), built on first use."""
        if self._poller is None:
            self._poller = self.runtime.make_poller(batch=POLL_BATCH)
        return self._poller

    def on_mount(self) -> None:
        from notify_tui.ui.screens.history import HistoryScreen

        if not self.is_headless and self.console.color_system in ("standard", "windows"):
            # Theme colours squeezed into 16 turn orange into red: use the terminal's own.
            self.theme = "ansi-dark"

        if self.first_run_demo and self._needs_demo():
            from notify_tui.ui.screens.demo import DemoScreen

            self.push_screen(DemoScreen())
        else:
            self.push_screen(HistoryScreen())

    def _needs_demo(self) -> bool:
        try:
            from notify_tui.services.demo import needs_demo
        except ImportError:  # pragma: no cover - the demo builder ships with the app
            return False
        return needs_demo(self.runtime)

    # Help

    def action_help(self) -> None:
        """Show the keys of the current screen."""
        screen = self.screen
        if isinstance(screen, HelpScreen):
            screen.dismiss(None)
            return
        entries = help_entries(screen.active_bindings, self.get_key_display)
        self.push_screen(HelpScreen(str(screen.title or screen.TITLE or "notify-tui"), entries))

    # Problems: one notification per problem until it is over, never a flood

    def report_problem(self, key: str, text: str, *, title: str) -> None:
        """Tell the user about a problem once; repeats stay quiet until it is solved."""
        if key in self._problems:
            return
        self._problems[key] = text
        self.notify(plain(text), title=title, severity="warning", timeout=10, markup=False)

    def problem_solved(self, key: str, text: str | None = None) -> None:
        """The problem is over; say so when ``text`` is given."""
        if self._problems.pop(key, None) is not None and text:
            self.notify(plain(text), timeout=5, markup=False)

    def poll_cycle_done(self, cycle: PollCycle) -> None:
        """What a poll cycle means for the user: provider trouble, or its end."""
        self.problem_solved("poll", "Live updates resumed.")
        if cycle.error:
            self.report_problem(
                "provider",
                f"{cycle.error}. Unknown messages will be checked again shortly.",
                title="The provider is not answering",
            )
        elif cycle.requests:
            self.problem_solved("provider", "The provider answers again.")

    def poll_failed(self, error: str) -> None:
        """A poll cycle broke (the loop goes on after a pause)."""
        self.report_problem("poll", error, title="Live updates paused")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The app's own workers (senders); each screen forwards its own.
        worker = event.worker
        if worker.group.startswith(SEND_GROUP) and event.state in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            campaign_id = int(worker.group.removeprefix(SEND_GROUP))
            if self._senders.get(campaign_id) is worker:
                del self._senders[campaign_id]
                self.send_progress.pop(campaign_id, None)
                self.sends_changed.publish(campaign_id)
        self.worker_changed(worker, event.state)

    def worker_changed(self, worker: Worker[Any], state: WorkerState) -> None:
        """Turn a worker's error into one notification."""
        key = f"worker:{worker.group}"
        if state is WorkerState.ERROR and worker.error is not None:
            self.report_problem(
                key, describe_error(worker.error), title=f"{worker.description} failed"
            )
        elif state is WorkerState.SUCCESS:
            self.problem_solved(key)

    # Sending: app-level workers, so that sending goes on whichever screen is shown

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
            self.notify(f"“{plain(name)}” is being sent already.", title="Sending", markup=False)
            return False
        self.send_progress[campaign_id] = None
        self._senders[campaign_id] = self.run_worker(
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
        from notify_tui.services.optout_policy import apply_to_updates
        from notify_tui.services.sender import resume_campaign, send_campaign

        settings = self.runtime.settings
        policy = settings.policy

        async def apply_policy(applied: AppliedUpdates) -> None:
            # Refusals such as 21614 (landline) resolve at send time: the policy judges them now.
            await asyncio.to_thread(apply_to_updates, applied, policy)

        def progress(event: SendProgress) -> None:
            self.post_message(SendProgressed(event))

        job = resume_campaign if resume else send_campaign
        try:
            result = await job(
                self.runtime.client,
                campaign_id,
                rate=settings.send_rate or None,
                on_progress=progress,
                on_applied=apply_policy,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            explained = user_message(exc)
            if explained is None:
                raise  # a bug: the worker's error handler tells the user
            self.post_message(SendingEnded(campaign_id, name, error=plain(explained)))
            return None
        self.post_message(SendingEnded(campaign_id, name, result=result))
        return result

    def on_send_progressed(self, event: SendProgressed) -> None:
        progress = event.progress
        campaign_id = progress.campaign_id
        if not self.is_sending(campaign_id):
            return
        self.send_progress[campaign_id] = progress
        if progress.trouble:
            self.report_problem(
                f"send:{campaign_id}",
                f"{progress.trouble}. Sending goes on as soon as it answers; nothing is sent "
                "twice.",
                title="The provider is not answering",
            )
        else:
            self.problem_solved(f"send:{campaign_id}", "The provider answers again.")
        self.sends_changed.publish(campaign_id)

    def on_sending_ended(self, event: SendingEnded) -> None:
        self.problem_solved(f"send:{event.campaign_id}")
        name = plain(event.name)
        result = event.result
        if event.error is not None:
            self.notify(
                f"“{name}” was not sent: {event.error}",
                title="Sending failed",
                severity="error",
                timeout=15,
                markup=False,
            )
        elif result is not None and result.state == "sent":
            refused = f", {count(result.refused)} refused by the provider" if result.refused else ""
            self.notify(
                f"“{name}”: {count(result.submitted)} messages submitted{refused}. Their "
                "statuses resolve on History and Details.",
                title="Campaign sent",
                timeout=8,
                markup=False,
            )
        elif result is not None:
            self.notify(
                f"“{name}” stopped with {count(result.remaining)} messages still to send. "
                "Select it on History and press R to resume; nothing is sent twice.",
                title="Sending interrupted",
                severity="warning",
                timeout=15,
                markup=False,
            )
        self.sends_changed.publish(event.campaign_id)

    # Quitting: a campaign being sent is stopped cleanly first

    async def action_quit(self) -> None:
        """Quit; while campaigns are being sent, ask first and stop them cleanly."""
        sending = self.sending_ids
        if not sending or self._quitting:
            # A second Ctrl+Q on the question means yes.
            await self._stop_sending_and_exit()
            return
        self._quitting = True
        what = "a campaign" if len(sending) == 1 else f"{len(sending)} campaigns"
        question = Text(
            f"notify-tui is sending {what}. Quitting stops sending: the rest stays recorded "
            "and you can resume it later from History (R), without sending anything twice.",
        )

        def answered(stop: bool | None) -> None:
            self._quitting = False
            if stop:
                self.call_next(self._stop_sending_and_exit)

        dialog = ConfirmDialog(
            "Stop sending and quit?", question, yes="Stop and quit", no="Keep sending"
        )
        self.push_screen(dialog, answered)

    async def _stop_sending_and_exit(self) -> None:
        workers = [w for w in self._senders.values() if not w.is_finished]
        for worker in workers:
            worker.cancel()
        if workers:
            # Each sender records what it did and leaves its campaign interrupted.
            await asyncio.wait(
                [asyncio.ensure_future(self._finished(w)) for w in workers], timeout=STOP_TIMEOUT
            )
        self.exit()

    @staticmethod
    async def _finished(worker: Worker[Any]) -> None:
        with contextlib.suppress(Exception):  # cancelled or failed: either way it is over
            await worker.wait()


def make_app(
    runtime: Runtime,
    *,
    poll: bool = True,
    first_run_demo: bool = True,
    clock: Clock = utcnow,
    tz: tzinfo | None = None,
) -> NotifyApp:
    """Build the app over an open runtime; nothing starts until it runs."""
    return NotifyApp(runtime, poll=poll, first_run_demo=first_run_demo, clock=clock, tz=tz)


def run_app(settings: Settings) -> int:
    """Open the workspace the settings name, run the app on it, close it; the exit status."""

    async def main() -> int:
        runtime = Runtime.open(settings)
        try:
            app = make_app(runtime)
            await app.run_async()
            return app.return_code or 0
        finally:
            await runtime.aclose()

    return asyncio.run(main())
