"""First run: build a demo workspace through the sandbox while the user watches it fill."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from notify_tui.ui.formatting import describe_error, plain
from notify_tui.ui.messages import DemoBuilt, DemoProgressed, HistoryOpened
from notify_tui.ui.screens.base import NotifyScreen
from notify_tui.ui.widgets.footer import NotifyFooter

INTRO = (
    "No campaigns yet, and no provider credentials: notify-tui is using its built-in sandbox "
    "provider. It is sending a few demo campaigns through it so you can see how everything "
    "works. Nothing leaves this machine."
)


class DemoScreen(NotifyScreen):
    """Shows the demo build's progress, then History."""

    TITLE = "Demo"
    HELP_SECTION = "Demo"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "skip",
            "Skip",
            id="demo.skip",
            tooltip="Stop building the demo and go to History with what is there",
        ),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="demo-box", classes="dialog") as box:
            box.border_title = "Setting up a demo workspace"
            yield Static(Text(INTRO), id="demo-intro")
            yield Static(Text("Starting…"), id="demo-stage")
            yield ProgressBar(total=None, show_eta=False, id="demo-progress")
        yield NotifyFooter()

    def on_mount(self) -> None:
        self._build()

    @work(
        exclusive=True,
        group="demo",
        exit_on_error=False,
        description="Building the demo workspace",
    )
    async def _build(self) -> None:
        from notify_tui.services.demo import build_demo

        def progress(event: object) -> None:
            stage = getattr(event, "stage", "")
            done = int(getattr(event, "done", 0))
            total = int(getattr(event, "total", 0))
            self.post_message(DemoProgressed(str(stage), done, total))

        try:
            await build_demo(self.notify_app.runtime, progress)
        except Exception as exc:  # a demo that fails must still leave a usable app
            self.post_message(DemoBuilt(describe_error(exc)))
            return
        self.post_message(DemoBuilt())

    def on_demo_progressed(self, event: DemoProgressed) -> None:
        event.stop()
        self.query_one("#demo-stage", Static).update(Text(plain(event.stage)))
        bar = self.query_one(ProgressBar)
        bar.update(total=event.total or None, progress=event.done)

    def on_demo_built(self, event: DemoBuilt) -> None:
        event.stop()
        if event.error:
            self.app.notify(
                f"The demo could not be built: {event.error}",
                severity="warning",
                timeout=10,
                markup=False,
            )
        self._to_history()

    def action_skip(self) -> None:
        """Stop the build and show what is there."""
        self.workers.cancel_group(self, "demo")
        self._to_history()

    def _to_history(self) -> None:
        self.post_message(HistoryOpened())
