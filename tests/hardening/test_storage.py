"""The storage under a workspace fails: damaged, not a database, readable by others, backed up.

Every command runs on each damaged workspace of the hostile corpus
(``tests/data/damaged_workspaces.py``), the app and ``doctor`` as real processes: one line or a
report, never a traceback; ``doctor`` says what it can still read and exits 1.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from notify_tui.cli import main
from notify_tui.store.db import open_workspace
from notify_tui.store.doctor import Check, examine
from notify_tui.store.models import Campaign, Contact, database
from tests.data.damaged_workspaces import CASES, build, healthy

from .support import CLI, ROOT, assert_all_consistent, resolved_campaign, subprocess_env

OPENS_NOT = {"header", "truncated", "not-a-database", "garbage"}
"""Cases no command can open at all (the others open, and fail where the damage is)."""


def run_cli(
    tmp_path: Path, url: str, *args: str, umask: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(tmp_path, url)
    return subprocess.run(
        [*CLI, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


def assert_one_line_or_success(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert "Traceback" not in result.stderr + result.stdout, (what, result.stderr)
    if result.returncode == 0:
        return
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, (what, result.returncode, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("notify-tui: error: "), (what, lines)


def run_in_process(
    capsys: pytest.CaptureFixture[str], url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``notify-tui ARGS`` run by ``cli.main`` in this process, as ``run_cli`` reports it: a
    traceback would escape ``main`` and fail the test."""
    capsys.readouterr()
    try:
        code = main(["--database-url", url, *args])
    finally:
        if not database.is_closed():
            database.close()
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_command_on_a_damaged_workspace_says_one_line_and_doctor_reports(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    path = build(case, folder)
    url = f"sqlite:///{path}"
    contacts = tmp_path / "more.csv"
    contacts.write_text("phone,name\n+14155550199,Zoe\n", encoding="utf-8")
    commands = [
        ["campaigns"],
        ["campaigns", "--json"],
        ["optouts"],
        ["optouts", "--csv"],
        ["poll", "--once"],
        ["export", "1", "--output", str(tmp_path / "out.csv")],
        ["contacts", "import", str(contacts)],
        ["suggestions"],
        ["backup", str(tmp_path / "copy.db")],
    ]
    failed = []
    # In this process: eleven interpreters started per case made this the slowest test of the
    # suite. The app, and doctor below, run as real processes.
    for args in commands:
        result = run_in_process(capsys, url, *args)
        assert_one_line_or_success(result, " ".join(args))
        if result.returncode:
            failed.append(result.stderr)
    if case in OPENS_NOT:
        result = run_cli(tmp_path, url)  # the app: it must not even start drawing
        assert_one_line_or_success(result, "the app")
        failed.append(result.stderr)
    assert failed, "the damage must show somewhere"
    for line in failed:
        if case in ("not-a-database", "garbage"):
            assert f"{path} is not a notify-tui workspace" in line
        else:
            assert f"the workspace {path} is damaged" in line
            assert "notify-tui doctor" in line and "backup" in line

    doctor = run_cli(tmp_path, url, "doctor")
    assert doctor.returncode == 1, doctor.stdout
    assert doctor.stderr == "" and "Traceback" not in doctor.stdout
    assert doctor.stdout.startswith(f"Workspace: SQLite file {path}")
    if case in ("not-a-database", "garbage"):
        assert "is not a notify-tui workspace" in doctor.stdout
        if case == "not-a-database":
            assert "it begins 'phone,name'" in doctor.stdout
    else:
        assert "PROBLEM" in doctor.stdout
        assert "Restore a backup" in doctor.stdout
    # The doctor only reads: a second look sees the same file.
    assert run_cli(tmp_path, url, "doctor").stdout == doctor.stdout


def test_doctor_says_which_tables_still_read(tmp_path: Path) -> None:
    path = build("message-page", tmp_path)
    doctor = run_cli(tmp_path, f"sqlite:///{path}", "doctor")
    assert doctor.returncode == 1
    out = doctor.stdout
    assert "  integrity check: " in out
    assert "  table campaign: all 2 rows read" in out
    assert "  table contact: all " in out
    message = next(line for line in out.splitlines() if line.startswith("  table message:"))
    assert "malformed" in message and "all " not in message


def test_doctor_finds_text_damaged_inside_cells(tmp_path: Path) -> None:
    """SQLite checks neither UTF-8 nor types: the doctor reads every value, and names the
    columns where reading would fail."""
    path = build("undecodable", tmp_path)
    code = main(["--database-url", f"sqlite:///{path}", "doctor"])
    assert code == 1
    db = open_workspace(None, path)
    try:
        found = examine()
        assert found.damaged and not found.ok
        (problem,) = [p for p in found.problems if "damaged inside their cells" in p.text]
        # Every damaged value is counted, those in rows otherwise sound too.
        raw = sqlite3.connect(path)
        try:
            expected = {
                "contact.name": "SELECT count(*) FROM contact WHERE id % 5 = 2",
                "contact.opted_out": "SELECT count(*) FROM contact WHERE id % 7 = 1",
                "message.name": "SELECT count(*) FROM message WHERE id % 9 = 4",
            }
            for column, sql in expected.items():
                assert f"{column} {raw.execute(sql).fetchone()[0]:,}" in problem.text
        finally:
            raw.close()
        assert found.salvaged is not None
        assert "not UTF-8" in found.salvaged.tables["contact"]
    finally:
        db.close()
        database.initialize(None)


def test_a_file_that_is_not_a_database_is_named_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = build("not-a-database", tmp_path)
    before = path.read_bytes()
    assert main(["--database-url", f"sqlite:///{path}", "campaigns"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"notify-tui: error: {path} is not a notify-tui workspace (not an SQLite database; it "
        "begins 'phone,name'): check --database-url or NOTIFY_DATABASE_URL; to import the "
        f"contacts of a CSV file: notify-tui contacts import {path}\n"
    )
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists()


def test_a_hostile_file_start_is_shown_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "evil.db"
    path.write_bytes("\x1b]0;pwned\x07\x1b[31m\u202e".encode() + b"x" * 200)
    assert main(["--database-url", f"sqlite:///{path}", "campaigns"]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\\x1b]0;pwned" in err


# -- private by default ----------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_workspace_and_everything_beside_it_is_private_whatever_the_umask(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'workspace.db'}"
    demo = run_cli(tmp_path, url, "demo", "--recipients", "20", "--campaigns", "1", umask=0o022)
    assert demo.returncode == 0, demo.stderr
    assert mode(data) == 0o700
    files = sorted(p.name for p in data.iterdir())
    assert "workspace.db" in files and "sandbox.db" in files
    for name in files:
        assert mode(data / name) == 0o600, (name, oct(mode(data / name)))
    # The WAL and its index appear while a process has the workspace open: 0600 too.
    db = open_workspace(None, data / "workspace.db")
    try:
        Campaign.select().count()
        for suffix in ("-wal", "-shm"):
            assert mode(Path(f"{data / 'workspace.db'}{suffix}")) == 0o600
    finally:
        db.close()
        database.initialize(None)


def test_doctor_warns_about_a_readable_workspace_and_the_repair_makes_it_private(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ws" / "workspace.db"
    db = open_workspace(None, path)
    try:
        resolved_campaign()
        path.chmod(0o644)
        found = examine()
        (problem,) = found.of(Check.PERMISSIONS)
        assert "can be read by other users" in problem.text and "workspace.db -rw-r--r--" in (
            problem.text
        )
    finally:
        db.close()
        database.initialize(None)
    url = f"sqlite:///{path}"
    assert main(["--database-url", url, "doctor"]) == 1
    assert "PROBLEM  the workspace can be read by other users" in capsys.readouterr().out
    assert main(["--database-url", url, "doctor", "--repair"]) == 0
    assert "Repaired: made workspace.db" in capsys.readouterr().out
    assert mode(path) == 0o600


# -- backup ----------------------------------------------------------------------------------


def test_backup_copies_a_workspace_in_use_consistently_and_privately(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ws" / "workspace.db"
    db = open_workspace(None, path)
    try:
        for i in range(3):
            resolved_campaign(f"C{i}", start=i * 100)
    finally:
        db.close()
        database.initialize(None)
    url = f"sqlite:///{path}"
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        raw = sqlite3.connect(path, timeout=30)
        try:
            while not stop.is_set():
                with raw:
                    raw.execute(
                        "INSERT INTO contact (phone, name, attributes, created_at, updated_at, "
                        "opted_out) VALUES (?, 'w', '{}', '2026-01-01', '2026-01-01', 0)",
                        (f"+1999{len(written):07d}",),
                    )
                written.append(1)
        finally:
            raw.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        target = tmp_path / "backup.db"
        assert main(["--database-url", url, "backup", str(target)]) == 0
    finally:
        stop.set()
        thread.join(30)
    out = capsys.readouterr().out
    assert f"Backed up the workspace to {target}" in out and "To restore it" in out
    assert mode(target) == 0o600
    assert not Path(f"{target}-wal").exists()
    assert not list(tmp_path.glob(".backup.db.*"))

    # The copy is a healthy workspace: whole campaigns, counters that agree.
    copy = open_workspace(None, target)
    try:
        assert Campaign.select().count() == 3
        assert Contact.select().count() >= 36
        assert_all_consistent()
        assert not [p for p in examine().problems if p.check is not Check.PERMISSIONS]
    finally:
        copy.close()
        database.initialize(None)

    # doctor remembers it; a second backup to the same file is refused, the first kept.
    assert main(["--database-url", url, "doctor"]) == 0
    assert "last backup 20" in capsys.readouterr().out
    size = target.stat().st_size
    assert main(["--database-url", url, "backup", str(target)]) == 1
    assert capsys.readouterr().err == (
        f"notify-tui: error: {target} exists: name another file, or move that one away\n"
    )
    assert target.stat().st_size == size
    assert main(["--database-url", url, "backup", str(path)]) == 1
    assert "is the workspace itself" in capsys.readouterr().err


def test_backup_of_postgresql_says_pg_dump(
    workspace_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if workspace_url.startswith("sqlite"):
        pytest.skip("the PostgreSQL answer")
    assert main(["--database-url", workspace_url, "backup"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("notify-tui: error: ") and "pg_dump" in err and err.count("\n") == 1
    assert main(["--database-url", workspace_url, "doctor"]) == 0
    assert "back up a PostgreSQL workspace with pg_dump" in capsys.readouterr().out


def test_damage_anywhere_in_the_file_never_ends_in_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """256 bytes overwritten at two places of every page of a workspace, one copy each: every
    command says one line or works. (A damaged schema once made SQLite's own error message
    undecodable: a UnicodeDecodeError from deep in the driver.)"""
    source = healthy(tmp_path)
    size = source.stat().st_size
    commands = [
        ["campaigns"],
        ["optouts"],
        ["export", "1", "--output", str(tmp_path / "out.csv")],
        ["poll", "--once"],
        ["doctor"],
    ]
    for offset in [o for page in range(0, size, 4096) for o in (page + 100, page + 2048)]:
        path = tmp_path / f"at-{offset}.db"
        shutil.copyfile(source, path)
        with path.open("r+b") as handle:
            handle.seek(offset)
            handle.write(b"\xff" * 256)
        for args in commands:
            code = main(["--database-url", f"sqlite:///{path}", *args])
            err = capsys.readouterr().err
            assert code in (0, 1), (offset, args, code)
            assert len(err.strip().splitlines()) <= 1, (offset, args, err)
            if not database.is_closed():
                database.close()
        path.unlink()
