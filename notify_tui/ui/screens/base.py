"""What every screen of the app shares: the app it runs in and one way to report worker errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.screen import Screen
from textual.worker import Worker

from notify_tui.ui.messages import WorkerEnded

if TYPE_CHECKING:
    from notify_tui.ui.app import NotifyApp


class NotifyScreen(Screen[Any]):
    """A screen of notify-tui."""

    @property
    def notify_app(self) -> NotifyApp:
        """The app, typed."""
        return cast("NotifyApp", self.app)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Worker messages do not bubble: each screen hands its workers' fate to the app.
        self.notify_app.worker_changed(event.worker, event.state)

    def on_worker_ended(self, event: WorkerEnded) -> None:
        event.stop()
        self.notify_app.worker_changed(event.worker, event.state)

    def on_unmount(self) -> None:
        # A screen that is gone follows nothing live any more.
        self.notify_app.live.unfollow(self)
