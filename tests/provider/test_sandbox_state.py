"""The sandbox's state: it survives restarts, and batches its writes without losing reads."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notify_tui.provider import NotFoundError, sandbox_client
from notify_tui.provider.sandbox import Faults, SandboxApp
from notify_tui.provider.sandbox.state import SandboxState

from .support import FROM, FakeClock, number_with


def rows_on_disk(path: Path) -> int:
    """Messages another connection sees: what is committed to the file."""
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
    finally:
        db.close()


async def test_messages_survive_a_restart(
    make_app: Callable[..., SandboxApp], clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "state" / "sandbox.sqlite3"
    first = make_app(state_path=path)
    day = datetime.fromtimestamp(clock.now, UTC).date()
    numbers = [number_with("delivered", prefix=f"+1{a}555") for a in (202, 303, 404)]
    async with sandbox_client(first) as client:
        created = [await client.create_message(n, f"to {n}", from_=FROM) for n in numbers]
        first.faults = Faults(lost_rate=1.0)
        lost = await client.create_message(
            number_with("delivered", prefix="+1505555"), "x", from_=FROM
        )
    first.close()
    assert rows_on_disk(path) == 4

    clock.advance(24 * 3600)  # the next day, a new process
    second = make_app(state_path=path, seed=99)
    async with sandbox_client(second) as client:
        assert created[0].sid is not None
        again = await client.fetch_message(created[0].sid)
        assert again.status == "delivered"
        assert (again.to, again.body, again.date_created) == (
            created[0].to,
            created[0].body,
            created[0].date_created,
        )
        listed = [m async for page in client.list_messages(date_sent=day) for m in page]
        assert sorted(m.sid or "" for m in listed) == sorted(m.sid or "" for m in created)
        later = [
            m
            async for page in client.list_messages(date_sent_after=day + timedelta(1))
            for m in page
        ]
        assert later == [], "nothing was sent the next day"
        assert lost.sid is not None
        with pytest.raises(NotFoundError):
            await client.fetch_message(lost.sid)
        newer = await client.create_message(numbers[0], "day 2", from_=FROM)
    assert newer.sid not in {m.sid for m in created}
    assert second.stats()["messages"] == 5


async def test_writes_are_batched_but_always_readable(
    make_app: Callable[..., SandboxApp], tmp_path: Path
) -> None:
    path = tmp_path / "sandbox.sqlite3"
    app = make_app(state_path=path, commit_every=3, commit_interval=60)
    async with sandbox_client(app) as client:
        a = await client.create_message(number_with("delivered"), "a", from_=FROM)
        b = await client.create_message(number_with("delivered"), "b", from_=FROM)
        assert rows_on_disk(path) == 0, "not committed yet"
        assert a.sid is not None and b.sid is not None
        assert (await client.fetch_message(b.sid)).body == "b", "yet the app reads it"
        assert app.stats()["messages"] == 2
        await client.create_message(number_with("delivered"), "c", from_=FROM)
        assert rows_on_disk(path) == 3, "committed every 3 writes"
        await client.create_message(number_with("delivered"), "d", from_=FROM)
        assert rows_on_disk(path) == 3
        app.flush()
        assert rows_on_disk(path) == 4


async def test_pending_writes_are_committed_on_a_short_timer(
    make_app: Callable[..., SandboxApp], tmp_path: Path
) -> None:
    path = tmp_path / "sandbox.sqlite3"
    app = make_app(state_path=path, commit_interval=0.01)
    async with sandbox_client(app) as client:
        await client.create_message(number_with("delivered"), "a", from_=FROM)
        assert rows_on_disk(path) == 0
        for _ in range(100):
            await asyncio.sleep(0.01)
            if rows_on_disk(path) == 1:
                break
        assert rows_on_disk(path) == 1


async def test_lifespan_shutdown_commits(
    make_app: Callable[..., SandboxApp], tmp_path: Path
) -> None:
    path = tmp_path / "sandbox.sqlite3"
    app = make_app(state_path=path, commit_interval=60)
    async with sandbox_client(app) as client:
        await client.create_message(number_with("delivered"), "a", from_=FROM)
    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return next(events)

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan"}, receive, send)  # type: ignore[arg-type]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert rows_on_disk(path) == 1


def test_state_of_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 42")
    db.close()
    with pytest.raises(ValueError, match="another version"):
        SandboxState(path)


def test_file_state_uses_wal(tmp_path: Path) -> None:
    state = SandboxState(tmp_path / "s.sqlite3")
    state.close()
    db = sqlite3.connect(tmp_path / "s.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {row[1] for row in db.execute("PRAGMA index_list(messages)")}
    db.close()
    assert {"messages_by_date", "messages_by_to", "messages_by_from"} <= indexes


async def test_the_same_seed_over_an_old_state_still_makes_new_sids(
    make_app: Callable[..., SandboxApp], tmp_path: Path
) -> None:
    path = tmp_path / "sandbox.sqlite3"
    sids = []
    for _ in range(2):
        app = make_app(state_path=path, seed=5)
        async with sandbox_client(app) as client:
            sids.append(
                (await client.create_message(number_with("delivered"), "a", from_=FROM)).sid
            )
        app.close()
    assert sids[0] != sids[1]
    assert rows_on_disk(path) == 2
