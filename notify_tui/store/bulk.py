"""Bulk writes: one prepared statement run for many rows.

peewee builds a statement's SQL anew for every row of an ``insert_many`` (about 0.4 ms a row);
imports of millions and the opt-out policy's thousands per poll cycle write through here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from notify_tui.store.models import Contact, database

ROWS_PER_INSERT = 500
"""Rows one ``INSERT`` of ``executemany`` writes at most."""

MAX_PARAMETERS = 30_000
"""Parameters one statement may carry (SQLite's limit is 32,766)."""

_ONE_ROW = re.compile(r"^(\s*INSERT\s.*?\sVALUES\s*)(\([^()]*\))(.*)$", re.IGNORECASE | re.DOTALL)


def executemany(sql: str, rows: Sequence[tuple[object, ...]]) -> int:
    """Run ``sql`` (``{p}`` marks each parameter) once per row; answers the rows changed.

    An ``INSERT ... VALUES (...)`` of one row is run as inserts of many rows each (up to
    ``ROWS_PER_INSERT``): one statement, not one per row. On SQLite that is what keeps the
    search index (``store.name_search``, written by triggers) quick: FTS5 writes what a
    statement added when the next begins, so a statement per row wrote the index a row at a
    time (a tenth of the speed); on PostgreSQL it saves a round trip per row."""
    if not rows:
        return 0
    cursor = database.cursor()
    param = database.param
    one = _ONE_ROW.match(sql)
    if one is None:
        cursor.executemany(sql.replace("{p}", param), rows)
        return int(cursor.rowcount)
    head, values, tail = one.groups()
    per = max(1, min(ROWS_PER_INSERT, MAX_PARAMETERS // max(values.count("{p}"), 1)))
    values = values.replace("{p}", param)
    changed = 0
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        statement = head + ", ".join([values] * len(chunk)) + tail
        cursor.execute(statement, [value for row in chunk for value in row])
        changed += max(int(cursor.rowcount), 0)
    return changed


INSERT_CONTACT = (
    f'INSERT INTO "{Contact._meta.table_name}" ("phone", "name", "name_folded", "attributes", '
    '"created_at", "updated_at", "opted_out") VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) '
    "ON CONFLICT DO NOTHING"
)
"""A new contact: phone, name, its ``folded_name``, attributes (JSON), created and updated
(``db_value``), opted out. A number already there (perhaps added meanwhile by another writer) is
left alone."""
