"""Opening a workspace: SQLite by default, PostgreSQL from a ``postgresql://`` URL.

The schema is created on first use and versioned in ``schema_info``; ``MIGRATIONS`` brings an
older workspace up to ``SCHEMA_VERSION`` without losing anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from peewee import Database, PostgresqlDatabase, SqliteDatabase
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator, migrate

from notify_tui.domain.text import folded_name, visible
from notify_tui.errors import NotifyError, add_translator
from notify_tui.store import name_search
from notify_tui.store.models import (
    ALL_MODELS,
    Campaign,
    Contact,
    DeliveryTally,
    EarlyCallback,
    GroupTally,
    Message,
    NumberProfile,
    OptOutSuggestion,
    ProviderFault,
    SchemaInfo,
    SenderPace,
    database,
)

SCHEMA_VERSION = 14
"""Bump this and add a step to ``MIGRATIONS`` whenever a table changes."""

Migration = Callable[[Database, SchemaMigrator], None]


def _add_suggestions(db: Database, migrator: SchemaMigrator) -> None:
    """Version 2: opt-out suggestions waiting for review."""
    db.create_tables([OptOutSuggestion], safe=True)


_MONEY_COLUMNS = (("message", "price"), ("campaign", "cost"), ("campaign", "price_per_segment"))


def _money_in_micros(db: Database, migrator: SchemaMigrator) -> None:
    """Version 3: amounts of money as whole millionths (``models.MoneyField``), so that sums
    are exact on SQLite too, which added its ``DECIMAL`` columns in floats."""
    for table, column in _MONEY_COLUMNS:
        if isinstance(db, PostgresqlDatabase):
            db.execute_sql(
                f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE BIGINT '
                f'USING round("{column}" * 1000000)::bigint'
            )
        else:
            # A DECIMAL column has numeric affinity: the integers written here stay integers.
            db.execute_sql(
                f'UPDATE "{table}" SET "{column}" = CAST(round("{column}" * 1000000) AS INTEGER) '
                f'WHERE "{column}" IS NOT NULL'
            )


def _add_provider_faults(db: Database, migrator: SchemaMigrator) -> None:
    """Version 4: provider answers that were not applied (``store.faults``)."""
    db.create_tables([ProviderFault], safe=True)


def _add_attempt_deadline(db: Database, migrator: SchemaMigrator) -> None:
    """Version 5: each create's window (``attempted_at`` to ``attempt_deadline``), so that a
    lookup adopts only a provider message made inside it."""
    if "attempt_deadline" not in {c.name for c in db.get_columns("message", _schema(db))}:
        migrate(migrator.add_column("message", "attempt_deadline", Message.attempt_deadline))


def _schema(db: Database) -> str | None:
    """The schema the workspace lives in (PostgreSQL; peewee looks in "public" unless told)."""
    if isinstance(db, PostgresqlDatabase):
        return str(db.execute_sql("SELECT current_schema()").fetchone()[0])
    return None


def _add_sender_pace(db: Database, migrator: SchemaMigrator) -> None:
    """Version 6: one pace per sending number, shared by every campaign and process."""
    db.create_tables([SenderPace], safe=True)


def _add_status_callbacks(db: Database, migrator: SchemaMigrator) -> None:
    """Version 7: status callbacks (push): those that came before their message, and how many
    of each campaign's statuses were pushed."""
    db.create_tables([EarlyCallback], safe=True)
    if "pushed" not in {c.name for c in db.get_columns("campaign", _schema(db))}:
        # One statement, no table rebuild (peewee's SQLite migrator rebuilds the table to add a
        # NOT NULL column: dropping the old one would cascade to every message).
        db.execute_sql('ALTER TABLE "campaign" ADD COLUMN "pushed" INTEGER NOT NULL DEFAULT 0')


def _add_message_body(db: Database, migrator: SchemaMigrator) -> None:
    """Version 8: each recipient's own text (personal messages), recorded before it is sent."""
    if "body" not in {c.name for c in db.get_columns("message", _schema(db))}:
        db.execute_sql('ALTER TABLE "message" ADD COLUMN "body" TEXT')


def _add_insights(db: Database, migrator: SchemaMigrator) -> None:
    """Version 9: each recorded number's region, original carrier and line type, the tallies
    that make breakdowns and delivery times quick (``store.insights``), and follow-ups."""
    from notify_tui.store import insights

    db.create_tables([NumberProfile, GroupTally, DeliveryTally], safe=True)
    # Nullable columns, one statement each: no table rebuild (that would cascade).
    if "profile_id" not in {c.name for c in db.get_columns("message", _schema(db))}:
        db.execute_sql('ALTER TABLE "message" ADD COLUMN "profile_id" INTEGER')
    if "followup_of_id" not in {c.name for c in db.get_columns("campaign", _schema(db))}:
        db.execute_sql(
            'ALTER TABLE "campaign" ADD COLUMN "followup_of_id" INTEGER '
            'REFERENCES "campaign" ("id") ON DELETE SET NULL'
        )
    insights.backfill_profiles()
    insights.rebuild(int(cid) for (cid,) in Campaign.select(Campaign.id).tuples())


FOLD_BATCH = 5_000
"""Names one statement of ``_add_folded_names`` reads."""


def _add_folded_names(db: Database, migrator: SchemaMigrator) -> None:
    """Version 10: each name that is not plain ASCII as a search compares it, case and accents
    folded (``name_folded``, ``domain.text.folded_name``), so that ``/siobhan`` finds Siobhán
    with no row folded while searching. A nullable column (no table rebuild), filled a batch at
    a time: the names are read once, in id order, and only the non-ASCII ones are written."""
    schema = _schema(db)
    if isinstance(db, PostgresqlDatabase):
        non_ascii = 'octet_length("name") <> char_length("name")'
    else:
        non_ascii = 'length(CAST("name" AS BLOB)) <> length("name")'
    p = db.param
    for table in ("campaign", "contact", "message"):
        if "name_folded" not in {c.name for c in db.get_columns(table, schema)}:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "name_folded" TEXT')
        select = (
            f'SELECT "id", "name" FROM "{table}" WHERE "id" > {p} AND {non_ascii} '
            f'ORDER BY "id" LIMIT {FOLD_BATCH}'
        )
        update = f'UPDATE "{table}" SET "name_folded" = {p} WHERE "id" = {p}'
        last = 0
        while rows := db.execute_sql(select, (last,)).fetchall():
            db.cursor().executemany(update, [(folded_name(name), id_) for id_, name in rows])
            last = rows[-1][0]


_SCHEDULE_COLUMNS = (
    ("campaign", "send_at", "TIMESTAMP"),
    ("campaign", "timezone", "TEXT"),
    ("campaign", "quiet_hours", "TEXT"),
    ("campaign", "wake_at", "TIMESTAMP"),
    ("message", "held_until", "TIMESTAMP"),
)


def _add_schedule(db: Database, migrator: SchemaMigrator) -> None:
    """Version 11: scheduled campaigns (their time, zone and when the store wakes them) and
    quiet hours (a recipient held until then). Nullable columns, added in place: no table is
    rebuilt (a rebuild of ``campaign`` would cascade to every message)."""
    for table, column, kind in _SCHEDULE_COLUMNS:
        if kind == "TIMESTAMP" and not isinstance(db, PostgresqlDatabase):
            kind = "DATETIME"  # what peewee's own create_table writes on SQLite
        if column not in {c.name for c in db.get_columns(table, _schema(db))}:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {kind}')


def _add_resolved_by(db: Database, migrator: SchemaMigrator) -> None:
    """Version 12: how each message's final status arrived (``resolved_by``: push or pull) and
    each campaign's count of pulled ones beside its pushed ones. Added in place (no rebuild).
    Earlier resolutions are not known per message: ``pushed`` restarts from 0 so that the
    counters agree with the messages (doctor checks both)."""
    if "resolved_by" not in {c.name for c in db.get_columns("message", _schema(db))}:
        db.execute_sql('ALTER TABLE "message" ADD COLUMN "resolved_by" VARCHAR(8)')
    if "pulled" not in {c.name for c in db.get_columns("campaign", _schema(db))}:
        db.execute_sql('ALTER TABLE "campaign" ADD COLUMN "pulled" INTEGER NOT NULL DEFAULT 0')
    db.execute_sql('UPDATE "campaign" SET "pushed" = 0 WHERE "pushed" <> 0')


def _add_archive(db: Database, migrator: SchemaMigrator) -> None:
    """Version 13: archived campaigns (hidden from History, kept, restorable). A nullable
    column, added in place: a rebuild of ``campaign`` would cascade to every message."""
    kind = "TIMESTAMP" if isinstance(db, PostgresqlDatabase) else "DATETIME"
    if "archived_at" not in {c.name for c in db.get_columns("campaign", _schema(db))}:
        db.execute_sql(f'ALTER TABLE "campaign" ADD COLUMN "archived_at" {kind}')


SAY_PROGRESS_FROM = 100_000
"""Rows from which a long migration step says on stderr how far it is (the workspace is locked
for writing meanwhile)."""


def _say_progress(table: str, done: int, total: int) -> None:
    if total >= SAY_PROGRESS_FROM:
        print(
            f"notify-tui: upgrading the workspace (schema {SCHEMA_VERSION}): indexing the names "
            f"of {table} for search, {done:,} of {total:,}; other notify-tui processes wait",
            file=sys.stderr,
            flush=True,
        )


def _add_name_search(db: Database, migrator: SchemaMigrator) -> None:
    """Version 14: the search index of names (``store.name_search``): SQLite's FTS5 trigram
    tables and their triggers, PostgreSQL's trigram index (without ``pg_trgm``, and no right to
    create it, none: searches scan, and ``doctor`` says why). Built from the rows a batch at a
    time, saying how far it is on stderr for a big workspace (it holds the write lock)."""
    name_search.create(db, _say_progress)


MIGRATIONS: dict[int, Migration] = {
    2: _add_suggestions,
    3: _money_in_micros,
    4: _add_provider_faults,
    5: _add_attempt_deadline,
    6: _add_sender_pace,
    7: _add_status_callbacks,
    8: _add_message_body,
    9: _add_insights,
    10: _add_folded_names,
    11: _add_schedule,
    12: _add_resolved_by,
    13: _add_archive,
    14: _add_name_search,
}
"""``MIGRATIONS[n]`` takes a workspace from version ``n - 1`` to ``n``."""

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 30_000,
    "cache_size": -32_000,
}


class WorkspaceError(NotifyError):
    """The workspace cannot be opened. The message says why, without secrets."""


class StorageFailure(StrEnum):
    """What went wrong with the storage under a workspace."""

    FULL = "full"
    READ_ONLY = "read-only"
    LOCKED = "locked"
    DAMAGED = "damaged"
    NOT_A_DATABASE = "not a database"
    CANNOT_OPEN = "cannot open"
    IO = "i/o"
    CONNECTION = "connection lost"


class StorageError(WorkspaceError):
    """The workspace failed (full, read-only, locked, damaged, not a database, gone): one line
    that says what happened and what to do. A failed write changed nothing: SQLite and
    PostgreSQL roll the unfinished transaction back."""

    def __init__(
        self, failure: StorageFailure, message: str, cause: BaseException | None = None
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.cause = cause
        """The driver's error it was made from (to say it again with other advice)."""


_SQLITE_FAILURES = {
    3: StorageFailure.READ_ONLY,  # SQLITE_PERM
    5: StorageFailure.LOCKED,  # SQLITE_BUSY
    6: StorageFailure.LOCKED,  # SQLITE_LOCKED
    8: StorageFailure.READ_ONLY,  # SQLITE_READONLY
    10: StorageFailure.IO,  # SQLITE_IOERR
    11: StorageFailure.DAMAGED,  # SQLITE_CORRUPT
    13: StorageFailure.FULL,  # SQLITE_FULL
    14: StorageFailure.CANNOT_OPEN,  # SQLITE_CANTOPEN
    26: StorageFailure.NOT_A_DATABASE,  # SQLITE_NOTADB
}
"""Primary SQLite result codes (``sqlite_errorcode & 0xff``) that are the storage's doing."""

_SQLITE_TEXTS = (
    ("could not decode to utf-8", StorageFailure.DAMAGED),
    ("malformed", StorageFailure.DAMAGED),
    ("file is not a database", StorageFailure.NOT_A_DATABASE),
    ("database or disk is full", StorageFailure.FULL),
    ("readonly database", StorageFailure.READ_ONLY),
    ("database is locked", StorageFailure.LOCKED),
    ("disk i/o error", StorageFailure.IO),
    ("unable to open database file", StorageFailure.CANNOT_OPEN),
)
"""The same, by message, for errors raised without a code (the sqlite3 module's own)."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what caused it, then the exception it was raised while handling..., then
    the driver's exception peewee wrapped (its first argument)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if current.args and isinstance(current.args[0], BaseException):
            todo.append(current.args[0])
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)


def _postgres_failure(exc: BaseException) -> StorageFailure | None:
    try:
        import psycopg2
    except ImportError:  # pragma: no cover - SQLite only
        return None
    if isinstance(exc, psycopg2.InterfaceError):
        return StorageFailure.CONNECTION  # "connection already closed"
    if not isinstance(exc, psycopg2.Error):
        return None
    code = exc.pgcode or ""
    if code == "53100":
        return StorageFailure.FULL  # disk_full
    if code.startswith(("08", "57P")) or (not code and isinstance(exc, psycopg2.OperationalError)):
        # connection_exception, admin_shutdown / crash_shutdown / cannot_connect_now, and the
        # client's own "server closed the connection unexpectedly".
        return StorageFailure.CONNECTION
    if code == "25006":
        return StorageFailure.READ_ONLY  # read_only_sql_transaction (a standby)
    return None


def _failure_of(exc: BaseException) -> tuple[StorageFailure, BaseException] | None:
    """The storage failure behind ``exc`` and the exception that says it best, if any."""
    for link in _chain(exc):
        if isinstance(link, UnicodeDecodeError) and _raised_by_the_driver(link):
            # SQLite's own message quoted bytes of a damaged schema: not even it decodes.
            return StorageFailure.DAMAGED, sqlite3.DatabaseError("the schema is unreadable")
        if (
            isinstance(link, MemoryError)
            and _raised_reading(link)
            and isinstance(database.obj, SqliteDatabase)
        ):
            # Reading a damaged SQLite file: a record claimed a size no memory holds.
            return StorageFailure.DAMAGED, sqlite3.DatabaseError("a record is unreadable")
        if isinstance(link, sqlite3.Error):
            text = str(link).lower()
            if "no transaction is active" in text:
                continue  # the ROLLBACK after SQLite rolled back by itself: look further
            code = getattr(link, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in _SQLITE_FAILURES:
                return _SQLITE_FAILURES[code & 0xFF], link
            for fragment, failure in _SQLITE_TEXTS:
                if fragment in text:
                    return failure, link
            continue
        found = _postgres_failure(link)
        if found is not None:
            return found, link
    # peewee's own wrappers keep the driver's text: recognise it if the driver's is gone.
    for link in _chain(exc):
        text = str(link).lower()
        for fragment, failure in _SQLITE_TEXTS:
            if fragment in text and type(link).__module__ == "peewee":
                return failure, link
    return None


def _raised_by_the_driver(exc: BaseException) -> bool:
    """Whether ``exc`` came out of a call into peewee (and so the database driver)."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last is not None and Path(last).name == "peewee.py"


def _raised_reading(exc: BaseException) -> bool:
    """Whether ``exc`` came straight out of the database driver: raised in peewee, or in the
    store's own code where it calls the driver (the driver's C code leaves no frame)."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    if last is None:
        return False
    path = Path(last)
    return path.name == "peewee.py" or ("store" in path.parts and "notify_tui" in path.parts)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    # A decode error quotes the undecodable text: data, not a message.
    line = line.split(" with text ", 1)[0]
    return visible(line)[:200]


def _describe_workspace(db: Database | None) -> str:
    if isinstance(db, PostgresqlDatabase):
        params = db.connect_params
        return (
            f"the PostgreSQL database {db.database} on "
            f"{params.get('host', 'localhost')}:{params.get('port', 5432)}"
        )
    if isinstance(db, SqliteDatabase):
        return str(db.database)
    return "the workspace"


def _file_start(path: str) -> tuple[str, bool]:
    """How a file that is not a database begins, safe to print (``repr`` escapes control and
    bidi characters), and whether it looks like a CSV file (text with a delimiter)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return "", False
    if not head.strip():
        return "", False
    line = head.decode("utf-8", "replace").splitlines()[0]
    csv = "\ufffd" not in line and any(mark in line for mark in ",;\t") and line.isprintable()
    return f"; it begins {line[:24]!r}", csv


def storage_error(
    exc: BaseException, db: Database | None = None, *, resume: int | None = None
) -> StorageError | None:
    """The ``StorageError`` that ``exc`` (a database driver's or peewee's error, or one raised
    while handling one) amounts to, or ``None`` when it is not the storage's doing.

    ``db`` is the workspace (the models' database by default); ``resume`` the campaign a
    stopped sender leaves to ``send --resume``.
    """
    if isinstance(exc, StorageError):
        if resume is None or exc.cause is None:
            return exc
        exc = exc.cause
    found = _failure_of(exc)
    if found is None:
        return None
    failure, cause = found
    if db is None:
        db = database.obj
    where = _describe_workspace(db)
    detail = _first_line(cause)
    again = f"run notify-tui send --resume {resume}" if resume is not None else "run it again"
    unsaved = "the change under way was not saved, nothing before it is lost"
    if failure is StorageFailure.FULL:
        text = (
            f"the disk holding the workspace {where} is full ({unsaved}): free some space, "
            f"then {again}"
        )
    elif failure is StorageFailure.READ_ONLY:
        text = (
            f"the workspace {where} cannot be written ({detail}; {unsaved}): make the file, "
            f"its -wal and -shm files and its folder writable by you, then {again}"
        )
    elif failure is StorageFailure.LOCKED:
        text = (
            f"the workspace {where} stayed locked by another process ({detail}; nothing was "
            f"changed): wait for it or stop it, then {again}"
        )
    elif failure is StorageFailure.DAMAGED:
        text = (
            f"the workspace {where} is damaged ({detail}): run notify-tui doctor to see what "
            "can still be read, then restore a backup (notify-tui backup makes one)"
        )
    elif failure is StorageFailure.NOT_A_DATABASE:
        start, csv = (
            _file_start(str(db.database)) if isinstance(db, SqliteDatabase) else ("", False)
        )
        text = (
            f"{where} is not a notify-tui workspace (not an SQLite database{start}): check "
            "--database-url or NOTIFY_DATABASE_URL"
            + (
                f"; to import the contacts of a CSV file: notify-tui contacts import {where}"
                if csv
                else "; a backup can be restored with cp"
            )
        )
    elif failure is StorageFailure.CANNOT_OPEN:
        text = (
            f"cannot open the workspace {where} ({detail}): check that its folder exists and "
            "that you may read and write it"
        )
    elif failure is StorageFailure.IO:
        text = (
            f"could not read or write the workspace {where} ({detail}; {unsaved}): check the "
            f"disk and that the file was not moved, deleted or made read-only, then run "
            f"notify-tui doctor and {again}"
        )
    else:
        text = (
            f"lost the connection to the workspace, {where} ({detail}; {unsaved}): check the "
            f"server, then {again}"
        )
    return StorageError(failure, text, cause)


add_translator(storage_error)


RESERVE_BYTES = 4 << 20
"""Disk space a sender sets aside, so that a full disk still leaves it room to stop cleanly:
the answers it saves in small transactions, the checkpoint that makes room in the WAL (it may
grow the file), the campaign marked interrupted. 1 MiB stopped being enough once every status
change also moved the recipient in the (campaign, updated_at, id) index of the last-update
order: the full-disk test left the campaign ``sending`` two runs in three; 2 MiB passed every
run, and this leaves room to spare."""


def reserve_space(tag: str) -> Path | None:
    """SQLite: set ``RESERVE_BYTES`` of disk aside beside the workspace (a file of that size,
    0600), to be given back by ``give_back`` when the disk fills up: the few writes that stop
    a sender cleanly then fit. ``None`` for PostgreSQL, or when even that does not fit."""
    db = database.obj
    if not isinstance(db, SqliteDatabase):
        return None
    path = Path(f"{db.database}.{tag}.reserve")
    try:
        private_file(path)
        with open(path, "r+b") as handle:
            os.posix_fallocate(handle.fileno(), 0, RESERVE_BYTES)
    except (OSError, AttributeError):
        give_back(path)
        return None
    return path


def give_back(reserve: Path | None) -> None:
    """Free the space ``reserve_space`` set aside (harmless twice, or for ``None``)."""
    if reserve is not None:
        with contextlib.suppress(OSError):
            reserve.unlink()


def make_room() -> None:
    """After a write failed for want of space: checkpoint the SQLite WAL, so that the next
    small write reuses the WAL file from its start instead of growing it. Harmless anywhere
    (PostgreSQL: nothing to do); answers nothing, fails quietly (it is a last try)."""
    db = database.obj
    if isinstance(db, SqliteDatabase):
        with contextlib.suppress(Exception):
            db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")


_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def _redact(url: str) -> str:
    """``url`` without its passwords, in the URL or in its ``?parameters``."""
    parts = urlsplit(url)
    if parts.password is not None:
        url = url.replace(f":{parts.password}@", ":********@", 1)
    if parts.query:
        head, _, query = url.partition("?")
        pairs = [
            f"{pair.partition('=')[0]}=********"
            if pair.partition("=")[0] in _SECRET_PARAMETERS
            else pair
            for pair in query.split("&")
        ]
        url = f"{head}?{'&'.join(pairs)}"
    return url


def make_database(url: str | None, sqlite_path: Path | None = None) -> Database:
    """Build (but do not connect) the database that ``url`` names, or SQLite at ``sqlite_path``."""
    if url is None:
        if sqlite_path is None:
            raise WorkspaceError("no database URL and no SQLite path")
        return _sqlite(sqlite_path)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("postgres", "postgresql", "postgresql+psycopg2"):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            raise WorkspaceError(
                "PostgreSQL needs its driver: pip install 'notify-tui[postgres]'"
            ) from None
        return PostgresqlDatabase(**_postgres_options(url))
    if scheme == "sqlite":
        if parts.query:
            raise WorkspaceError(f"a SQLite URL takes no ?parameters: {_redact(url)!r}")
        path = unquote(parts.path)
        if parts.netloc and parts.netloc not in ("", "localhost"):
            path = unquote(parts.netloc + parts.path)
        if not path or path == "/":
            raise WorkspaceError(f"no file in SQLite URL {url!r}: use sqlite:///path/to/file.db")
        return _sqlite(Path(path[1:] if path.startswith("//") else path))
    raise WorkspaceError(
        f"unsupported database URL {_redact(url)!r}: use postgresql://... or sqlite:///path"
    )


LIBPQ_OPTIONS = frozenset(
    {
        "application_name",
        "channel_binding",
        "client_encoding",
        "connect_timeout",
        "fallback_application_name",
        "gssencmode",
        "hostaddr",
        "keepalives",
        "keepalives_count",
        "keepalives_idle",
        "keepalives_interval",
        "krbsrvname",
        "load_balance_hosts",
        "options",
        "passfile",
        "require_auth",
        "service",
        "ssl_max_protocol_version",
        "ssl_min_protocol_version",
        "sslcert",
        "sslcompression",
        "sslcrl",
        "sslkey",
        "sslmode",
        "sslpassword",
        "sslrootcert",
        "sslsni",
        "target_session_attrs",
        "tcp_user_timeout",
    }
)
"""The ``?parameters`` a PostgreSQL URL may carry besides its parts (libpq's names)."""

_URL_PARTS = {"user": "user", "password": "password", "host": "host", "port": "port"}
_INTEGER_OPTIONS = frozenset(
    {"connect_timeout", "keepalives", "keepalives_count", "keepalives_idle"}
    | {"keepalives_interval", "tcp_user_timeout"}
)


def _postgres_options(url: str) -> dict[str, object]:
    """The connection arguments of a ``postgresql://`` URL, every part checked: a mistake is a
    ``WorkspaceError`` that names it (and never the password)."""
    shown = _redact(url)
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise WorkspaceError(
            f"the port in the database URL {shown!r} must be a number from 1 to 65535"
        ) from None
    query = parse_qsl(parts.query, keep_blank_values=True)
    keys = [key for key, _ in query]
    unknown = sorted({key for key in keys if key not in LIBPQ_OPTIONS and key not in _URL_PARTS})
    if unknown:
        raise WorkspaceError(
            f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} in the "
            f"database URL {shown!r}"
        )
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise WorkspaceError(f"{', '.join(repeated)} given twice in the database URL {shown!r}")
    options: dict[str, object] = dict(query)
    given = {
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "host": parts.hostname,
        "port": port,
    }
    for key, value in given.items():
        if value is None:
            continue
        if key in options:
            raise WorkspaceError(
                f"the database URL {shown!r} gives its {key} twice: in the URL and as ?{key}="
            )
        options[key] = value
    for key in ("port", *_INTEGER_OPTIONS):
        if key not in options:
            continue
        text = str(options[key])
        high = 65_535 if key == "port" else 2**31 - 1
        if not text.isdigit() or not (1 if key == "port" else 0) <= int(text) <= high:
            raise WorkspaceError(
                f"{key} in the database URL {shown!r} must be a whole number"
                + (" from 1 to 65535" if key == "port" else "")
            )
        options[key] = int(text)
    options.setdefault("host", "127.0.0.1")
    options.setdefault("port", 5432)
    options["database"] = unquote(parts.path.lstrip("/")) or "postgres"
    return options


PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
"""A workspace holds every contact's number and name: what notify-tui creates, only its owner
reads (SQLite gives the -wal and -shm files the mode of the database file)."""


def private_folder(path: Path) -> None:
    """Create the folder ``path`` (and its parents) if missing; the folder itself 0700."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=PRIVATE_FOLDER)
    os.chmod(path, PRIVATE_FOLDER)


def private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 if it does not exist (an existing file is left alone),
    and its folder 0700 if that is missing too."""
    private_folder(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))


def _sqlite(path: Path) -> SqliteDatabase:
    try:
        private_file(path)
    except OSError as exc:
        where = exc.filename or path.parent
        raise WorkspaceError(f"cannot create {where}: {exc.strerror}") from None
    # IMMEDIATE: a writer takes the lock when it begins, so two writers queue on busy_timeout
    # instead of one failing with "database is locked" when it tries to upgrade its lock.
    return WorkspaceSqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")


class WorkspaceSqliteDatabase(SqliteDatabase):
    """SQLite as a workspace uses it: a failure leaves one clear error, never a crash.

    After an I/O error or a write refused because the file (or its -wal, or its -shm) became
    read-only, SQLite must not be touched again by this process: the -shm is mapped in memory,
    and the next access to a mapping whose file turned immutable (or whose filesystem went
    read-only) kills the process with SIGBUS, which no Python code can catch. So the error is
    kept (``unusable``), every later query raises it at once, and the connections are never
    closed (closing checkpoints): they end with the process, as after a kill, which SQLite is
    made to survive. What was committed is in the file; the failed transaction is not.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unusable: StorageError | None = None

    def _note(self, exc: BaseException | None) -> None:
        if exc is None or self.unusable is not None:
            return
        failure = storage_error(exc, self)
        if failure is not None and failure.failure in _UNTOUCHABLE:
            self.unusable = failure

    def _refuse(self) -> None:
        if self.unusable is not None:
            raise StorageError(self.unusable.failure, str(self.unusable), self.unusable.cause)

    def cursor(self, named_cursor: Any = None) -> Any:
        self._refuse()
        self._check_shm()
        return super().cursor(named_cursor)

    def _check_shm(self) -> None:
        """Before each statement: the -shm must still be writable (one ``access`` call), or
        the statement would die of SIGBUS (see the class)."""
        shm = f"{self.database}-shm"
        if os.access(shm, os.W_OK) or not os.path.exists(shm):
            return
        refused = sqlite3.OperationalError(f"{Path(shm).name} became read-only")
        refused.sqlite_errorcode = 8  # SQLITE_READONLY
        self.unusable = storage_error(refused, self)
        self._refuse()

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        try:
            return super().execute_sql(sql, params)
        except Exception as exc:
            self._note(exc)
            raise

    def begin(self, lock_type: str | None = None) -> None:
        try:
            super().begin(lock_type)
        except Exception as exc:
            self._note(exc)
            raise

    def commit(self) -> None:
        try:
            super().commit()
        except Exception as exc:
            self._note(exc)
            raise

    def rollback(self) -> None:
        # Called while the failure that ends the transaction is being handled.
        self._note(sys.exc_info()[1])
        if self.unusable is not None:
            return
        # After SQLITE_FULL, an I/O error or a corruption SQLite has rolled the transaction back
        # itself: a ROLLBACK would fail with "no transaction is active" over the real error.
        if not self.is_closed() and not self.connection().in_transaction:
            return
        super().rollback()

    def _close(self, conn: sqlite3.Connection) -> None:
        if self.unusable is not None:
            # Never closed, never freed (a closing connection checkpoints): see the class.
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(conn))
            return
        super()._close(conn)


_UNTOUCHABLE = (StorageFailure.IO, StorageFailure.READ_ONLY)
"""Failures after which SQLite is not touched again by this process (see above)."""


def open_workspace(url: str | None, sqlite_path: Path | None = None) -> Database:
    """Connect the models to a workspace, creating or migrating its schema as needed."""
    db = make_database(url, sqlite_path)
    database.initialize(db)
    try:
        db.connect(reuse_if_open=True)
        ensure_schema(db)
    except Exception as exc:
        failure = storage_error(exc, db)
        with contextlib.suppress(Exception):
            db.close()
        if failure is not None and failure.failure is not StorageFailure.CONNECTION:
            raise failure from None
        where = _redact(url) if url else str(sqlite_path)
        if isinstance(exc, MemoryError) and not isinstance(db, PostgresqlDatabase):
            # SQLite answers SQLITE_NOMEM (Python: MemoryError) for some damaged headers (an
            # impossible page size): the file is damaged, not the machine out of memory.
            raise WorkspaceError(
                f"cannot open the workspace at {where}: the file is damaged (SQLite could not "
                "read its header): restore it from a backup"
            ) from None
        if failure is None and not _is_driver_error(exc):
            raise
        raise WorkspaceError(f"cannot open the workspace at {where}: {_first_line(exc)}") from None
    return db


def _is_driver_error(exc: BaseException) -> bool:
    import peewee

    return isinstance(exc, peewee.PeeweeException | sqlite3.Error)


def _migrator(db: Database) -> SchemaMigrator:
    if isinstance(db, PostgresqlDatabase):
        return PostgresqlMigrator(db)
    return SqliteMigrator(db)


def schema_version(db: Database) -> int | None:
    """The version recorded in the workspace, or ``None`` for an empty database."""
    if not db.table_exists(SchemaInfo._meta.table_name):
        return None
    row = SchemaInfo.get_or_none(SchemaInfo.key == "version")
    return int(row.value) if row else None


def ensure_schema(db: Database) -> None:
    """Create the tables of a new workspace, or migrate an older one, in one transaction."""
    with db.atomic():
        version = schema_version(db)
        if version is None:
            db.create_tables(ALL_MODELS, safe=True)
            name_search.create(db)
            _record_version(SCHEMA_VERSION)
            return
        if version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"this workspace has schema version {version}, newer than this notify-tui "
                f"understands ({SCHEMA_VERSION}): upgrade notify-tui"
            )
        migrator = _migrator(db)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[target](db, migrator)
            _record_version(target)
        _ensure_indexes(db)


def _ensure_indexes(db: Database) -> None:
    """Create the indexes a workspace made before them lacks (the ones that keep a million
    messages quick). They hold nothing but derived data, so they need no schema version, and an
    older notify-tui still opens the workspace. Nothing is locked when all are there."""
    schema = None
    if isinstance(db, PostgresqlDatabase):
        # peewee looks in "public" unless told: the workspace may live in another schema.
        schema = db.execute_sql("SELECT current_schema()").fetchone()[0]
    for model in (Message, Contact, Campaign):
        present = {index.name for index in db.get_indexes(model._meta.table_name, schema)}
        wanted = {getattr(index, "_name", None) for index in model._meta.fields_to_index()}
        if not wanted <= present:
            db.create_tables([model], safe=True)  # the table is there: only its missing indexes


def _record_version(version: int) -> None:
    SchemaInfo.insert(key="version", value=str(version)).on_conflict(
        conflict_target=[SchemaInfo.key], update={SchemaInfo.value: str(version)}
    ).execute()


BACKUP_KEY = "last_backup"
"""``schema_info`` key of when and where the last ``backup`` went."""


def last_backup() -> str | None:
    """When and where the open workspace was last backed up (``backup``), if it ever was."""
    try:
        row = SchemaInfo.get_or_none(SchemaInfo.key == BACKUP_KEY)
    except Exception as exc:
        if storage_error(exc) is None:
            raise
        return None
    return str(row.value) if row else None


def backup(target: Path) -> int:
    """Copy the open SQLite workspace to ``target`` with SQLite's online backup API: a
    consistent copy, taken while other processes go on writing. The copy is written beside
    ``target`` under another name, 0600, then renamed, so a failure (a full disk) leaves no
    half-written backup. Answers the size in bytes. Raises ``WorkspaceError`` for PostgreSQL
    and for a ``target`` that exists or is the workspace itself."""
    db = database.obj
    if not isinstance(db, SqliteDatabase):
        raise WorkspaceError(
            "notify-tui backup copies SQLite workspaces; back up PostgreSQL with pg_dump "
            "(pg_dump -Fc -n SCHEMA -f FILE URL) and restore it with pg_restore"
        )
    source = Path(db.database).resolve()
    target = target.expanduser()
    if target.exists() or Path(f"{target}-wal").exists():
        if target.resolve() == source:
            raise WorkspaceError(f"{target} is the workspace itself: name another file")
        raise WorkspaceError(f"{target} exists: name another file, or move that one away")
    if not target.parent.is_dir():
        raise WorkspaceError(f"no folder {target.parent}: create it first")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        private_file(partial)
        copy = sqlite3.connect(partial)
        try:
            db.connection().backup(copy)
            # One self-contained file: no -wal beside it to lose when it is copied back.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
        os.replace(partial, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        found = _failure_of(exc)
        writing = (StorageFailure.FULL, StorageFailure.READ_ONLY, StorageFailure.IO)
        # Only read, the workspace is rarely what fails: a full disk or a read-only folder is
        # the backup's. Damage or a lock is the workspace's, and says so.
        if isinstance(exc, OSError) or (found is not None and found[0] in writing):
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else _first_line(exc)
            raise WorkspaceError(
                f"could not write the backup {target} ({why}); nothing was left behind: free "
                "some space there or name a file elsewhere"
            ) from None
        raise
    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC to {target.resolve()}"
    with contextlib.suppress(Exception):
        # Only a note for doctor: a workspace that cannot take it is still backed up.
        SchemaInfo.insert(key=BACKUP_KEY, value=stamp).on_conflict(
            conflict_target=[SchemaInfo.key], update={SchemaInfo.value: stamp}
        ).execute()
    return target.stat().st_size
