"""FilterInput: what to filter by is said once the typing settles, or at once on leaving."""

from __future__ import annotations

from textual import on
from textual.app import App, ComposeResult

from notify_tui.ui.widgets.filter_input import FilterInput
from tests.ui.seed import wait_until


class Box(App[None]):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.settled: list[str] = []
        self.dismissed: list[bool] = []

    def compose(self) -> ComposeResult:
        yield FilterInput(placeholder="filter", delay=self.delay, id="box")

    @on(FilterInput.Settled)
    def _settled(self, event: FilterInput.Settled) -> None:
        self.settled.append(event.value)

    @on(FilterInput.Dismissed)
    def _dismissed(self, event: FilterInput.Dismissed) -> None:
        self.dismissed.append(event.cleared)


async def test_typing_settles_once_after_the_delay() -> None:
    # A delay far above the gap between the pilot's key presses, even on a loaded machine
    # (0.05 s settled on "a" alone when the test ran beside three others on 2 cores).
    app = Box(delay=1.0)
    async with app.run_test() as pilot:
        app.query_one(FilterInput).focus()
        await pilot.press(*"ada")
        await wait_until(pilot, lambda: app.settled != [])
        assert app.settled == ["ada"]


async def test_leaving_the_box_settles_at_once_and_once() -> None:
    app = Box(delay=600.0)  # never, within the test: only leaving the box settles
    async with app.run_test() as pilot:
        app.query_one(FilterInput).focus()
        await pilot.press(*"hopper")
        await pilot.pause()
        assert app.settled == []
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.dismissed == [False])
        assert app.settled == ["hopper"]
        app.query_one(FilterInput).focus()
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.dismissed == [False, True])
        assert app.settled == ["hopper", ""]
        assert app.query_one(FilterInput).value == ""
