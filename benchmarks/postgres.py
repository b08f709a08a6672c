"""The benchmark's workspaces on PostgreSQL (``--database-url``): one schema each.

Each workspace the SQLite run keeps in a folder of its own lives, on PostgreSQL, in a schema of
its own on the given database, selected by the URL (``options=-csearch_path=...``), so that the
measured app opens it exactly as a user's ``--database-url`` would.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

SCHEMA_PREFIX = "notify_bench_"


def schema_url(base: str, schema: str) -> str:
    """``base`` with its search path set to ``schema``."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}')}"


def _execute(base: str, statement: str, params: tuple[str, ...] = ()) -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(base, connect_timeout=10)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def schema_exists(base: str, workdir: Path, name: str) -> bool:
    """Whether the workspace ``name`` of the run in ``workdir`` is there (for reuse)."""
    found = _execute(
        base,
        "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
        (schema_name(workdir, name),),
    )
    return bool(found)


def schema_name(workdir: Path, name: str) -> str:
    """The schema of the workspace called ``name`` (``big``, ``send``...) of the run working in
    ``workdir``: runs in other folders (a test, someone else's run) never touch it, and a later
    run in the same ``--workdir`` finds it again."""
    tag = hashlib.sha1(str(workdir.resolve()).encode()).hexdigest()[:10]
    return f"{SCHEMA_PREFIX}{tag}_" + "".join(c if c.isalnum() else "_" for c in name.lower())


def create_schema(base: str, workdir: Path, name: str) -> str:
    """An empty schema for the workspace ``name`` (any older one dropped); answers its URL."""
    schema = schema_name(workdir, name)
    _execute(base, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
    return schema_url(base, schema)


def drop_schema(base: str, workdir: Path, name: str) -> None:
    """Drop the schema of the workspace ``name``, if there is one."""
    _execute(base, f'DROP SCHEMA IF EXISTS "{schema_name(workdir, name)}" CASCADE')
