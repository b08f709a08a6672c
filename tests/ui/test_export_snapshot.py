"""How the export dialog looks over Details, at 80x24 (pytest-textual-snapshot).

Regenerate with ``pytest tests/ui/test_export_snapshot.py --snapshot-update`` and look at the SVG.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from textual.pilot import Pilot

from notify_tui.services.runtime import Runtime
from notify_tui.ui.app import make_app
from notify_tui.ui.dialogs.export import ExportDialog
from notify_tui.ui.screens.details import DetailsScreen
from tests.ui.seed import SPRING, fixed_clock, seed_campaign, wait_until


def test_export_dialog(  # type: ignore[no-untyped-def]
    snap_compare, sync_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fixed folder, whoever runs the test (it does not exist: nothing is written).
    monkeypatch.setattr(
        "notify_tui.ui.screens.details.user_folder", lambda: Path("/home/ann/Downloads")
    )
    campaign = seed_campaign("Spring sale [bold]x", SPRING)
    app = make_app(sync_runtime, poll=False, first_run_demo=False, clock=fixed_clock, tz=UTC)

    async def run_before(pilot: Pilot) -> None:
        await app.push_screen(DetailsScreen(campaign))
        await wait_until(pilot, lambda: getattr(app.screen, "loaded", False))
        await pilot.press("f", "e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
