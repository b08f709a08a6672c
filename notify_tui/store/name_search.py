"""A substring index of what a search compares, so that a search for a name reads only the rows
that may match instead of every row.

A search (``store.campaigns.name_contains`` and ``contains``) matches the typed text as a
substring of a row's name (case and accents folded: the stored ``name_folded``, or the name
itself when it is plain ASCII) or of its number. The index holds, per row, its *search key*:
``coalesce(name_folded, lower(name))``, followed by the number (lower case) when that is not a
plain E.164 number (``+`` and digits: the raw text of an invalid number, the only kind a text
with letters can be found in). It is kept for the recipients (``message``) and the contacts
(``contact``):

- SQLite: an external-content FTS5 table with the ``trigram`` tokenizer (``message_search``,
  its content the view ``message_search_source``), kept in sync by triggers on insert, on update
  of the name, folded name or number, and on delete (a campaign's cascade included);
- PostgreSQL: a GIN trigram index (``pg_trgm``) on the same expression (``message_search_trgm``).
  Without the extension (it cannot be created without the CREATE privilege) there is no index:
  the search scans, and ``doctor`` says so and why.

The index only *narrows*: every row it offers is still tested with the search's own condition,
so a search finds exactly what the scan finds, index or not. A trigram index cannot answer a
text of fewer than ``MIN_LENGTH`` characters, nor one that can be part of an E.164 number
(digits, ``+``, a formatted number: those are matched against the numbers, which have indexes
of their own): such searches keep the scan (``narrows`` says which).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from peewee import (
    JOIN,
    SQL,
    Case,
    Database,
    Expression,
    Model,
    PostgresqlDatabase,
    Table,
    Value,
    fn,
)

from notify_tui.domain.text import fold
from notify_tui.store.models import database

MIN_LENGTH = 3
"""The shortest text a trigram index answers; a shorter search scans."""

BUILD_BATCH = 50_000
"""Rows one statement of ``build`` indexes (SQLite)."""

E164_SQLITE = "GLOB '+[0-9]*' AND {col} NOT GLOB '+*[^0-9]*'"
E164_POSTGRES = "^\\+[0-9]+$"
"""A plain E.164 number (``+`` and digits only): left out of the search key."""


@dataclass(frozen=True, slots=True)
class Searched:
    """A table whose names a search compares."""

    table: str

    @property
    def fts(self) -> str:
        """SQLite: the FTS5 table."""
        return f"{self.table}_search"

    @property
    def source(self) -> str:
        """SQLite: the view the FTS5 table indexes (its external content)."""
        return f"{self.table}_search_source"

    @property
    def trigram_index(self) -> str:
        """PostgreSQL: the GIN index."""
        return f"{self.table}_search_trgm"

    @property
    def triggers(self) -> tuple[str, str, str]:
        """SQLite: the triggers that keep the index in sync."""
        return (f"{self.fts}_insert", f"{self.fts}_update", f"{self.fts}_delete")


SEARCHED = (Searched("message"), Searched("contact"))


def searched(table: str) -> Searched:
    """The ``Searched`` of ``table``."""
    for item in SEARCHED:
        if item.table == table:
            return item
    raise KeyError(table)


def sqlite_tables() -> set[str]:
    """The tables (and shadow tables) the SQLite index adds to a workspace."""
    shadows = ("", "_data", "_idx", "_docsize", "_config")
    return {f"{item.fts}{shadow}" for item in SEARCHED for shadow in shadows}


# -- the search key ---------------------------------------------------------------------------


def key_sql(postgres: bool, row: str = "") -> str:
    """The search key of a row as SQL, its columns prefixed by ``row`` (``new.``, ``old.``)."""
    name, folded, phone = (f'{row}"{c}"' for c in ("name", "name_folded", "phone"))
    if postgres:
        plain = f"{phone} ~ '{E164_POSTGRES}'"
        newline = "chr(10)"
    else:
        plain = f"{phone} {E164_SQLITE.format(col=phone)}"
        newline = "char(10)"
    return (
        f"coalesce({folded}, lower({name}), '') || "
        f"CASE WHEN {plain} THEN '' ELSE {newline} || lower({phone}) END"
    )


def _key_expression(model: type[Model]) -> Any:
    """The search key of ``model``'s rows as a peewee expression: the very expression the
    PostgreSQL index is on (the planner matches them), columns qualified as the query has them."""
    phone = model.phone  # type: ignore[attr-defined]
    plain = Expression(phone, "~", Value(E164_POSTGRES))
    number = Case(None, ((plain, ""),), fn.chr(10).concat(fn.LOWER(phone)))
    name = fn.COALESCE(model.name_folded, fn.LOWER(model.name), "")  # type: ignore[attr-defined]
    return name.concat(number)


# -- which searches the index answers --------------------------------------------------------


def terms(text: str) -> tuple[str, ...]:
    """What the index must contain for a row to match ``text``: its folded form, and as typed
    (lower case) when that differs (``name_contains`` matches both)."""
    typed = text.strip().lower()
    key = fold(text.strip())
    return (key,) if key == typed else (key, typed)


def _numeric(text: str) -> bool:
    """True when ``text`` could be (part of) an E.164 number or is typed as a formatted one:
    those searches compare numbers, which the index leaves out."""
    from notify_tui.domain.phone import search_digits  # phonenumbers: loaded when searching

    bare = text.strip()
    return set(bare) <= set("+0123456789") or search_digits(bare) is not None


def narrows(model: type[Model], text: str) -> bool:
    """True when the index of ``model``'s table is there and can answer a search for ``text``:
    at least ``MIN_LENGTH`` characters (a trigram index cannot answer fewer) that are not a
    number. Otherwise the search scans."""
    if _numeric(text) or any(len(term) < MIN_LENGTH for term in terms(text)):
        return False
    return model._meta.table_name in present()


def candidates(model: type[Model], text: str) -> Any:
    """The rows of ``model`` whose search key may contain ``text``: a superset of the matches
    (to be tested with the search's own condition too). Only when ``narrows``."""
    if isinstance(database.obj, PostgresqlDatabase):
        key = _key_expression(model)
        match: Any = None
        for term in terms(text):
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            like = Expression(key, "LIKE", Value(f"%{escaped}%"))
            match = like if match is None else (match | like)
        return match
    name = searched(model._meta.table_name).fts
    hits = (
        Table(name)
        .alias(name)
        .select(SQL("rowid"))
        .where(SQL(f'"{name}" MATCH ?', [_fts_query(text)]))
    )
    return model.id.in_(hits)  # type: ignore[attr-defined]


PAYS_BELOW = 4
"""SQLite reads the index's rows for a search only when they are fewer than a ``PAYS_BELOW``-th
of the rows a scan would read (a row found through the index costs a few of a scan's)."""


def pays(model: type[Model], text: str, scanned: int) -> bool:
    """True when reading the rows the index offers for ``text`` is cheaper than scanning the
    ``scanned`` rows the search is limited to (a campaign's recipients). Only when ``narrows``.

    The index holds every campaign's rows: a small campaign in a workspace with a big one would
    otherwise read the big one's matches too (a common ``son``: 0.5 s instead of 1 ms). So on
    SQLite the index's rows are counted first, up to ``scanned / PAYS_BELOW`` (a cheap read of
    the index alone). PostgreSQL's planner weighs this itself: always ``True``."""
    if isinstance(database.obj, PostgresqlDatabase):
        return True
    name = searched(model._meta.table_name).fts
    cap = scanned // PAYS_BELOW
    if cap <= 0:
        return False
    row = database.execute_sql(
        f'SELECT count(*) FROM (SELECT rowid FROM "{name}" WHERE "{name}" MATCH ? LIMIT ?)',
        (_fts_query(text), cap),
    ).fetchone()
    return int(row[0]) < cap


def _fts_query(text: str) -> str:
    """An FTS5 query for rows that contain any of the ``terms`` of ``text``: quoted strings,
    which the trigram tokenizer matches as substrings, ``%`` and ``_`` literally."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms(text))


def narrowed(model: type[Model], text: str, match: Any, *, alone: bool) -> Any:
    """``match``, a search for ``text`` in ``model``'s rows, narrowed to the index's candidates
    where the database reads them well: on PostgreSQL always (its planner weighs the index
    against the others), on SQLite only when ``alone`` (no other condition has an index: the
    contacts). A campaign's recipients on SQLite are found with ``matching`` instead: SQLite
    would walk the campaign's index and test each row against the whole list of candidates.
    ``match`` itself when the index cannot answer ``text`` (``narrows``)."""
    if not narrows(model, text):
        return match
    if alone or isinstance(database.obj, PostgresqlDatabase):
        return candidates(model, text) & match
    return match


def matching(
    model: type[Model],
    columns: Sequence[Any],
    where: Any,
    text: str,
    order: Sequence[Any] | None = None,
) -> Any:
    """``SELECT columns FROM model WHERE where ORDER BY order`` (by id unless told), found
    through the index, where ``where`` holds the search for ``text`` as ``narrowed(...,
    alone=False)`` made it. Only when ``narrows``.

    SQLite: read from the FTS5 table first (``CROSS JOIN`` fixes the order), each hit looked up
    by id and tested: asked the plain way, SQLite walks the campaign's index and tests every
    row. PostgreSQL: ``where`` is narrowed already, and its planner chooses from statistics."""
    by = list(order) if order is not None else [model.id]  # type: ignore[attr-defined]
    if isinstance(database.obj, PostgresqlDatabase):
        return model.select(*columns).where(where).order_by(*by)
    name = searched(model._meta.table_name).fts
    return (
        model.select(*columns)
        .from_(Table(name).alias(name))
        .join(model, JOIN.CROSS)
        .where(
            (model.id == SQL(f'"{name}".rowid'))  # type: ignore[attr-defined]
            & SQL(f'"{name}" MATCH ?', [_fts_query(text)])
            & where
        )
        .order_by(*by)
    )


# -- what the workspace has --------------------------------------------------------------------

_PRESENT: weakref.WeakKeyDictionary[Database, frozenset[str]] = weakref.WeakKeyDictionary()


def present(db: Database | None = None) -> frozenset[str]:
    """The tables whose search index the open workspace has (looked up once per connection's
    database; ``forget`` after changing it)."""
    db = db or database.obj
    found = _PRESENT.get(db)
    if found is None:
        found = _PRESENT[db] = frozenset(_look_up(db))
    return found


def forget(db: Database | None = None) -> None:
    """Look the index up again next time (it was built, dropped or repaired)."""
    _PRESENT.pop(db or database.obj, None)


def _schema(db: Database) -> str:
    return str(db.execute_sql("SELECT current_schema()").fetchone()[0])


def _look_up(db: Database) -> set[str]:
    if isinstance(db, PostgresqlDatabase):
        names = {item.trigram_index: item.table for item in SEARCHED}
        rows = db.execute_sql(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND indexname = ANY(%s)",
            (list(names),),
        ).fetchall()
        return {names[name] for (name,) in rows}
    wanted = {item.fts: item for item in SEARCHED}
    rows = db.execute_sql(
        "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'trigger')"
    ).fetchall()
    have = {name for name, _ in rows}
    return {
        item.table
        for name, item in wanted.items()
        if name in have and all(t in have for t in item.triggers)
    }


# -- building, checking, repairing -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexState:
    """How the search index of one table stands."""

    table: str
    present: bool
    rows: int
    """Rows of the table."""
    indexed: int | None
    """Rows the index holds (SQLite), ``None`` where it cannot be counted (PostgreSQL)."""
    why_missing: str | None = None
    """Why there is none, when that is known (PostgreSQL without ``pg_trgm``)."""

    @property
    def in_sync(self) -> bool:
        """True when the index is there and holds every row."""
        return self.present and (self.indexed is None or self.indexed == self.rows)


Progress = Callable[[str, int, int], None]
"""Told ``(table, rows indexed so far, rows in all)`` while an index is built."""


def create(db: Database, progress: Progress | None = None) -> str | None:
    """Create the search index of every searched table, filled with their rows, in the open
    transaction. Answers why there is none (PostgreSQL without ``pg_trgm``), else ``None``."""
    try:
        if isinstance(db, PostgresqlDatabase):
            return _create_postgres(db, progress)
        for item in SEARCHED:
            _create_sqlite(db, item, progress)
        return None
    finally:
        forget(db)


def drop(db: Database) -> None:
    """Drop the search index of every searched table (searches then scan)."""
    try:
        for item in SEARCHED:
            if isinstance(db, PostgresqlDatabase):
                db.execute_sql(f'DROP INDEX IF EXISTS "{item.trigram_index}"')
                continue
            for trigger in item.triggers:
                db.execute_sql(f'DROP TRIGGER IF EXISTS "{trigger}"')
            db.execute_sql(f'DROP TABLE IF EXISTS "{item.fts}"')
            db.execute_sql(f'DROP VIEW IF EXISTS "{item.source}"')
    finally:
        forget(db)


def rebuild(db: Database, progress: Progress | None = None) -> str | None:
    """Drop and create the index again from the rows (``doctor --repair``); answers as
    ``create``."""
    with db.atomic():
        drop(db)
        return create(db, progress)


def _create_sqlite(db: Database, item: Searched, progress: Progress | None) -> None:
    table, fts = item.table, item.fts
    db.execute_sql(
        f'CREATE VIEW IF NOT EXISTS "{item.source}" AS '
        f'SELECT "id", {key_sql(False)} AS "key" FROM "{table}"'
    )
    db.execute_sql(
        f'CREATE VIRTUAL TABLE IF NOT EXISTS "{fts}" USING fts5("key", '
        f"tokenize='trigram', content='{item.source}', content_rowid='id')"
    )
    new, old = key_sql(False, "new."), key_sql(False, "old.")
    insert, update, delete = item.triggers
    add = f'INSERT INTO "{fts}"("rowid", "key") VALUES (new."id", {new});'
    remove = f'INSERT INTO "{fts}"("{fts}", "rowid", "key") VALUES (\'delete\', old."id", {old});'
    db.execute_sql(
        f'CREATE TRIGGER IF NOT EXISTS "{insert}" AFTER INSERT ON "{table}" BEGIN {add} END'
    )
    db.execute_sql(
        f'CREATE TRIGGER IF NOT EXISTS "{update}" AFTER UPDATE OF "name", "name_folded", "phone" '
        f'ON "{table}" BEGIN {remove} {add} END'
    )
    db.execute_sql(
        f'CREATE TRIGGER IF NOT EXISTS "{delete}" AFTER DELETE ON "{table}" BEGIN {remove} END'
    )
    # Filled a batch at a time, in id order, each batch one statement (FTS5 writes a statement's
    # rows at once: a row per statement would write a segment per row).
    db.execute_sql(f'INSERT INTO "{fts}"("{fts}") VALUES (\'delete-all\')')
    total = int(db.execute_sql(f'SELECT count(*) FROM "{table}"').fetchone()[0])
    done = last = 0
    while True:
        high = db.execute_sql(
            f'SELECT max("id") FROM (SELECT "id" FROM "{table}" WHERE "id" > ? '
            f'ORDER BY "id" LIMIT {BUILD_BATCH})',
            (last,),
        ).fetchone()[0]
        if high is None:
            break
        cursor = db.execute_sql(
            f'INSERT INTO "{fts}"("rowid", "key") SELECT "id", "key" FROM "{item.source}" '
            'WHERE "id" > ? AND "id" <= ?',
            (last, high),
        )
        done += max(int(cursor.rowcount), 0)
        last = int(high)
        if progress is not None:
            progress(table, done, total)


def _trigram_schema(db: Database) -> tuple[str | None, str | None]:
    """The schema ``pg_trgm`` is installed in, created if need be; or why it cannot be."""
    found = db.execute_sql(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
    ).fetchone()
    if found:
        return str(found[0]), None
    available = db.execute_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
    ).fetchone()
    if not available:
        return None, "the pg_trgm extension is not installed on the server (postgresql-contrib)"
    why = None
    # In "public" if it may: a workspace's own schema may be dropped (with CASCADE, which would
    # drop the extension, and every other schema's index on it, too).
    for schema in ("public", _schema(db)):
        try:
            with db.atomic():
                db.execute_sql(f'CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA "{schema}"')
        except Exception as exc:  # no privilege, or another session created it meanwhile
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            found = db.execute_sql(
                "SELECT extnamespace::regnamespace::text FROM pg_extension "
                "WHERE extname = 'pg_trgm'"
            ).fetchone()
            if found:
                return str(found[0]), None
            continue
        return schema, None
    return None, f"the pg_trgm extension could not be created ({why})"


def _create_postgres(db: Database, progress: Progress | None) -> str | None:
    schema, why = _trigram_schema(db)
    if schema is None:
        return why
    for item in SEARCHED:
        total = int(db.execute_sql(f'SELECT count(*) FROM "{item.table}"').fetchone()[0])
        if progress is not None:
            progress(item.table, 0, total)
        db.execute_sql(
            f'CREATE INDEX IF NOT EXISTS "{item.trigram_index}" ON "{item.table}" '
            f'USING gin (({key_sql(True)}) "{schema}".gin_trgm_ops)'
        )
        if progress is not None:
            progress(item.table, total, total)
    return None


def why_missing(db: Database | None = None) -> str | None:
    """Why the workspace can have no search index (PostgreSQL: no ``pg_trgm`` and no privilege
    to create it, or no such extension on the server); ``None`` when it can have one."""
    db = db or database.obj
    if not isinstance(db, PostgresqlDatabase):
        return None
    found = db.execute_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone()
    if found:
        return None
    available = db.execute_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
    ).fetchone()
    if not available:
        return "the pg_trgm extension is not installed on the server (postgresql-contrib)"
    allowed = db.execute_sql(
        "SELECT has_database_privilege(current_database(), 'CREATE')"
    ).fetchone()
    if not allowed or not allowed[0]:
        return (
            "the pg_trgm extension is missing and this user may not create it (it needs the "
            "CREATE privilege on the database)"
        )
    return None  # it can be created: doctor --repair does


def states(db: Database | None = None) -> list[IndexState]:
    """How the index of every searched table stands: there or not, and (SQLite) whether it holds
    as many rows as the table."""
    db = db or database.obj
    forget(db)
    have = present(db)
    postgres = isinstance(db, PostgresqlDatabase)
    why = None if have >= {s.table for s in SEARCHED} else why_missing(db)
    found = []
    for item in SEARCHED:
        rows = int(db.execute_sql(f'SELECT count(*) FROM "{item.table}"').fetchone()[0])
        indexed = None
        if not postgres and item.table in have:
            # One row per indexed document in the size table (the view would count the rows).
            indexed = int(
                db.execute_sql(f'SELECT count(*) FROM "{item.fts}_docsize"').fetchone()[0]
            )
        found.append(IndexState(item.table, item.table in have, rows, indexed, why))
    return found
