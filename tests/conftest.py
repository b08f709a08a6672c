"""Fixtures for every test: isolated config and data paths, workspaces on both databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests explore new random inputs on every developer run. The CI gate replays the same
# inputs every time (a submission must not pass or fail by lottery); "thorough" is for hunting:
#   HYPOTHESIS_PROFILE=thorough .venv/bin/pytest tests/hardening/test_properties.py
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("thorough", max_examples=5_000, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)

DEFAULT_TEST_PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the user's config or data, or real credentials from the environment."""
    for name in list(os.environ):
        if name.startswith(("NOTIFY_", "TWILIO_")) and name != "NOTIFY_TEST_DATABASE_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NOTIFY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NOTIFY_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("NO_COLOR", "")
    monkeypatch.delenv("NO_COLOR")
    return tmp_path


_pg_reason: str | None = None
_pg_checked = False


def postgres_url() -> str | None:
    """The PostgreSQL server for tests, or ``None`` (with the reason kept) when none answers."""
    global _pg_checked, _pg_reason
    url = os.environ.get("NOTIFY_TEST_DATABASE_URL", DEFAULT_TEST_PG)
    if not _pg_checked:
        _pg_checked = True
        try:
            import psycopg2

            psycopg2.connect(url, connect_timeout=3).close()
        except Exception as exc:  # any failure means: no server to test against
            _pg_reason = f"no PostgreSQL at {url.split('@')[-1]}: {str(exc).strip()[:120]}"
    return None if _pg_reason else url


def postgres_schema_url() -> Iterator[str]:
    """A fresh schema on the test server, dropped afterwards; the URL selects it."""
    url = postgres_url()
    if url is None:
        pytest.skip(_pg_reason or "no PostgreSQL")
    import psycopg2

    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An open, empty workspace on each database; yields the backend name."""
    from notify_tui.store.db import open_workspace
    from notify_tui.store.models import database

    if request.param == "sqlite":
        db = open_workspace(None, tmp_path / "workspace.db")
        yield "sqlite"
        db.close()
        return
    for url in postgres_schema_url():
        db = open_workspace(url)
        try:
            yield "postgres"
        finally:
            db.close()
    database.initialize(None)


@pytest.fixture
def sqlite_workspace(tmp_path: Path) -> Iterator[Path]:
    """An open SQLite workspace; yields its path."""
    from notify_tui.store.db import open_workspace

    path = tmp_path / "workspace.db"
    db = open_workspace(None, path)
    yield path
    db.close()
