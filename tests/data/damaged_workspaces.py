"""The hostile corpus of workspaces: SQLite files damaged the ways disks, editors and people
damage them. Each case is built from a healthy workspace by ``build(case, folder)`` (a file of
bytes would go stale with every schema change); the tests in
``tests/hardening/test_storage.py`` run every command on each and expect one line, never a
traceback, and ``doctor`` to say what it can still read.

The full disk needs a filesystem that fills up: ``fill_disk`` fills one but a few KiB (the
tests mount a small tmpfs for it, as root), ``tests/hardening/test_storage_failures.py`` runs
sends and imports into it.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.hardening.support import resolved_campaign

DAMAGE = bytes([0xFF]) * 256
"""What overwrites the damaged bytes (as in the report: 256 bytes)."""


def healthy(folder: Path, name: str = "workspace.db") -> Path:
    """A workspace with two resolved campaigns, an opt-out and nothing left in its WAL."""
    from notify_tui.store.db import open_workspace
    from notify_tui.store.models import database
    from notify_tui.store.optouts import opt_out

    path = folder / name
    db = open_workspace(None, path)
    try:
        resolved_campaign("Spring", delivered=40, failed=20, unknown=30)
        resolved_campaign("Summer", delivered=30, failed=10, unknown=20, start=500)
        opt_out("+14150000001", source="manual", reason="asked", actor="ann")
    finally:
        db.close()
        database.initialize(None)
    return path


def _overwrite(path: Path, offset: int, data: bytes = DAMAGE) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def _page_of(path: Path, name: str) -> int:
    """The byte offset of the root page of table or index ``name``."""
    raw = sqlite3.connect(path)
    try:
        size = raw.execute("PRAGMA page_size").fetchone()[0]
        (root,) = raw.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)
        ).fetchone()
    finally:
        raw.close()
    return int((root - 1) * size)


def header(folder: Path) -> Path:
    """256 bytes overwritten at offset 100: the first page's b-tree header, so not even the
    list of tables reads (``database disk image is malformed`` from every command)."""
    path = healthy(folder)
    _overwrite(path, 100)
    return path


def message_page(folder: Path) -> Path:
    """The root page of the messages table overwritten: campaigns list, recipients do not."""
    path = healthy(folder)
    _overwrite(path, _page_of(path, "message"))
    return path


def index_page(folder: Path) -> Path:
    """An index of the messages damaged: the rows read, lookups by that index do not."""
    path = healthy(folder)
    raw = sqlite3.connect(path)
    try:
        (name,) = raw.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'message' "
            "ORDER BY name LIMIT 1"
        ).fetchone()
    finally:
        raw.close()
    _overwrite(path, _page_of(path, name))
    return path


def undecodable(folder: Path) -> Path:
    """Text that is not UTF-8 where text is read, and text where a flag is read (``Could not
    decode to UTF-8 column 'opted_out'``), as damage inside a cell leaves them."""
    path = healthy(folder)
    raw = sqlite3.connect(path)
    try:
        raw.execute("UPDATE contact SET opted_out = CAST(x'ff00fe41' AS TEXT) WHERE id % 7 = 1")
        raw.execute("UPDATE contact SET name = CAST(x'c328ff' AS TEXT) WHERE id % 5 = 2")
        raw.execute("UPDATE message SET name = CAST(x'e282' AS TEXT) WHERE id % 9 = 4")
        raw.commit()
    finally:
        raw.close()
    return path


def truncated(folder: Path) -> Path:
    """The file cut to a third of its size (a copy that stopped half-way)."""
    path = healthy(folder)
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(size // 3 // 4096 * 4096 or 4096)
    return path


def not_a_database(folder: Path) -> Path:
    """A contacts file given as the workspace (``--database-url sqlite:///contacts.csv``)."""
    path = folder / "contacts.csv"
    path.write_text("phone,name\n+14155550100,Ann\n+14155550101,Bob\n", encoding="utf-8")
    return path


def empty_garbage(folder: Path) -> Path:
    """A file of random-looking bytes, no SQLite header at all."""
    path = folder / "workspace.db"
    path.write_bytes(bytes((i * 37 + 11) % 256 for i in range(8192)))
    return path


CASES: dict[str, Callable[[Path], Path]] = {
    "header": header,
    "message-page": message_page,
    "index-page": index_page,
    "undecodable": undecodable,
    "truncated": truncated,
    "not-a-database": not_a_database,
    "garbage": empty_garbage,
}


def build(case: str, folder: Path) -> Path:
    """The damaged workspace of ``case`` in ``folder``; answers its path."""
    return CASES[case](folder)


def fill_disk(folder: Path, leave_kib: int) -> Path:
    """Fill the filesystem holding ``folder`` but ``leave_kib`` KiB, with one file; answers
    it (deleting it frees the space again)."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    filler = folder / "filler"
    remaining = max(0, free - leave_kib * 1024)
    chunk = b"\0" * (1 << 20)
    with filler.open("wb", buffering=0) as handle:
        while remaining > 0:
            try:
                written = handle.write(chunk[: min(len(chunk), remaining)])
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break  # something else wrote meanwhile: the disk is full all the same
            remaining -= written or 0
    return filler
