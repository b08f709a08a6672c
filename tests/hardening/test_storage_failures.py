"""The storage fails while a command runs: a full disk, a read-only file, a lock held too long,
a vanished WAL, a PostgreSQL that goes away. One line each, nothing committed is lost, and a
sender stops as if interrupted and resumes cleanly, sending nobody the campaign twice.

The full disk is real: a small tmpfs, mounted for the test (root only; skipped otherwise), so
SQLite meets ENOSPC exactly as on a full disk, in the database file and in its WAL.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import postgres_schema_url
from tests.data.damaged_workspaces import fill_disk

from .support import CLI, ROOT, subprocess_env

AUDIENCE = 3000
SENDING = [*CLI, "send", "--all-contacts", "--yes", "--rate", "300", "--message", "Hi", "--name"]
"""``send`` at 300 a second (long enough to be caught in the middle), but for the name."""


def audience_file(path: Path, count: int = AUDIENCE) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("phone,name\n")
        for i in range(count):
            handle.write(f"+1212{300 + i // 10_000}{i % 10_000:04d},Person {i}\n")
    return path


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB filesystem of its own (tmpfs), unmounted afterwards."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root on Linux")
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def cli(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=ROOT,
        env=subprocess_env(tmp_path, url),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def import_audience(tmp_path: Path, url: str) -> None:
    imported = cli(tmp_path, url, "contacts", "import", str(audience_file(tmp_path / "a.csv")))
    assert imported.returncode == 0, imported.stderr


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("notify-tui: error: "), result.stderr
    return lines[0]


def provider_numbers(tmp_path: Path) -> Counter[str]:
    """How many messages the built-in sandbox (its state file) holds for each number."""
    raw = sqlite3.connect(tmp_path / "data" / "sandbox.db")
    try:
        return Counter(to for (to,) in raw.execute('SELECT "to" FROM messages'))
    finally:
        raw.close()


def send_states(path: Path) -> dict[str, set[str]]:
    raw = sqlite3.connect(path)
    try:
        states: dict[str, set[str]] = {}
        for phone, state in raw.execute("SELECT phone, send_state FROM message"):
            states.setdefault(state, set()).add(phone)
        return states
    finally:
        raw.close()


def campaign_state(path: Path) -> str:
    raw = sqlite3.connect(path)
    try:
        return str(raw.execute("SELECT state FROM campaign").fetchone()[0])
    finally:
        raw.close()


# -- a full disk -------------------------------------------------------------------------------


def test_a_full_disk_while_recording_a_campaign_records_nothing_in_one_line(
    tmp_path: Path, small_disk: Path
) -> None:
    path = small_disk / "workspace.db"
    url = f"sqlite:///{path}"
    assert (
        cli(tmp_path, url, "contacts", "import", str(audience_file(tmp_path / "a.csv"))).returncode
        == 0
    )
    filler = fill_disk(small_disk, 200)
    result = cli(
        tmp_path, url, "send", "--name", "Full", "--message", "Hi", "--all-contacts", "--yes"
    )
    assert result.returncode == 1
    line = one_error_line(result)
    assert line == (
        f"notify-tui: error: the disk holding the workspace {path} is full (the change under "
        "way was not saved, nothing before it is lost): free some space, then run it again"
    )
    filler.unlink()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("SELECT count(*) FROM campaign").fetchone() == (0,)
        assert raw.execute("SELECT count(*) FROM message").fetchone() == (0,)
        assert raw.execute("SELECT count(*) FROM contact").fetchone() == (AUDIENCE,)
    finally:
        raw.close()


@pytest.mark.parametrize("leave_kib", [0, 200])
def test_a_full_disk_mid_send_stops_as_if_interrupted_and_the_resume_sends_nobody_twice(
    tmp_path: Path, small_disk: Path, leave_kib: int
) -> None:
    """The disk fills up while a sender runs (another program's file grows): one line naming
    the resume, the campaign interrupted, every row left attempting one whose create went out
    (looked up on resume), none lost; once there is room, the resume finishes the campaign and
    nobody gets it twice."""
    path = small_disk / "workspace.db"
    url = f"sqlite:///{path}"
    import_audience(tmp_path, url)
    sender = subprocess.Popen(
        [*SENDING, "Full"],
        cwd=ROOT,
        env=subprocess_env(tmp_path, url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: submitted_rows(path) >= 300, "300 messages are recorded submitted")
        filler = fill_disk(small_disk, leave_kib)
        _, err = sender.communicate(timeout=120)
    finally:
        if sender.poll() is None:
            sender.kill()
    assert sender.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    line = lines[0]
    assert f"the disk holding the workspace {path} is full" in line
    assert line.endswith("free some space, then run notify-tui send --resume 1")
    assert not list(small_disk.glob("*.reserve")), "the space set aside is given back"

    states = send_states(path)
    sent = provider_numbers(tmp_path)
    assert sum(len(v) for v in states.values()) == AUDIENCE  # every recipient still recorded
    assert set(states.get("submitted", set())) <= set(sent)
    # Left attempting: creates the provider took (it has them) or refused (it refuses these
    # numbers every time, as the resume shows). Claimed and never sent: none.
    attempting = states.get("attempting", set())
    not_at_provider = attempting - set(sent)
    assert campaign_state(path) == "interrupted"
    assert states.get("pending")  # the rest waits for the resume

    filler.unlink()
    resumed = cli(tmp_path, url, "send", "--resume", "1", "--yes", "--rate", "0")
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert campaign_state(path) == "sent"
    after = send_states(path)
    assert set(after) == {"submitted", "refused"}
    assert not_at_provider <= after["refused"], "rows left attempting that were never sent"
    sent = provider_numbers(tmp_path)
    assert set(sent) == after["submitted"]
    assert max(sent.values()) == 1, "somebody got the campaign twice"
    doctor = cli(tmp_path, url, "doctor")
    assert doctor.returncode == 0, doctor.stdout


# -- a file that turns read-only ---------------------------------------------------------------


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def submitted_rows(path: Path) -> int:
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        row = raw.execute("SELECT count(*) FROM message WHERE send_state = 'submitted'").fetchone()
        return int(row[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        raw.close()


def chattr(flag: str, *paths: Path) -> bool:
    done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True)
    return done.returncode == 0


def test_a_workspace_made_immutable_mid_send_ends_in_one_line_not_sigbus(tmp_path: Path) -> None:
    """``chattr +i workspace.db*`` while sending: SQLite's next touch of its memory-mapped -shm
    would kill the process with SIGBUS. The sender sees it first, stops in one line, touches
    the file no more; once writable again, the resume finishes and nobody gets it twice."""
    if os.geteuid() != 0:
        pytest.skip("chattr +i needs root")
    path = tmp_path / "ws" / "workspace.db"
    url = f"sqlite:///{path}"
    assert (
        cli(tmp_path, url, "contacts", "import", str(audience_file(tmp_path / "a.csv"))).returncode
        == 0
    )
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    out = tmp_path / "send.out"
    with out.open("w") as handle:
        sender = subprocess.Popen(
            [
                *CLI,
                "send",
                "--name",
                "RO",
                "--message",
                "Hi",
                "--all-contacts",
                "-y",
                "--rate",
                "300",
            ],
            cwd=ROOT,
            env=subprocess_env(tmp_path, url),
            stdout=handle,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        wait_until(lambda: submitted_rows(path) >= 300, "300 messages are recorded submitted")
        if not chattr("+i", *files):
            pytest.skip("this filesystem has no immutable files")
        try:
            _, err = sender.communicate(timeout=120)
        finally:
            chattr("-i", *files)
    finally:
        if sender.poll() is None:
            sender.kill()
    assert sender.returncode == 1, (sender.returncode, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("notify-tui: error: ") and str(path) in lines[0]
    assert lines[0].endswith("notify-tui send --resume 1"), lines[0]

    resumed = cli(tmp_path, url, "send", "--resume", "1", "--yes", "--rate", "0")
    assert resumed.returncode == 0, resumed.stderr
    after = send_states(path)
    assert set(after) == {"submitted", "refused"}
    sent = provider_numbers(tmp_path)
    assert set(sent) == after["submitted"] and max(sent.values()) == 1
    assert cli(tmp_path, url, "doctor").returncode == 0


# -- PostgreSQL goes away ------------------------------------------------------------------


def test_postgresql_going_away_mid_send_ends_in_one_line_and_the_resume_finishes(
    tmp_path: Path,
) -> None:
    """Every session of the sender terminated (``pg_terminate_backend``, as a restart or an
    administrator does): one line naming the resume; nothing committed is lost; the resume
    finishes and nobody gets the campaign twice."""
    import psycopg2

    name = f"notify-storage-{uuid.uuid4().hex[:8]}"
    for base in postgres_schema_url():
        url = f"{base}&application_name={name}"
        import_audience(tmp_path, url)
        out = tmp_path / "send.out"
        with out.open("w") as handle:
            sender = subprocess.Popen(
                [*SENDING, "PG"],
                cwd=ROOT,
                env=subprocess_env(tmp_path, url),
                stdout=handle,
                stderr=subprocess.PIPE,
                text=True,
            )
        admin = psycopg2.connect(base)
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:

                def some_submitted() -> bool:
                    cursor.execute("SELECT count(*) FROM message WHERE send_state = 'submitted'")
                    return int(cursor.fetchone()[0]) >= 300

                wait_until(some_submitted, "300 messages are recorded submitted")
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s",
                    (name,),
                )
                assert cursor.fetchall(), "the sender's sessions were found"
            _, err = sender.communicate(timeout=120)
        finally:
            if sender.poll() is None:
                sender.kill()
            admin.close()
        assert sender.returncode == 1, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, err
        assert lines[0].startswith("notify-tui: error: lost the connection to the workspace")
        assert lines[0].endswith("check the server, then run notify-tui send --resume 1")

        resumed = cli(tmp_path, url, "send", "--resume", "1", "--yes", "--rate", "0")
        assert resumed.returncode == 0, resumed.stderr
        sent = provider_numbers(tmp_path)
        assert max(sent.values()) == 1, "somebody got the campaign twice"
        doctor = cli(tmp_path, url, "doctor")
        assert doctor.returncode == 0, doctor.stdout
        assert "interrupted" not in doctor.stdout


# -- a lock held too long, a WAL deleted ---------------------------------------------------------


def test_a_workspace_locked_past_the_busy_timeout_says_so_in_one_line_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another process holds the write lock longer than notify-tui waits (30 s; 0.3 s here)."""
    from notify_tui.cli import main
    from notify_tui.store import db as store_db

    monkeypatch.setitem(store_db.SQLITE_PRAGMAS, "busy_timeout", 300)
    path = tmp_path / "ws" / "workspace.db"
    url = f"sqlite:///{path}"
    assert main(["--database-url", url, "optout", "+14155550100"]) == 0
    capsys.readouterr()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        assert main(["--database-url", url, "optout", "+14155550101", "--reason", "x"]) == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert err == (
        f"notify-tui: error: the workspace {path} stayed locked by another process (database "
        "is locked; nothing was changed): wait for it or stop it, then run it again\n"
    )
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("SELECT phone FROM contact").fetchall() == [("+14155550100",)]
    finally:
        raw.close()


def test_a_wal_deleted_mid_send_loses_nothing_the_sender_wrote(tmp_path: Path) -> None:
    """``rm workspace.db-wal`` while a sender writes: the sender keeps its open WAL and
    checkpoints it when it ends; a command started meanwhile says one line (or works)."""
    path = tmp_path / "ws" / "workspace.db"
    url = f"sqlite:///{path}"
    import_audience(tmp_path, url)
    sender = subprocess.Popen(
        [*SENDING, "WAL"],
        cwd=ROOT,
        env=subprocess_env(tmp_path, url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: submitted_rows(path) >= 300, "300 messages are recorded submitted")
        Path(f"{path}-wal").unlink()
        meanwhile = cli(tmp_path, url, "campaigns")
        assert "Traceback" not in meanwhile.stderr
        if meanwhile.returncode:
            assert len(meanwhile.stderr.strip().splitlines()) == 1, meanwhile.stderr
        _, err = sender.communicate(timeout=120)
    finally:
        if sender.poll() is None:
            sender.kill()
    assert "Traceback" not in err
    if sender.returncode:
        assert len(err.strip().splitlines()) == 1 and "send --resume 1" in err, err
        assert cli(tmp_path, url, "send", "--resume", "1", "--yes", "--rate", "0").returncode == 0
    after = send_states(path)
    assert set(after) == {"submitted", "refused"}
    sent = provider_numbers(tmp_path)
    assert set(sent) == after["submitted"] and max(sent.values()) == 1
    assert cli(tmp_path, url, "doctor").returncode == 0


def test_a_backup_onto_a_full_disk_leaves_nothing_behind_and_says_so(
    tmp_path: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from notify_tui.cli import main

    url = f"sqlite:///{tmp_path / 'ws' / 'workspace.db'}"
    import_audience(tmp_path, url)
    fill_disk(small_disk, 40)
    target = small_disk / "backup.db"
    assert main(["--database-url", url, "backup", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"notify-tui: error: could not write the backup {target} (")
    assert err.endswith("nothing was left behind: free some space there or name a file elsewhere\n")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_postgresql_going_away_under_a_poller_ends_it_in_one_line(tmp_path: Path) -> None:
    import psycopg2

    name = f"notify-storage-{uuid.uuid4().hex[:8]}"
    for base in postgres_schema_url():
        url = f"{base}&application_name={name}"
        import_audience(tmp_path, url)
        poller = subprocess.Popen(
            [*CLI, "poll", "--timeout", "120"],
            cwd=ROOT,
            env=subprocess_env(tmp_path, url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        admin = psycopg2.connect(base)
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:

                def polling() -> bool:
                    # Past opening the workspace: it has looked for messages to lease.
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                        "AND query LIKE %s",
                        (name, "%next_poll_at%"),
                    )
                    return int(cursor.fetchone()[0]) > 0

                wait_until(polling, "the poller polls")
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s",
                    (name,),
                )
            _, err = poller.communicate(timeout=120)
        finally:
            if poller.poll() is None:
                poller.kill()
            admin.close()
        assert poller.returncode == 1, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, err
        assert lines[0].startswith("notify-tui: error: lost the connection to the workspace")
        assert lines[0].endswith("check the server, then run it again")
