"""``notify-tui backup [FILE]``: a consistent copy of an SQLite workspace, taken while it is in
use (SQLite's online backup API). PostgreSQL workspaces are backed up with ``pg_dump``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from notify_tui.commands import EXIT_OK
from notify_tui.config import Settings
from notify_tui.services.runtime import Runtime
from notify_tui.store.db import backup


def default_target(workspace: Path, now: datetime | None = None) -> Path:
    """``workspace-YYYYMMDD-HHMMSS.backup.db`` beside the workspace (its folder is private)."""
    stamp = f"{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}"
    return workspace.with_name(f"{workspace.stem}-{stamp}.backup{workspace.suffix or '.db'}")


def run_backup(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui backup``: copy the workspace to FILE (0600), and say how to restore it."""
    runtime = Runtime.open(settings)
    try:
        workspace = Path(getattr(runtime.database, "database", "") or "workspace.db")
        target = Path(args.file) if args.file else default_target(workspace)
        size = backup(target)
        print(f"Backed up the workspace to {target} ({size:,} bytes, readable by you only).")
        print(
            f"To restore it: stop every notify-tui, then cp {target} {workspace} and delete "
            f"{workspace}-wal and {workspace}-shm if they are there."
        )
        return EXIT_OK
    finally:
        runtime.close()
