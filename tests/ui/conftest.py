"""Fixtures of the UI tests: a runtime on a temporary workspace and a fast sandbox provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from notify_tui.config import load_settings
from notify_tui.provider import sandbox_client
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.runtime import Runtime
from tests.ui.seed import SPRING, seed_campaign
from tests.ui.sql_guard import SqlOnLoopGuard


@pytest.fixture(autouse=True)
def no_sql_on_the_event_loop() -> Iterator[SqlOnLoopGuard]:
    """Fail the test if the app ran SQL on its event loop's thread (see ``sql_guard``)."""
    guard = SqlOnLoopGuard()
    guard.install()
    try:
        yield guard
    finally:
        guard.uninstall()
    if guard.offenders:
        shown = "\n\n".join(guard.offenders[:3])
        pytest.fail(
            f"{len(guard.offenders)} SQL statements ran on the event loop's thread:\n{shown}"
        )


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """The app watches messages resolve live, as it polls: the sandbox runs on the wall clock,
    its messages resolving within a fraction of a second."""
    return {"speed": 40.0, "seed": 7}


@pytest.fixture
async def runtime(sandbox: SandboxApp) -> AsyncIterator[Runtime]:
    """The workspace the autouse fixture points at, with the fast sandbox as its provider."""
    opened = Runtime.open(load_settings())
    runtime = Runtime(opened.settings, opened.database, sandbox_client(sandbox))
    yield runtime
    await runtime.aclose()


@pytest.fixture
def sync_runtime() -> Iterator[Runtime]:
    """The same workspace for synchronous tests (snapshots run their own event loop)."""
    runtime = Runtime.open(load_settings())
    yield runtime
    runtime.close()


@pytest.fixture
def spring() -> int:
    """The Spring sale campaign of ``tests.ui.seed.SPRING``: twelve people, every outcome."""
    return seed_campaign("Spring sale", SPRING)
