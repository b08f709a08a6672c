"""The Textual app: built by ``make_app`` from a runtime, started by ``run_app``.

``make_app`` builds and starts nothing (no database, no client, no worker): the CLI and the tests
both use it, and everything starts when the app mounts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, tzinfo
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerState

from notify_tui.config import Settings
from notify_tui.services.poller import PollCycle, Poller
from notify_tui.services.runtime import Runtime
from notify_tui.store.models import utcnow
from notify_tui.ui.formatting import plain
from notify_tui.ui.polling import POLL_BATCH, describe_error
from notify_tui.ui.screens.help import HelpScreen, help_entries

Clock = Callable[[], datetime]


def stylesheet_path() -> Path:
    """``notify.tcss`` as installed inside the package (a regular install or an editable one)."""
    return Path(str(files("notify_tui").joinpath("notify.tcss")))


class NotifyApp(App[int]):
    """notify-tui: History, Details, live resolution of Unknown messages, opt-outs."""

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

    def worker_changed(self, worker: Worker[Any], state: WorkerState) -> None:
        """Turn a worker's error into one notification."""
        key = f"worker:{worker.group}"
        if state is WorkerState.ERROR and worker.error is not None:
            self.report_problem(
                key, describe_error(worker.error), title=f"{worker.description} failed"
            )
        elif state is WorkerState.SUCCESS:
            self.problem_solved(key)


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
