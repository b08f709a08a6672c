"""Writing a campaign's recipients to CSV, exactly as the user sees them.

A cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return: a contact named ``=HYPERLINK(...)``, a provider's error text) gets a
leading ``'``, as OWASP recommends, so that opening the export is safe; the phone column is left
as it is when it holds a valid E.164 number. ``raw=True`` writes every value as stored.

The file is written beside its destination and renamed into place, so a crash never leaves a
half-written export where a finished one is expected.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from notify_tui.domain.money import exact
from notify_tui.domain.status import SendState
from notify_tui.domain.text import spreadsheet_safe_row
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
    "review",
)


_REVIEWED = (SendState.NEEDS_REVIEW, SendState.SKIPPED)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def export_row(row: RecipientRow, *, raw: bool = False) -> list[str]:
    """One CSV row: status and reason exactly as the user sees them; safe to open in a
    spreadsheet unless ``raw``."""
    cells = [
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
        # Why its create's outcome needs a person (``notify-tui review``), or how it was settled.
        (row.note or "") if row.send_state in _REVIEWED else "",
    ]
    return cells if raw else spreadsheet_safe_row(cells, phone_column=0)


def write_rows(
    rows: Iterable[RecipientRow],
    handle: IO[str],
    *,
    raw: bool = False,
    shown: Callable[[str], str] | None = None,
) -> int:
    """Write the header and ``rows`` as CSV to ``handle``; returns how many rows were written.
    ``shown``, when given, rewrites each cell (a terminal gets ``domain.text.visible`` ones)."""
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        cells = export_row(row, raw=raw)
        writer.writerow([shown(cell) for cell in cells] if shown else cells)
        count += 1
    return count


def write_csv(
    rows: Iterable[RecipientRow],
    destination: Path,
    *,
    raw: bool = False,
    create_folder: bool = True,
) -> int:
    """Write ``rows`` to ``destination`` atomically; returns how many rows were written. The
    destination's folder is created when missing, unless ``create_folder`` is false (then a
    missing folder is a ``FileNotFoundError``)."""
    destination = destination.expanduser()
    if create_folder:
        destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w",
        newline="",
        encoding="utf-8",
        dir=destination.parent,
        prefix=f".{destination.name}.",
        delete=False,
    ) as handle:
        try:
            count = write_rows(rows, handle, raw=raw)
        except BaseException:
            handle.close()
            Path(handle.name).unlink(missing_ok=True)
            raise
    os.replace(handle.name, destination)
    return count


def export_campaign(
    campaign_id: int,
    destination: Path,
    flt: RecipientFilter | None = None,
    *,
    raw: bool = False,
    create_folder: bool = True,
) -> int:
    """Export the campaign's recipients that ``flt`` shows, in view order (see ``write_csv``)."""
    rows = iter_recipients(campaign_id, flt or RecipientFilter())
    return write_csv(rows, destination, raw=raw, create_folder=create_folder)


def default_export_path(campaign_id: int, directory: Path | None = None) -> Path:
    """A file name that does not overwrite an earlier export."""
    folder = directory or Path.cwd()
    candidate = folder / f"campaign-{campaign_id}.csv"
    n = 2
    while candidate.exists():
        candidate = folder / f"campaign-{campaign_id}-{n}.csv"
        n += 1
    return candidate
