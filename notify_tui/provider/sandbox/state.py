"""The sandbox's memory: every message it accepted, in one small SQLite file.

Writes are batched: they join an open transaction that is committed every ``commit_every``
writes, on ``flush()`` (the app calls it on a short timer and at shutdown) and on ``close()``.
Reads go through the same connection, so they always see every write, committed or not. A crash
loses at most the writes of the last timer period.

Messages are listed newest first by the instant they leave the queue (``sending_us``, which is
``date_sent``), then by insertion order; indexes cover that order with and without the ``To``
and ``From`` filters, so a page costs the same at the end of a 100,000-message listing as at its
start.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, fields, replace
from operator import attrgetter
from pathlib import Path

from notify_tui.provider.sandbox.outcomes import FinalStatus

__all__ = ["MEMORY", "Cursor", "SandboxState", "StoredMessage"]

MEMORY = ":memory:"
"""A state that lives as long as the app (for tests)."""

SCHEMA_VERSION = 2
"""1: the first shape; 2 adds scheduling, cancelling, media and deletion."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as the sandbox keeps it: its request, its fate and its timeline."""

    id: int | None
    sid: str
    account_sid: str
    to: str
    from_: str | None
    """The sender: the ``From`` given, or the one the Messaging Service will pick."""
    messaging_service_sid: str | None
    body: str
    num_segments: int
    status_callback: str | None
    final_status: FinalStatus
    error_code: int | None
    price: str | None
    """The price once final, e.g. ``-0.00790``."""
    lost: bool
    """The provider lost track of it: fetch answers 404, lists leave it out."""
    created_us: int
    queued_us: int
    sending_us: int
    sent_us: int
    final_us: int
    send_at_us: int | None = None
    """When a scheduled message leaves ``scheduled`` (its timeline starts there); else ``None``."""
    canceled_us: int | None = None
    """When a scheduled message was cancelled; it never moves again."""
    num_media: int = 0
    deleted: bool = False
    """Deleted by the API: fetch answers 404 and lists leave it out, as for a lost one."""


_COLUMNS = [f.name for f in fields(StoredMessage)]
_SELECT = ", ".join(f'"{c}"' for c in _COLUMNS)
_VALUES = attrgetter(*_COLUMNS[1:])
_BOOLS = frozenset(i for i, c in enumerate(_COLUMNS) if c in ("lost", "deleted"))

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    "to" TEXT NOT NULL,
    from_ TEXT,
    messaging_service_sid TEXT,
    body TEXT NOT NULL,
    num_segments INTEGER NOT NULL,
    status_callback TEXT,
    final_status TEXT NOT NULL,
    error_code INTEGER,
    price TEXT,
    lost INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    queued_us INTEGER NOT NULL,
    sending_us INTEGER NOT NULL,
    sent_us INTEGER NOT NULL,
    final_us INTEGER NOT NULL,
    send_at_us INTEGER,
    canceled_us INTEGER,
    num_media INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_date ON messages (account_sid, sending_us, id);
CREATE INDEX IF NOT EXISTS messages_by_to ON messages (account_sid, "to", sending_us, id);
CREATE INDEX IF NOT EXISTS messages_by_from ON messages (account_sid, from_, sending_us, id);
PRAGMA user_version = {SCHEMA_VERSION};
"""

_UPGRADE_1_TO_2 = """
ALTER TABLE messages ADD COLUMN send_at_us INTEGER;
ALTER TABLE messages ADD COLUMN canceled_us INTEGER;
ALTER TABLE messages ADD COLUMN num_media INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
"""

Cursor = tuple[int, int]
"""A position in a listing: ``(sending_us, id)`` of a message."""


class SandboxState:
    """Messages in SQLite; ``path`` may be ``MEMORY``. Not thread-safe: one event loop uses it."""

    def __init__(self, path: str | os.PathLike[str] = MEMORY, *, commit_every: int = 1000):
        if commit_every < 1:
            raise ValueError("commit_every must be at least 1")
        self._commit_every = commit_every
        self._pending = 0
        location = os.fspath(path)
        if location != MEMORY:
            Path(location).parent.mkdir(parents=True, exist_ok=True)
        # One connection, used from whichever thread runs the app's event loop.
        self._db = sqlite3.connect(location, check_same_thread=False)
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, 1, SCHEMA_VERSION):
            self._db.close()
            raise ValueError(f"{location} holds sandbox state of another version ({version})")
        if location != MEMORY:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        if version == 1:
            self._db.executescript(_UPGRADE_1_TO_2)
        self._db.executescript(_SCHEMA)
        placeholders = ", ".join("?" for _ in _COLUMNS[1:])
        quoted = ", ".join(f'"{c}"' for c in _COLUMNS[1:])
        self._insert_sql = f"INSERT INTO messages ({quoted}) VALUES ({placeholders})"
        self._closed = False

    @property
    def pending(self) -> int:
        """Writes not yet committed."""
        return self._pending

    def add(self, message: StoredMessage) -> StoredMessage:
        """Store a new message (its ``id`` is ignored) and answer it with its ``id``.

        Raises ``sqlite3.IntegrityError`` if its ``sid`` is taken.
        """
        cursor = self._db.execute(self._insert_sql, _VALUES(message))
        self._pending += 1
        if self._pending >= self._commit_every:
            self.flush()
        return replace(message, id=cursor.lastrowid)

    def update(self, message: StoredMessage, **changes: object) -> StoredMessage:
        """Change some fields of a stored message (by ``sid``) and answer the new message."""
        names = [name for name in changes if name in _COLUMNS and name not in ("id", "sid")]
        if len(names) != len(changes):
            raise ValueError(f"cannot update {sorted(set(changes) - set(names))}")
        assignments = ", ".join(f'"{name}" = ?' for name in names)
        self._db.execute(
            f"UPDATE messages SET {assignments} WHERE sid = ?",
            [*(changes[name] for name in names), message.sid],
        )
        self._pending += 1
        if self._pending >= self._commit_every:
            self.flush()
        return replace(message, **changes)  # type: ignore[arg-type]

    def get(self, account_sid: str, sid: str) -> StoredMessage | None:
        """The message ``sid`` of ``account_sid``, or ``None``."""
        row = self._db.execute(
            f"SELECT {_SELECT} FROM messages WHERE sid = ? AND account_sid = ?",
            (sid, account_sid),
        ).fetchone()
        return _message(row) if row else None

    def page(
        self,
        account_sid: str,
        *,
        limit: int,
        to: str | None = None,
        from_: str | None = None,
        sent_since_us: int | None = None,
        sent_before_us: int | None = None,
        now_us: int | None = None,
        after: Cursor | None = None,
        before: Cursor | None = None,
    ) -> list[StoredMessage]:
        """Up to ``limit`` listed messages, newest first.

        ``sent_since_us`` / ``sent_before_us`` bound ``date_sent`` (then only messages already
        sent by ``now_us`` match); ``after`` continues past a cursor, ``before`` reads the page
        that precedes one. Lost and deleted messages are left out.
        """
        where = ["account_sid = ?", "lost = 0", "deleted = 0"]
        args: list[object] = [account_sid]
        if to is not None:
            where.append('"to" = ?')
            args.append(to)
        if from_ is not None:
            where.append("from_ = ?")
            args.append(from_)
        # One lower and one upper bound on sending_us, the tightest of the filters and the
        # cursor: the index range then starts at the cursor, and the thousandth page of a
        # listing costs what the first does (the row-value test only breaks ties).
        low: int | None = sent_since_us
        high: int | None = sent_before_us
        if sent_since_us is not None or sent_before_us is not None:
            high = _lowest(high, None if now_us is None else now_us + 1)
        order = "DESC"
        if after is not None:
            high = _lowest(high, after[0] + 1)
        elif before is not None:
            low = before[0] if low is None else max(low, before[0])
            order = "ASC"
        if low is not None:
            where.append("sending_us >= ?")
            args.append(low)
        if high is not None:
            where.append("sending_us < ?")
            args.append(high)
        if after is not None:
            where.append("(sending_us, id) < (?, ?)")
            args.extend(after)
        elif before is not None:
            where.append("(sending_us, id) > (?, ?)")
            args.extend(before)
        args.append(limit)
        rows = self._db.execute(
            f"SELECT {_SELECT} FROM messages WHERE {' AND '.join(where)} "
            f"ORDER BY sending_us {order}, id {order} LIMIT ?",
            args,
        ).fetchall()
        if order == "ASC":
            rows.reverse()
        return [_message(row) for row in rows]

    def sent_to(self, account_sid: str, to: str) -> int:
        """How many messages the account has sent to ``to`` (deleted ones too)."""
        row = self._db.execute(
            'SELECT count(*) FROM messages WHERE account_sid = ? AND "to" = ?', (account_sid, to)
        ).fetchone()
        return int(row[0])

    def count(self) -> int:
        """How many messages the sandbox holds."""
        return int(self._db.execute("SELECT count(*) FROM messages").fetchone()[0])

    def flush(self) -> None:
        """Commit the pending writes."""
        if not self._closed and self._db.in_transaction:
            self._db.commit()
        self._pending = 0

    def close(self) -> None:
        """Commit and close. Idempotent."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._db.close()


def _lowest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _message(row: tuple[object, ...]) -> StoredMessage:
    values = [bool(v) if i in _BOOLS else v for i, v in enumerate(row)]
    return StoredMessage(*values)  # type: ignore[arg-type]
