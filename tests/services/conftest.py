"""What the tests of the services and their commands share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from notify_tui.store.db import open_workspace
from notify_tui.store.models import database


@pytest.fixture
def workspace_db(tmp_path: Path) -> Iterator[None]:
    """The workspace the commands open (the test's data folder), open here too for the test to
    fill and read."""
    db = open_workspace(None, tmp_path / "data" / "workspace.db")
    try:
        yield
    finally:
        db.close()
        database.initialize(None)
