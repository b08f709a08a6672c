"""A guard that catches SQL run by the app on its event loop's thread.

On PostgreSQL across a network every query is a round trip: one on the event loop freezes the
UI for as long. Every UI test runs under ``SqlOnLoopGuard`` (an autouse fixture): a statement
executed on a thread that runs an event loop, by code the loop called (a message handler, a
timer, a worker coroutine) rather than by the test itself, fails the test.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from pathlib import Path
from types import FrameType

from peewee import Database

TESTS = str(Path(__file__).resolve().parents[1])
ASYNCIO = str(Path(asyncio.__file__).resolve().parent)


def _called_by_the_loop(frame: FrameType | None) -> bool:
    """True when the loop runs this for the app: the task (or callback) the statement runs in
    was not started by the test, whose own coroutine may read the database as it likes."""
    root: FrameType | None = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if frame.f_code.co_name == "_run" and filename.startswith(ASYNCIO):
            # asyncio.events.Handle._run: the loop called what is above. The outermost frame
            # above it that is not asyncio's own is the task's coroutine (or the callback).
            return root is None or not _is_test(root.f_code.co_filename)
        if not filename.startswith(ASYNCIO):
            root = frame
        frame = frame.f_back
    return False


def _is_test(filename: str) -> bool:
    return filename.startswith(TESTS) or f"{os.sep}pytest_asyncio{os.sep}" in filename


class SqlOnLoopGuard:
    """Records every statement the app runs on the event loop's thread while installed."""

    def __init__(self) -> None:
        self.offenders: list[str] = []
        self._real = Database.execute_sql

    def install(self) -> None:
        real = self._real
        guard = self

        def execute_sql(db: Database, sql: str, params: object = None) -> object:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass  # a worker thread: where the app reads
            else:
                if _called_by_the_loop(sys._getframe(1)):
                    app_frames = [
                        f"{f.filename.split('notify_tui/')[-1]}:{f.lineno} {f.name}"
                        for f in traceback.extract_stack()[:-1]
                        if "/notify_tui/" in f.filename
                    ]
                    where = "\n".join(app_frames[-6:])
                    guard.offenders.append(f"{sql[:120]}\n{where}")
            return real(db, sql, params)

        Database.execute_sql = execute_sql  # type: ignore[method-assign]

    def uninstall(self) -> None:
        Database.execute_sql = self._real  # type: ignore[method-assign]
