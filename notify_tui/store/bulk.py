"""Bulk writes: one prepared statement run for many rows.

peewee builds a statement's SQL anew for every row of an ``insert_many`` (about 0.4 ms a row);
imports of millions and the opt-out policy's thousands per poll cycle write through here.
"""

from __future__ import annotations

from collections.abc import Sequence

from notify_tui.store.models import Contact, database


def executemany(sql: str, rows: Sequence[tuple[object, ...]]) -> int:
    """Run ``sql`` (``{p}`` marks each parameter) once per row; answers the rows changed."""
    if not rows:
        return 0
    cursor = database.cursor()
    cursor.executemany(sql.replace("{p}", database.param), rows)
    return int(cursor.rowcount)


INSERT_CONTACT = (
    f'INSERT INTO "{Contact._meta.table_name}" ("phone", "name", "name_folded", "attributes", '
    '"created_at", "updated_at", "opted_out") VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) '
    "ON CONFLICT DO NOTHING"
)
"""A new contact: phone, name, its ``folded_name``, attributes (JSON), created and updated
(``db_value``), opted out. A number already there (perhaps added meanwhile by another writer) is
left alone."""
