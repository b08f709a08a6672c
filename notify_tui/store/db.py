"""Opening a workspace: SQLite by default, PostgreSQL from a ``postgresql://`` URL.

The schema is created on first use and versioned in ``schema_info``; ``MIGRATIONS`` brings an
older workspace up to ``SCHEMA_VERSION`` without losing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from peewee import Database, OperationalError, PostgresqlDatabase, SqliteDatabase
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator

from notify_tui.errors import NotifyError
from notify_tui.store.models import (
    ALL_MODELS,
    Contact,
    Message,
    OptOutSuggestion,
    ProviderFault,
    SchemaInfo,
    database,
)

SCHEMA_VERSION = 4
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


MIGRATIONS: dict[int, Migration] = {
    2: _add_suggestions,
    3: _money_in_micros,
    4: _add_provider_faults,
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


def _sqlite(path: Path) -> SqliteDatabase:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create {path.parent}: {exc.strerror}") from None
    # IMMEDIATE: a writer takes the lock when it begins, so two writers queue on busy_timeout
    # instead of one failing with "database is locked" when it tries to upgrade its lock.
    return SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")


def open_workspace(url: str | None, sqlite_path: Path | None = None) -> Database:
    """Connect the models to a workspace, creating or migrating its schema as needed."""
    db = make_database(url, sqlite_path)
    database.initialize(db)
    try:
        db.connect(reuse_if_open=True)
        ensure_schema(db)
    except OperationalError as exc:
        where = _redact(url) if url else str(sqlite_path)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkspaceError(f"cannot open the workspace at {where}: {first_line}") from None
    return db


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
    for model in (Message, Contact):
        present = {index.name for index in db.get_indexes(model._meta.table_name, schema)}
        wanted = {getattr(index, "_name", None) for index in model._meta.fields_to_index()}
        if not wanted <= present:
            db.create_tables([model], safe=True)  # the table is there: only its missing indexes


def _record_version(version: int) -> None:
    SchemaInfo.insert(key="version", value=str(version)).on_conflict(
        conflict_target=[SchemaInfo.key], update={SchemaInfo.value: str(version)}
    ).execute()
