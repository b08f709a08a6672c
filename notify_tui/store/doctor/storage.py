"""What the storage under a workspace can tell the doctor: damage SQLite finds (or does not:
text that is not UTF-8, text where a number belongs), what still reads of a damaged file, who
else may read the file, and when it was last backed up."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peewee as pw
from peewee import PostgresqlDatabase, SqliteDatabase

from notify_tui.domain.text import visible
from notify_tui.store.db import PRIVATE_FILE, StorageFailure, last_backup, storage_error
from notify_tui.store.doctor.findings import Check, Examination, Problem
from notify_tui.store.models import ALL_MODELS, database

__all__ = ["Salvage", "guarded", "make_private", "salvage"]


def _workspace_files() -> list[Path]:
    db = database.obj
    if not isinstance(db, SqliteDatabase):
        return []
    path = Path(db.database)
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def _check_permissions(found: Examination) -> None:
    """SQLite: the workspace (every contact's number and name) is readable by its owner only."""
    files = _workspace_files()
    if not files:
        return
    readable = [p for p in files if p.stat().st_mode & 0o077]
    if readable:
        modes = ", ".join(f"{p.name} {stat.filemode(p.stat().st_mode)}" for p in readable)
        found.problems.append(
            Problem(
                Check.PERMISSIONS,
                f"the workspace can be read by other users ({modes}): notify-tui doctor "
                f"--repair makes it private (chmod 600), or chmod 600 {files[0]}*",
            )
        )
    else:
        found.healthy.append("the workspace file is private to its owner (600)")


_WHOLE_NUMBERS = (pw.IntegerField, pw.BooleanField)
"""Fields SQLite stores as integers (foreign keys and ids are integer fields too)."""


def _sound(connection: sqlite3.Connection, table: str, fields: list[Any]) -> bool:
    """The quick pass over one table: each row's texts joined into one (and an invalid byte
    added where a number column holds something else), decoded by the sqlite3 module in C.
    True when every row decodes."""
    texts = [f for f in fields if not isinstance(f, _WHOLE_NUMBERS)]
    numbers = [f for f in fields if isinstance(f, _WHOLE_NUMBERS)]
    wrong = " OR ".join(
        f"typeof(\"{f.column_name}\") NOT IN ('integer', 'real', 'null')" for f in numbers
    )
    joined = " || ".join(
        [f"coalesce(CAST(\"{f.column_name}\" AS TEXT), '')" for f in texts]
        + [f"CASE WHEN {wrong or '0'} THEN CAST(X'FF' AS TEXT) ELSE '' END"]
    )
    cursor = connection.execute(f'SELECT {joined} FROM "{table}"')
    try:
        while cursor.fetchmany(10_000):
            pass
    except sqlite3.OperationalError as exc:
        if "could not decode" not in str(exc).lower():
            raise
        return False
    return True


def _damaged_values(
    connection: sqlite3.Connection, table: str, fields: list[Any]
) -> dict[str, int]:
    """The slow pass over a table the quick one found damaged: every value, as bytes."""
    bad: dict[str, int] = defaultdict(int)
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    numbers = [isinstance(f, _WHOLE_NUMBERS) for f in fields]
    previous = connection.text_factory
    connection.text_factory = bytes
    try:
        for row in connection.execute(f'SELECT {columns} FROM "{table}"'):
            for index, value in enumerate(row):
                if not isinstance(value, bytes):
                    continue
                if not numbers[index]:
                    try:
                        value.decode("utf-8")
                        continue
                    except UnicodeDecodeError:
                        pass
                bad[f"{table}.{fields[index].column_name}"] += 1
    finally:
        connection.text_factory = previous
    return bad


def check_text(found: Examination) -> None:
    """SQLite: every text value is UTF-8 and every flag or count a number. SQLite checks
    neither; damage inside a cell breaks both, and the first read of such a value fails
    (``Could not decode to UTF-8 column ...``). A quick pass over each table, then a slow one,
    value by value, over a table that failed it."""
    db = database.obj
    if not isinstance(db, SqliteDatabase):
        return
    connection = db.connection()
    bad: dict[str, int] = {}
    for model in ALL_MODELS:
        fields = list(model._meta.sorted_fields)
        table = model._meta.table_name
        if not _sound(connection, table, fields):
            bad.update(_damaged_values(connection, table, fields))
    if bad:
        found.damaged = True
        where = ", ".join(f"{column} {count:,}" for column, count in sorted(bad.items())[:6])
        found.problems.append(
            Problem(
                Check.INTEGRITY,
                f"{_count(sum(bad.values()), 'value')} damaged inside their cells (text that is "
                f"not UTF-8, or text where a number belongs: {where})",
            )
        )
    else:
        found.healthy.append("every text value is UTF-8 and every number a number")


def _check_backup(found: Examination) -> None:
    if isinstance(database.obj, PostgresqlDatabase):
        found.notes.append(
            "back up a PostgreSQL workspace with pg_dump (and restore it with pg_restore)"
        )
        return
    when = last_backup()
    if when is None:
        found.notes.append("never backed up: notify-tui backup FILE makes a copy safe to restore")
    else:
        found.notes.append(f"last backup {when} (notify-tui backup FILE makes another)")


@dataclass
class Salvage:
    """What can still be read of a damaged SQLite file."""

    integrity: list[str] = field(default_factory=list)
    """The first lines of ``PRAGMA integrity_check`` (``["ok"]`` when it passes)."""
    tables: dict[str, str] = field(default_factory=dict)
    """Each table, and what reading all its rows gave ("12,345 rows", or where it stopped)."""
    unreadable: bool = False
    """Not even the list of tables could be read."""

    @property
    def readable_tables(self) -> list[str]:
        """The tables that were read to the end, every text valid."""
        return [t for t, text in self.tables.items() if text.startswith("all ")]


def clean(text: str) -> str:
    """One line of a driver's message, safe to print (a decode error quotes the raw text)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = line.split(" with text ", 1)[0]
    return visible(line)[:160]


def salvage(path: Path | str) -> Salvage:
    """Read what can be read of the SQLite file at ``path``, read-only: the integrity check,
    then every row of every table (text that is not UTF-8 is counted, not fatal)."""
    found = Salvage()
    try:
        raw = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        found.integrity = [f"cannot open the file: {clean(str(exc))}"]
        found.unreadable = True
        return found
    raw.text_factory = bytes
    try:
        try:
            rows = raw.execute("PRAGMA integrity_check(10)").fetchall()
            found.integrity = [clean(_text(row[0])) for row in rows]
        except sqlite3.Error as exc:
            found.integrity = [f"cannot run: {clean(str(exc))}"]
        try:
            names = [
                _text(row[0])
                for row in raw.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
        except sqlite3.Error as exc:
            found.tables["(list of tables)"] = f"unreadable: {clean(str(exc))}"
            found.unreadable = True
            return found
        for name in names:
            found.tables[name] = _read_table(raw, name)
    finally:
        raw.close()
    return found


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _read_table(raw: sqlite3.Connection, name: str) -> str:
    count = bad = 0
    columns: set[str] = set()
    quoted = name.replace('"', '""')
    try:
        cursor = raw.execute(f'SELECT * FROM "{quoted}"')
        headings = [d[0] for d in cursor.description or ()]
        for row in cursor:
            count += 1
            for heading, value in zip(headings, row, strict=False):
                if isinstance(value, bytes):
                    try:
                        value.decode("utf-8")
                    except UnicodeDecodeError:
                        bad += 1
                        columns.add(heading)
    except sqlite3.Error as exc:
        return f"{count:,} rows read, then: {clean(str(exc))}"
    if bad:
        where = ", ".join(sorted(columns))
        return f"{count:,} rows read, {bad:,} values not UTF-8 (column {where})"
    return f"all {count:,} rows read"


def guarded(found: Examination, what: str, check: Callable[[Examination], None]) -> None:
    """Run one check; a SQLite file too damaged for it becomes a problem, not a traceback."""
    try:
        check(found)
    except Exception as exc:
        if not is_damage(exc):
            raise
        note_damage(found, what, exc)


def is_damage(exc: BaseException) -> bool:
    failure = storage_error(exc)
    return failure is not None and failure.failure is StorageFailure.DAMAGED


def note_damage(found: Examination, what: str, exc: BaseException) -> None:
    found.damaged = True
    found.problems.append(
        Problem(Check.INTEGRITY, f"could not check {what}: {clean(str(_root(exc)))}")
    )


def _root(exc: BaseException) -> BaseException:
    while exc.__context__ is not None and exc.__cause__ is None:
        exc = exc.__context__
    return exc


def make_private() -> list[str]:
    """chmod 600 the SQLite workspace and its -wal and -shm files; answers their names."""
    changed = []
    for path in _workspace_files():
        if path.stat().st_mode & 0o077:
            os.chmod(path, PRIVATE_FILE)
            changed.append(path.name)
    return changed


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def check_storage(found: Examination) -> None:
    """The checks of this module that run after the others: who may read the file, and either
    what still reads of a damaged one or when the healthy one was last backed up."""
    _check_permissions(found)
    if found.damaged and isinstance(database.obj, SqliteDatabase):
        found.salvaged = salvage(database.obj.database)
    else:
        _check_backup(found)
