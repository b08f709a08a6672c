"""Fixtures of the hardening tests: a workspace on each database with its URL, so that
subcommands (in this process or in others) can open the same one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import postgres_schema_url


@pytest.fixture(params=["sqlite", "postgres"])
def workspace_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An open, empty workspace on each database; yields the URL that opens it again."""
    from notify_tui.store.db import open_workspace
    from notify_tui.store.models import database

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'workspace.db'}"
        db = open_workspace(url)
        yield url
        db.close()
        database.initialize(None)
        return
    for url in postgres_schema_url():
        db = open_workspace(url)
        try:
            yield url
        finally:
            db.close()
            database.initialize(None)


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
