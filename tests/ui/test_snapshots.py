"""How History and Details look, on fixed data and a fixed clock (pytest-textual-snapshot).

Regenerate with ``pytest tests/ui/test_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from datetime import UTC

from textual.pilot import Pilot

from notify_tui.services.runtime import Runtime
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.screens.details import DetailsScreen
from tests.ui.seed import fixed_clock, seed_history, wait_until


def build(runtime: Runtime) -> NotifyApp:
    return make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock, tz=UTC)


def open_details(campaign_id: int, *keys: str):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        await app.push_screen(DetailsScreen(campaign_id))
        await pilot.pause()
        await wait_until(pilot, lambda: getattr(app.screen, "loaded", False))
        if keys:
            await pilot.press(*keys)
        await pilot.pause()

    return run_before


def test_history(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    seed_history()
    assert snap_compare(build(sync_runtime), terminal_size=(80, 24))


def test_history_wide(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    seed_history()
    assert snap_compare(build(sync_runtime), terminal_size=(140, 20))


def test_details(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    spring = seed_history()["Spring sale"]
    app = build(sync_runtime)
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_details(spring))


def test_details_wide(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    spring = seed_history()["Spring sale"]
    app = build(sync_runtime)
    assert snap_compare(app, terminal_size=(140, 36), run_before=open_details(spring))


def test_details_filtered_by_reason(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    spring = seed_history()["Spring sale"]
    app = build(sync_runtime)
    run_before = open_details(spring, "r", "down", "enter")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_details_help(snap_compare, sync_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    spring = seed_history()["Spring sale"]
    app = build(sync_runtime)
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_details(spring, "f1"))
