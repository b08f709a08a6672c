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
import re
import tempfile
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import IO

from notify_tui.domain.money import exact
from notify_tui.domain.status import SendState
from notify_tui.domain.template import sent_text
from notify_tui.domain.text import fold, spreadsheet_safe_row
from notify_tui.store.campaigns import get_campaign
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
    "body",
)


_REVIEWED = (SendState.NEEDS_REVIEW, SendState.SKIPPED)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def sent_body(row: RecipientRow, campaign_text: str) -> str:
    """The text this recipient was sent (or is to be): their own (a personal message), else the
    campaign's; nothing for an invalid number, which is never sent."""
    if row.body is not None:
        return row.body
    return "" if row.send_state is SendState.INVALID else campaign_text


def export_row(row: RecipientRow, *, raw: bool = False, campaign_text: str = "") -> list[str]:
    """One CSV row: status and reason exactly as the user sees them, and the text the person
    was sent (``sent_body``); safe to open in a spreadsheet unless ``raw``."""
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
        sent_body(row, campaign_text),
    ]
    return cells if raw else spreadsheet_safe_row(cells, phone_column=0)


def write_rows(
    rows: Iterable[RecipientRow],
    handle: IO[str],
    *,
    raw: bool = False,
    shown: Callable[[str], str] | None = None,
    campaign_text: str = "",
) -> int:
    """Write the header and ``rows`` as CSV to ``handle``; returns how many rows were written.
    ``shown``, when given, rewrites each cell (a terminal gets ``domain.text.visible`` ones);
    ``campaign_text`` is the body of a recipient without their own (``campaign_text``)."""
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        cells = export_row(row, raw=raw, campaign_text=campaign_text)
        writer.writerow([shown(cell) for cell in cells] if shown else cells)
        count += 1
    return count


def write_csv(
    rows: Iterable[RecipientRow],
    destination: Path,
    *,
    raw: bool = False,
    create_folder: bool = True,
    campaign_text: str = "",
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
            count = write_rows(rows, handle, raw=raw, campaign_text=campaign_text)
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
    """Export the campaign's recipients that ``flt`` shows, in view order (see ``write_csv``),
    each with the text they were sent."""
    rows = iter_recipients(campaign_id, flt or RecipientFilter())
    text = campaign_text(campaign_id)
    return write_csv(rows, destination, raw=raw, create_folder=create_folder, campaign_text=text)


def campaign_text(campaign_id: int) -> str:
    """What a campaign sends a recipient without their own text (``{{`` as one brace)."""
    campaign = get_campaign(campaign_id)
    return sent_text(campaign.body) if campaign is not None else ""


def default_export_path(campaign_id: int, directory: Path | None = None) -> Path:
    """A file name that does not overwrite an earlier export."""
    folder = directory or Path.cwd()
    candidate = folder / f"campaign-{campaign_id}.csv"
    n = 2
    while candidate.exists():
        candidate = folder / f"campaign-{campaign_id}-{n}.csv"
        n += 1
    return candidate


def export_file_name(campaign_name: str, flt: RecipientFilter, day: date) -> str:
    """``spring-sale-failed-2026-12-05.csv``: the campaign and the filter of the view, and the
    day (ASCII, lower case, no character a file system or a shell minds)."""
    parts = [campaign_name]
    if flt.status is not None:
        parts.append(flt.status.value)
    if flt.reason:
        parts.append(flt.reason)
    if flt.search.strip():
        parts.append(f"matching {flt.search}")
    words = [_slug(part) for part in parts]
    stem = "-".join(word for word in words if word)[:80].strip("-") or "campaign"
    return f"{stem}-{day.isoformat()}.csv"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text).encode("ascii", "ignore").decode()).strip("-")


def free_path(path: Path) -> Path:
    """``path``, or ``name-2.csv``, ``name-3.csv``…: the first that does not exist yet."""
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate
