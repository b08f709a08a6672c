"""Writing a campaign's recipients to CSV, exactly as the user sees them.

Values are written intact (a name that starts with ``=`` stays so): the file is data for the
user's own tools, and rewriting it would lose what the provider or the contact list said.

The file is written beside its destination and renamed into place, so a crash never leaves a
half-written export where a finished one is expected.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from notify_tui.domain.money import exact
from notify_tui.store.recipients import RecipientFilter, RecipientRow, iter_recipients

COLUMNS = (
    "phone",
    "name",
    "status",
    "reason",
    "error_code",
    "error_message",
    "sid",
    "segments",
    "price",
    "updated_at",
    "opted_out",
)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def export_row(row: RecipientRow) -> list[str]:
    """One CSV row: status and reason exactly as the user sees them."""
    return [
        row.phone,
        row.name,
        row.status.label,
        row.reason or "",
        _cell(row.error_code),
        row.error_message or "",
        row.sid or "",
        _cell(row.num_segments),
        exact(abs(row.price)) if row.price is not None else "",
        row.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ") if row.updated_at else "",
        "true" if row.opted_out else "false",
    ]


def write_csv(rows: Iterable[RecipientRow], destination: Path) -> int:
    """Write ``rows`` to ``destination`` atomically; returns how many rows were written."""
    destination = destination.expanduser()
    destination.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with tempfile.NamedTemporaryFile(
        "w",
        newline="",
        encoding="utf-8",
        dir=destination.parent,
        prefix=f".{destination.name}.",
        delete=False,
    ) as handle:
        try:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for row in rows:
                writer.writerow(export_row(row))
                count += 1
        except BaseException:
            handle.close()
            Path(handle.name).unlink(missing_ok=True)
            raise
    os.replace(handle.name, destination)
    return count


def export_campaign(campaign_id: int, destination: Path, flt: RecipientFilter | None = None) -> int:
    """Export the campaign's recipients that ``flt`` shows, in view order."""
    return write_csv(iter_recipients(campaign_id, flt or RecipientFilter()), destination)


def default_export_path(campaign_id: int, directory: Path | None = None) -> Path:
    """A file name that does not overwrite an earlier export."""
    folder = directory or Path.cwd()
    candidate = folder / f"campaign-{campaign_id}.csv"
    n = 2
    while candidate.exists():
        candidate = folder / f"campaign-{campaign_id}-{n}.csv"
        n += 1
    return candidate
