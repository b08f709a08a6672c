"""``notify-tui doctor [--repair]``: check the workspace, and repair what can be derived safely.

A workspace too damaged to open (or not a database at all) is still examined: the doctor says
what the file is, what its integrity check found and which tables still read, and exits 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from peewee import SqliteDatabase

from notify_tui.commands import EXIT_FAILURE, EXIT_OK
from notify_tui.config import Settings
from notify_tui.domain.text import visible
from notify_tui.services.runtime import Runtime
from notify_tui.store.db import StorageError, StorageFailure, make_database, storage_error
from notify_tui.store.doctor import Examination, Salvage, examine, repair, salvage

RESTORE = (
    "Restore a backup: stop every notify-tui, copy the backup over {path} and delete "
    "{path}-wal and {path}-shm. Without one, `sqlite3 {path} .recover | sqlite3 NEW.db` "
    "saves what can still be read."
)


def _print(found: Examination) -> None:
    print(f"Workspace: {found.backend}")
    for line in found.healthy:
        print(f"  ok       {visible(line)}")
    for line in found.notes:
        print(f"  note     {visible(line)}")
    for problem in found.problems:
        print(f"  PROBLEM  {visible(problem.text)}")


def _print_salvage(found: Salvage) -> None:
    print(f"  integrity check: {'; '.join(found.integrity) or 'not run'}")
    for table, text in found.tables.items():
        print(f"  table {table}: {visible(text)}")


def _sqlite_path(settings: Settings) -> Path | None:
    db = make_database(settings.database_url, settings.sqlite_path)
    return Path(db.database) if isinstance(db, SqliteDatabase) else None


def _damaged(path: Path, error: StorageError) -> int:
    """The report on a file that cannot be opened as a workspace."""
    print(f"Workspace: SQLite file {path}")
    print(f"  PROBLEM  {visible(str(error))}")
    if error.failure is StorageFailure.NOT_A_DATABASE:
        return EXIT_FAILURE
    _print_salvage(salvage(path))
    print(RESTORE.format(path=path))
    return EXIT_FAILURE


def run_doctor(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui doctor``: check the workspace, and repair it with ``--repair``."""
    try:
        runtime = Runtime.open(settings)
    except StorageError as error:
        path = _sqlite_path(settings)
        if path is None or error.failure not in (
            StorageFailure.DAMAGED,
            StorageFailure.NOT_A_DATABASE,
        ):
            raise
        return _damaged(path, error)
    try:
        try:
            found = examine()
        except Exception as exc:
            damage = storage_error(exc)
            path = _sqlite_path(settings)
            if damage is None or damage.failure is not StorageFailure.DAMAGED or path is None:
                raise
            runtime.close()
            return _damaged(path, damage)
        _print(found)
        if found.salvaged is not None:
            _print_salvage(found.salvaged)
        if found.ok:
            print("The workspace is healthy.")
            return EXIT_OK
        if found.damaged:
            if args.repair:
                for line in repair(found):
                    print(f"Repaired: {visible(line)}")
            print(RESTORE.format(path=runtime.database.database))
            return EXIT_FAILURE
        if not args.repair:
            fixable = sum(1 for p in found.problems if p.repairable)
            print(
                f"{len(found.problems):,} problem{'s' if len(found.problems) != 1 else ''}"
                + (f"; {fixable:,} can be repaired: notify-tui doctor --repair" if fixable else "")
            )
            return EXIT_FAILURE
        for line in repair(found):
            print(f"Repaired: {visible(line)}")
        after = examine()
        for problem in after.problems:
            print(f"  PROBLEM  {visible(problem.text)}")
        if after.ok:
            print("The workspace is healthy.")
            return EXIT_OK
        left = len(after.problems)
        print(f"{left:,} problem{'s' if left != 1 else ''} remain{'s' if left == 1 else ''}.")
        return EXIT_FAILURE
    finally:
        runtime.close()
