"""Fixtures of the hardening tests (``workspace_url``, a workspace on each database with the URL
that opens it again, is in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """An open SQLite workspace; yields its URL."""
    from notify_tui.store.db import open_workspace
    from notify_tui.store.models import database

    url = f"sqlite:///{tmp_path / 'workspace.db'}"
    db = open_workspace(url)
    yield url
    db.close()
    database.initialize(None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: a long test (the big import); NOTIFY_TEST_IMPORT_LINES sets its size"
    )
