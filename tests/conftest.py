"""Fixtures for every test: isolated config and data paths, workspaces on both databases, the
sandbox provider on a clock the test moves, and a client of it.

A directory (or a module) changes how its sandbox is built by overriding ``sandbox_options``
(the UI's runs on the wall clock, 40 times faster) or ``clock`` (the provider tests' starts at a
fixed instant); the fixtures themselves are defined here alone."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

from tests.provider.support import FakeClock, RecordingSleep

if TYPE_CHECKING:
    from notify_tui.provider import TwilioClient
    from notify_tui.provider.sandbox import SandboxApp

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
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty workspace on each database, not opened yet (a fresh PostgreSQL
    schema, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'workspace.db'}"
        return
    yield from postgres_schema_url()


@pytest.fixture
def workspace_url(database_url: str) -> Iterator[str]:
    """The workspace of ``database_url``, open in this process; yields the URL, which opens the
    same workspace again (a subcommand, another process)."""
    from notify_tui.store.db import open_workspace
    from notify_tui.store.models import database

    db = open_workspace(database_url)
    try:
        yield database_url
    finally:
        db.close()
        database.initialize(None)


@pytest.fixture
def workspace(workspace_url: str) -> str:
    """An open, empty workspace on each database; its backend's name."""
    return "postgres" if workspace_url.startswith("postgresql") else "sqlite"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """An open SQLite workspace; yields its URL."""
    from notify_tui.store.db import open_workspace
    from notify_tui.store.models import database

    url = f"sqlite:///{tmp_path / 'workspace.db'}"
    db = open_workspace(url)
    try:
        yield url
    finally:
        db.close()
        database.initialize(None)


@pytest.fixture
def sqlite_workspace(sqlite_url: str, tmp_path: Path) -> Path:
    """The workspace of ``sqlite_url``; its file's path."""
    return tmp_path / "workspace.db"


@pytest.fixture
def clock() -> FakeClock:
    """The sandbox's clock: the wall clock's time when the test starts, then moved only by the
    test (``clock.advance(seconds)``), so a message's timeline passes without sleeping."""
    return FakeClock(time.time())


@pytest.fixture
def fake_sleep() -> RecordingSleep:
    """A sleep for the client's retries that returns at once and records each delay."""
    return RecordingSleep()


@pytest.fixture
def sandbox_options(clock: FakeClock) -> dict[str, Any]:
    """How ``sandbox`` is built: on ``clock``, outcomes and sids seeded."""
    return {"clock": clock, "seed": 7}


@pytest.fixture
def sandbox(sandbox_options: dict[str, Any]) -> Iterator[SandboxApp]:
    """The in-process sandbox provider, closed after the test."""
    from notify_tui.provider.sandbox import SandboxApp

    app = SandboxApp(**sandbox_options)
    yield app
    app.close()


@pytest.fixture
async def client(sandbox: SandboxApp, fake_sleep: RecordingSleep) -> AsyncIterator[TwilioClient]:
    """A provider client on ``sandbox`` (no sockets); its retries wait on ``fake_sleep``."""
    from notify_tui.provider import sandbox_client

    async with sandbox_client(sandbox, sleep=fake_sleep, max_retries=2) as c:
        yield c


@pytest.fixture
def sandbox_provider(sandbox: SandboxApp, monkeypatch: pytest.MonkeyPatch) -> SandboxApp:
    """Every runtime this test opens (a command run in this process) talks to ``sandbox``,
    which the test keeps, to count what reached it: the runtimes must not close it."""
    from notify_tui.provider import sandbox_client

    def build_client(settings: object) -> tuple[TwilioClient, None]:
        return sandbox_client(sandbox), None

    monkeypatch.setattr("notify_tui.services.runtime.build_client", build_client)
    return sandbox
