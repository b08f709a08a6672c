"""What every screen of the app shares: the app it runs in and one way to report worker errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker

from notify_tui.ui.messages import WorkerEnded

if TYPE_CHECKING:
    from notify_tui.ui.app import NotifyApp


def offered_where_it_acts(binding: Binding) -> list[Binding]:
    """``binding``, and the same key hidden, to say why it does nothing where it is not offered.

    The screen's ``check_action`` hides ``binding`` (from the footer too) where it cannot act;
    the key then falls to the hidden one, which calls ``action_why_not(action)``. Help lists the
    key either way (F1 shows every key in force).
    """
    assert binding.id is not None
    why_not = Binding(
        binding.key,
        f"why_not({binding.action!r})",
        binding.description,
        show=False,
        id=f"{binding.id}_why_not",
        tooltip=binding.tooltip,
    )
    return [binding, why_not]


class NotifyScreen(Screen[Any]):
    """A screen of notify-tui."""

    FOOTER_PRIORITY: ClassVar[tuple[str, ...]] = ()
    """The actions whose keys the footer keeps longest on a narrow terminal, the most important
    first (``NotifyFooter``): the others give way before them. F1 always stays."""

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
