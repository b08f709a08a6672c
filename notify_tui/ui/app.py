"""The Textual app: built by ``make_app`` from a runtime, started by ``run_app``.

``make_app`` builds and starts nothing (no database, no client, no worker): the CLI and the tests
both use it, and everything starts when the app mounts.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, tzinfo
from functools import partial
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from notify_tui.domain.campaign_sort import CampaignSort
from notify_tui.domain.status import CampaignState
from notify_tui.services.runtime import Runtime
from notify_tui.store.models import utcnow
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.folders import user_folder
from notify_tui.ui.formatting import count, describe_error, local, plain
from notify_tui.ui.keymap import check_keymap, with_why_nots
from notify_tui.ui.live import LiveUpdates, PollResult
from notify_tui.ui.memory import draw_without_cycles, freeze_startup_objects
from notify_tui.ui.messages import (
    CampaignComposed,
    CampaignOpened,
    ComposeOpened,
    ContactsOpened,
    HistoryOpened,
    OptOutsOpened,
    SendingEnded,
    SendProgressed,
)
from notify_tui.ui.preferences import remember_theme, theme_to_use
from notify_tui.ui.screens.help import HelpScreen, help_entries

if TYPE_CHECKING:
    # The services that poll and send bring httpx and the provider: they are imported when
    # they are first used, after History's first frame.
    from notify_tui.config import Settings

Clock = Callable[[], datetime]

FAULT_QUIET = 30.0
"""Seconds between two notifications of provider faults."""

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
        # Priority: a dialog (a modal screen) would otherwise hide the app's keys, and F1 in
        # a dialog did nothing.
        Binding(
            "f1",
            "help",
            "Help",
            id="app.help",
            priority=True,
            tooltip="List the keys of this screen",
        ),
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            id="app.quit",
            priority=True,
            tooltip="Quit notify-tui (asks first while sending; a campaign stopped mid-send is "
            "left interrupted and offered for resuming at the next start, never resumed by itself)",
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
        """Whether Unknown messages are resolved live."""
        self.first_run_demo = first_run_demo
        self.offer_resume = True
        """Whether History, when first shown, offers to resume an interrupted campaign."""
        self.clock = clock
        """Now, as naive UTC (fixed in snapshot tests)."""
        self.tz = tz
        """The zone times are shown in (``None``: this machine's)."""
        self._problems: dict[str, str] = {}
        self._faults_told_at = -FAULT_QUIET
        self._quitting = False
        self.live = LiveUpdates(self, runtime, poll=poll)
        """The poll worker and the senders, and the signals the screens follow them by."""
        self.stopped_by: str | None = None
        """The signal that stopped the app, when one did."""
        self.interrupted_ids: list[int] = []
        """The campaigns a signal interrupted."""
        self.history_sort = CampaignSort.NEWEST
        """The order History lists the campaigns in (``s``), kept for the session."""
        self._theme_in_use = self.theme

    async def on_mount(self) -> None:
        from notify_tui.ui.screens.history import HistoryScreen

        draw_without_cycles()

        self.live.statuses_resolved.subscribe(self, self._poll_cycle_done, immediate=True)
        self.live.poll_failed.subscribe(self, self._poll_failed, immediate=True)

        settings = self.runtime.settings
        if settings.keys:
            self.set_keymap(with_why_nots(settings.keys))
        self._use_theme(theme_to_use(settings))
        self.theme_changed_signal.subscribe(self, self._theme_changed)

        # Read on a thread, as every query: the database may be across a network.
        if self.first_run_demo and await asyncio.to_thread(self._needs_demo):
            from notify_tui.ui.screens.demo import DemoScreen

            self.push_screen(DemoScreen())
        else:
            self.push_screen(HistoryScreen())
        # After the first frame: what start-up made stays for good (see ui/memory.py).
        self.call_after_refresh(freeze_startup_objects)
        if settings.keys:
            self.call_after_refresh(self._check_keymap)

    # Keys and theme the user chose

    def _use_theme(self, theme: str | None) -> None:
        if theme is not None and theme not in self.available_themes:
            names = ", ".join(sorted(self.available_themes))
            self.notify(
                f"Unknown theme {theme!r} (the theme setting): choose one of {names}, or pick "
                "one with the command palette (Ctrl+P).",
                title="Theme",
                severity="warning",
                markup=False,
            )
            theme = None
        if theme is not None:
            self.theme = theme
        elif not self.is_headless and self.console.color_system in ("standard", "windows"):
            # Theme colours squeezed into 16 turn orange into red: use the terminal's own.
            self.theme = "ansi-dark"
        self._theme_in_use = self.theme

    def _theme_changed(self, theme: Theme) -> None:
        # Also heard for the theme set at start: only a change is a choice worth remembering.
        if theme.name == self._theme_in_use:
            return
        self._theme_in_use = theme.name
        settings = self.runtime.settings
        self.run_worker(
            partial(remember_theme, settings, theme.name),
            thread=True,
            group="preferences",
            description="Remembering the theme",
            exit_on_error=False,
        )

    @work(thread=True, group="preferences", exit_on_error=False, description="Checking [keys]")
    def _check_keymap(self) -> None:
        check = check_keymap(self.runtime.settings.keys)
        where = f"[keys] in {self.runtime.settings.config_path}"
        if check.unknown:
            self.call_from_thread(
                self.notify,
                f"{where} names no key of the app: {', '.join(check.unknown)} (the README "
                "lists the ids, under Remapping keys).",
                title="Keys",
                severity="warning",
                markup=False,
                timeout=15,
            )
        for key, ids in check.clashes:
            self.call_from_thread(
                self.notify,
                f"{where}: {key} would do {' and '.join(ids)}, on one screen; only the first "
                "would ever act. Give one of them another key.",
                title="Keys",
                severity="warning",
                markup=False,
                timeout=15,
            )

    def _needs_demo(self) -> bool:
        try:
            from notify_tui.services.demo import needs_demo
        except ImportError:  # pragma: no cover - the demo builder ships with the app
            return False
        return needs_demo(self.runtime)

    # Navigation: screens post where the user goes; the app shows it

    def on_campaign_opened(self, event: CampaignOpened) -> None:
        from notify_tui.ui.screens.details import DetailsScreen

        self.push_screen(DetailsScreen(event.campaign_id))

    def on_compose_opened(self, event: ComposeOpened) -> None:
        from notify_tui.ui.screens.compose import ComposeScreen

        def composed(campaign_id: int | None) -> None:
            if campaign_id is not None:
                self.screen.post_message(CampaignComposed(campaign_id))

        self.push_screen(ComposeScreen(), composed)

    def on_contacts_opened(self, event: ContactsOpened) -> None:
        from notify_tui.ui.screens.contacts import ContactsScreen

        self.push_screen(ContactsScreen())

    def on_opt_outs_opened(self, event: OptOutsOpened) -> None:
        from notify_tui.ui.screens.optouts import OptOutsScreen

        self.push_screen(OptOutsScreen())

    def on_history_opened(self, event: HistoryOpened) -> None:
        from notify_tui.ui.screens.history import HistoryScreen

        self.switch_screen(HistoryScreen())

    # Help

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        # Textual saves to the downloads folder and fails when there is none: fall back to the
        # documents folder, then the home folder.
        return super().deliver_screenshot(filename, path or str(user_folder()), time_format)

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

    def report_faults(self, count: int, latest: str | None) -> None:
        """Tell the user the provider gave answers that were rejected (never applied); at
        most once every ``FAULT_QUIET`` seconds, however many come."""
        now = time.monotonic()
        if not count or now - self._faults_told_at < FAULT_QUIET:
            return
        self._faults_told_at = now
        text = (
            f"{count:,} provider answer{'s' if count != 1 else ''} rejected, not applied"
            f"{f': {latest}' if latest else ''}. notify-tui doctor lists them."
        )
        self.notify(
            plain(text), title="Provider fault", severity="warning", timeout=10, markup=False
        )

    def _poll_cycle_done(self, result: PollResult) -> None:
        """What a poll cycle means for the user: provider trouble, or its end."""
        cycle = result.cycle
        self.report_faults(len(cycle.faults), cycle.faults[-1].text if cycle.faults else None)
        self.problem_solved("poll", "Live updates resumed.")
        if cycle.error:
            self.report_problem(
                "provider",
                f"{cycle.error}. Unknown messages will be checked again shortly.",
                title="The provider is not answering",
            )
        elif cycle.requests:
            self.problem_solved("provider", "The provider answers again.")

    def _poll_failed(self, error: str) -> None:
        """A poll cycle broke (polling goes on after a pause)."""
        self.report_problem("poll", error, title="Live updates paused")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The app's own workers (the poller, the senders); each screen forwards its own.
        self.live.sender_changed(event.worker, event.state)
        self.worker_changed(event.worker, event.state)

    def worker_changed(self, worker: Worker[Any], state: WorkerState) -> None:
        """Turn a worker's error into one notification."""
        key = f"worker:{worker.group}"
        if state is WorkerState.ERROR and worker.error is not None:
            self.report_problem(
                key, describe_error(worker.error), title=f"{worker.description} failed"
            )
        elif state is WorkerState.SUCCESS:
            self.problem_solved(key)

    # Sending: the live service sends; the app tells the user how it goes

    def start_sending(self, campaign_id: int, name: str, *, resume: bool = False) -> bool:
        """Send (or resume) a recorded campaign in the background; False if already sending."""
        if not self.live.start_sending(campaign_id, name, resume=resume):
            self.notify(f"“{plain(name)}” is being sent already.", title="Sending", markup=False)
            return False
        return True

    def on_send_progressed(self, event: SendProgressed) -> None:
        progress = event.progress
        campaign_id = progress.campaign_id
        previous = self.live.send_progress.get(campaign_id)
        if not self.live.progressed(progress):
            return
        if progress.faults > (previous.faults if previous is not None else 0):
            self.report_faults(progress.faults, None)
        if progress.trouble:
            self.report_problem(
                f"send:{campaign_id}",
                f"{progress.trouble}. Sending goes on as soon as it answers; nothing is sent "
                "twice.",
                title="The provider is not answering",
            )
        else:
            self.problem_solved(f"send:{campaign_id}", "The provider answers again.")

    def on_sending_ended(self, event: SendingEnded) -> None:
        self.problem_solved(f"send:{event.campaign_id}")
        name = plain(event.name)
        result = event.result
        if result is not None and result.fault_count:
            # The run's whole count, whenever the last notification was.
            self._faults_told_at = -FAULT_QUIET
            self.report_faults(result.fault_count, result.latest_fault)
        if event.error is not None:
            self.notify(
                f"“{name}” was not sent: {event.error}",
                title="Sending failed",
                severity="error",
                timeout=15,
                markup=False,
            )
        elif result is not None and result.state == CampaignState.SENT:
            refused = f", {count(result.refused)} refused by the provider" if result.refused else ""
            self.notify(
                f"“{name}”: {count(result.submitted)} messages submitted{refused}. Their "
                "statuses resolve on History and Details.",
                title="Campaign sent",
                timeout=8,
                markup=False,
            )
        elif result is not None and result.state == CampaignState.SCHEDULED:
            when = f"{local(result.wake_at, self.tz):%Y-%m-%d %H:%M}" if result.wake_at else "later"
            held = f"{count(result.held)} recipients held by quiet hours; " if result.held else ""
            self.notify(
                f"“{name}”: {count(result.submitted)} submitted; {held}the rest goes out from "
                f"{when}, sent by this app or notify-tui poll (one must be running then).",
                title="Campaign scheduled",
                timeout=12,
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
        self.live.sends_changed.publish(event.campaign_id)

    # Quitting: a campaign being sent is stopped cleanly first

    async def action_quit(self) -> None:
        """Quit; while campaigns are being sent, ask first and stop them cleanly."""
        sending = self.live.sending_ids
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

    def stop_on_signal(self, name: str) -> None:
        """Stop as a confirmed Ctrl+Q does (``name``, e.g. SIGTERM, is why): every campaign
        being sent stops cleanly, interrupted and resumable, then the app exits."""
        if self.stopped_by is None:
            self.stopped_by = name
            self.interrupted_ids = self.live.sending_ids
            self.call_next(self._stop_sending_and_exit)

    async def _stop_sending_and_exit(self) -> None:
        await self.live.stop_sending(STOP_TIMEOUT)
        self.exit()


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
            with _stop_on_signals(app):
                await app.run_async()
            if app.stopped_by is not None:
                for campaign_id in app.interrupted_ids:
                    print(
                        f"Campaign {campaign_id} stopped; nothing was sent twice. Resume with R "
                        f"in History or notify-tui send --resume {campaign_id}",
                        file=sys.stderr,
                    )
                print(f"notify-tui: interrupted ({app.stopped_by})", file=sys.stderr)
                return 130
            return app.return_code or 0
        finally:
            await runtime.aclose()

    return asyncio.run(main())


@contextlib.contextmanager
def _stop_on_signals(app: NotifyApp) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP (a ``kill``, systemd, a closed terminal) stop the app as a
    confirmed Ctrl+Q does. Ctrl+C itself is a key in the app, never a signal."""
    loop = asyncio.get_running_loop()
    installed = []
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is None or signal.getsignal(number) is signal.SIG_IGN:
            continue
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(number, app.stop_on_signal, name)
            installed.append(number)
    try:
        yield
    finally:
        for number in installed:
            loop.remove_signal_handler(number)
