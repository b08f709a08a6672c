"""The workspace database: a version-1 workspace (a fixture file made by the first schema)
migrates with all its data, and processes sharing one SQLite workspace never tell the user
"database is locked"."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from notify_tui.store import name_search, suggestions
from notify_tui.store.campaigns import get_campaign, tally_series
from notify_tui.store.contacts import get_contact
from notify_tui.store.db import SCHEMA_VERSION, open_workspace, schema_version
from notify_tui.store.doctor import Check, examine, repair
from notify_tui.store.models import ALL_MODELS, Campaign, Contact, Message, database
from notify_tui.store.optouts import opt_out_history

from .support import CLI, ROOT, assert_all_consistent, subprocess_env

FIXTURE = ROOT / "tests" / "data" / "workspace-v1.sqlite3"
V1_TABLES = {"schema_info", "contact", "campaign", "message", "status_tally", "opt_out_event"}


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the file, as SQLite stores it."""
    raw = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in raw.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {t: raw.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall() for t in tables}
    finally:
        raw.close()


@pytest.fixture
def v1_copy(tmp_path: Path) -> Path:
    """A copy of the version-1 fixture (the committed file is never opened for writing)."""
    copy = tmp_path / "workspace-v1.db"
    shutil.copyfile(FIXTURE, copy)
    copy.chmod(0o644)  # as the first version left it: readable by every local user
    return copy


def test_the_fixture_is_a_version_1_workspace(v1_copy: Path) -> None:
    before = dump(v1_copy)
    assert set(before) == V1_TABLES
    assert before["schema_info"] == [("version", "1")]


def test_a_version_1_workspace_migrates_with_all_its_data(v1_copy: Path) -> None:
    before = dump(v1_copy)
    db = open_workspace(None, v1_copy)
    try:
        assert schema_version(db) == SCHEMA_VERSION
        tables = {m._meta.table_name for m in ALL_MODELS} | name_search.sqlite_tables()
        assert set(db.get_tables()) == tables

        # What the user sees: campaigns, counters, recipients, reasons, contacts, opt-outs.
        spring = get_campaign(1)
        assert spring is not None
        assert (spring.name, spring.state, spring.recipients) == ("Spring sale [b]", "sent", 12)
        assert (spring.delivered, spring.failed, spring.unknown) == (4, 8, 0)
        assert (spring.submitted, spring.skipped_opted_out) == (11, 1)
        assert str(spring.cost) == "0.0869"
        invalid = Message.get((Message.campaign == 1) & (Message.phone == "12"))
        assert (invalid.status, invalid.reason, invalid.detail) == (
            "failed",
            "Invalid number",
            "too short",
        )
        unreachable = Message.get((Message.campaign == 1) & (Message.error_code == 30003))
        assert unreachable.reason == "Unreachable destination handset"
        assert unreachable.detail.startswith("30003 · ")
        assert sum(d + f for _, d, f in tally_series(1)) == 11

        reminder = get_campaign(2)
        assert reminder is not None and reminder.state == "sending"
        refused = Message.get((Message.campaign == 2) & (Message.error_code == 21610))
        assert (refused.send_state, refused.reason) == (
            "refused",
            "HTTP 400 error - Unable to create record",
        )
        assert Message.get(Message.lease_owner == "host:1:abc").campaign_id == 2
        assert (
            Message.get(Message.note.is_null(False)).note == "no delivery receipt from the carrier"
        )

        assert Contact.select().count() == 12
        ann = get_contact("+14155550001")
        assert ann is not None and ann.attributes == {"city": "City 1"} and ann.name == "Person 1"
        opted = get_contact("+14155550003")
        assert opted is not None and opted.opted_out and opted.opt_out_source == "manual"
        back = get_contact("+14155550004")
        assert back is not None and not back.opted_out
        assert [e.action for e in opt_out_history("+14155550004")] == ["opt_out", "opt_in"]

        # The new table works.
        assert suggestions.suggest(
            "+14155550001", campaign_id=1, rule="repeat", code=30003, reason="twice", evidence={}
        )
        assert [s.phone for s in suggestions.pending()] == ["+14155550001"]
        assert_all_consistent()

        # What a crash left (a lease, a campaign still marked sending) and the first version's
        # readable file are all the doctor finds.
        found = examine()
        assert {p.check for p in found.problems} == {
            Check.EXPIRED_LEASES,
            Check.ABANDONED_SEND,
            Check.PERMISSIONS,
        }
        repair(found)
        assert examine().ok
    finally:
        db.close()
        database.initialize(None)

    # Every row of the first version is still there, unchanged, but what the repair touched.
    after = dump(v1_copy)
    assert (
        set(after)
        == V1_TABLES
        | {
            "opt_out_suggestion",
            "provider_fault",
            "sender_pace",
            "early_callback",
            "number_profile",
            "group_tally",
            "delivery_tally",
        }
        | name_search.sqlite_tables()
    )
    assert after["schema_info"][-1] == ("version", str(SCHEMA_VERSION))
    for table in ("contact", "opt_out_event", "status_tally"):
        # Later versions add their columns at the end (a contact's folded name: none, ASCII).
        kept = [row[: len(before[table][0])] for row in after[table]] if before[table] else []
        assert kept == before[table], table
    assert len(after["message"]) == len(before["message"])
    # The columns as the first version made them (later versions add theirs at the end).
    columns = [c.column_name for c in Message._meta.sorted_fields if c.name != "attempt_deadline"]
    lease = columns.index("lease_owner")
    price = columns.index("price")
    for old, new in zip(before["message"], after["message"], strict=True):
        # Version 3 keeps prices in whole millionths (exact sums): the same amount.
        micros = None if old[price] is None else round(Decimal(str(old[price])) * 1_000_000)
        assert new[price] == micros and isinstance(new[price], (int, type(None)))
        assert old[:price] + old[price + 1 : lease] == new[:price] + new[price + 1 : lease]
    # The columns later versions added, found by name (each migration adds its own at the end).
    raw = sqlite3.connect(v1_copy)
    try:
        names = [row[1] for row in raw.execute('PRAGMA table_info("message")')]
    finally:
        raw.close()
    added = [{n: row[names.index(n)] for n in names} for row in after["message"]]
    # Version 9 finds every number's profile, and the breakdowns' tallies.
    assert all(row["profile_id"] for row in added)
    assert all(row["name_folded"] is None for row in added)  # ASCII names: nothing to fold
    assert all(row["held_until"] is None for row in added)  # no quiet-hours hold (version 11)
    assert all(row["resolved_by"] is None for row in added)  # not recorded before version 12
    assert len(after["group_tally"]) >= 2


# -- several processes on one SQLite workspace -------------------------------------------------


def contacts_file(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("phone,name\n")
        for i in range(count):
            handle.write(f"+1212{300 + i // 10_000}{i % 10_000:04d},Person {i}\n")
    return path


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")
def test_a_poller_and_other_writers_on_one_sqlite_workspace_never_see_database_is_locked(
    tmp_path: Path, sqlite_url: str
) -> None:
    """``notify-tui poll``, ``send``, ``contacts import`` and ``optout`` at once, each in its own
    process, on one SQLite file (and the built-in sandbox's own file): all finish, and none
    says the database is locked."""
    env = subprocess_env(tmp_path, sqlite_url)
    audience = contacts_file(tmp_path / "audience.csv", 400)
    many = contacts_file(tmp_path / "many.csv", 20_000)
    logs: dict[str, Path] = {}

    def start(name: str, *args: str) -> subprocess.Popen[bytes]:
        logs[name] = tmp_path / f"{name}.log"
        with logs[name].open("wb") as log:
            return subprocess.Popen(
                [*CLI, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    poller = start("poll", "poll", "--timeout", "15")
    time.sleep(1.0)
    sender = start(
        "send",
        "send",
        "--name",
        "Busy",
        "--message",
        "Hi",
        "--csv",
        str(audience),
        "--yes",
        "--rate",
        "0",
    )
    importer = start("import", "contacts", "import", str(many))
    optouts = []
    for i in range(8):
        optouts.append(start(f"optout-{i}", "optout", f"+1415555{i:04d}", "--reason", "busy"))
        time.sleep(0.3)
    processes = {"send": sender, "import": importer} | {
        f"optout-{i}": p for i, p in enumerate(optouts)
    }
    try:
        for name, process in processes.items():
            assert process.wait(timeout=120) == 0, logs[name].read_text()
        assert poller.wait(timeout=60) == 0, logs["poll"].read_text()
    finally:
        for process in [poller, *processes.values()]:
            if process.poll() is None:
                process.kill()
    for name, log in logs.items():
        text = log.read_text()
        assert "locked" not in text.lower(), (name, text)
        assert "Traceback" not in text, (name, text)
    assert "resolved" in logs["poll"].read_text()

    manual = Contact.select().where(Contact.opted_out & (Contact.opt_out_source == "manual"))
    assert manual.count() == 8
    assert Contact.select().count() >= 20_000
    campaign = Campaign.get(Campaign.name == "Busy")
    assert campaign.state == "sent" and campaign.submitted + campaign.failed >= 390
    assert_all_consistent()
