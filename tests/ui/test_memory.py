"""The UI leaves the garbage collector little to do while it paints (see ui/memory.py)."""

from __future__ import annotations

import gc
import sys

from rich.segment import Segment
from textual.strip import Strip

from notify_tui.services.runtime import Runtime
from notify_tui.ui import memory
from notify_tui.ui.app import make_app
from tests.ui.seed import wait_for_campaigns


def test_a_line_drawn_in_one_piece_holds_no_reference_to_itself() -> None:
    # Textual's compositor divides every line it draws at the widget's edges; a line in one
    # piece was cached inside itself, so each one drawn became garbage only a full pass frees.
    memory.draw_without_cycles()
    strip = Strip([Segment("abc")])
    before = sys.getrefcount(strip)
    parts = strip.divide([3, 5])
    assert parts == [strip]
    del parts
    assert sys.getrefcount(strip) == before


def test_a_line_in_several_pieces_is_still_divided() -> None:
    memory.draw_without_cycles()
    memory.draw_without_cycles()  # idempotent
    strip = Strip([Segment("abcd")])
    assert [part.text for part in strip.divide([1, 3, 4])] == ["a", "bc", "d"]


async def test_the_app_hides_what_start_up_made_from_the_collector(
    runtime: Runtime, spring: int
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False)
    async with app.run_test() as pilot:
        await wait_for_campaigns(pilot)
        await pilot.pause()
        assert gc.get_freeze_count() > 0
        # Once per process: a later app freezes nothing more.
        assert memory.freeze_startup_objects() is False
