"""Importing contacts from a CSV file, and reading a CSV file as a campaign's audience.

The file needs a header row with a phone column (``phone``, ``number``, ``mobile``, ``cell``,
``phone_number``, ``msisdn`` or ``tel``, in any case, spaces allowed: ``Phone Number``); ``name``
(or ``first_name`` and ``last_name``) is optional; every other column is kept as an attribute.
Cells may be separated by commas, semicolons (European spreadsheets: ``name;phone``) or tabs;
the header row decides, and the report says when it was not commas. UTF-8 with or without a
byte order mark is expected (UTF-16 with a BOM is read too); a file that
is not valid UTF-8 is read as Windows-1252 (Latin-1), and the report says so. A file that is
UTF-8 with some bytes that are not (two exports pasted together) keeps its UTF-8 text and reads
only those bytes as Windows-1252.

A line with more cells than the header is rejected, with its line number and why, unless the
cells past the header's are all empty (the trailing commas spreadsheets leave): most often it is
an unquoted comma inside a value (``Smith, John``), and keeping its first cells would store a
wrong name without a word.

Files are streamed and written in batches, so a million lines import in bounded memory; only the
first ``MAX_REJECTION_DETAILS`` rejected lines are kept in detail, the rest are counted. Every
piece of text from the file is kept as plain text with control characters (terminal escape
sequences, bidirectional overrides) removed; markup-like text such as ``[b]`` stays as it is and
is never interpreted.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from notify_tui.domain.phone import DEFAULT_REGION, format_for_humans, normalize
from notify_tui.errors import NotifyError
from notify_tui.store.contacts import ContactInput, DuplicateLine, contact_import, iter_audience
from notify_tui.store.sending import NewRecipient

MAX_REJECTION_DETAILS = 1000
"""Rejected lines kept in detail; past this they are only counted."""

BATCH_SIZE = 1000
"""Lines written per transaction."""

MAX_NAME = 200
MAX_ATTRIBUTE = 1000
MAX_RAW_PHONE = 64
"""Longer text is cut: no contact needs more, and it bounds what a hostile file can store."""

PHONE_COLUMNS = ("phone", "phone_number", "mobile", "cell", "msisdn", "tel", "number")
"""Header names (normalised: lower case, spaces and dashes as ``_``) of the phone column, in
order of preference when a file has more than one."""

NAME_COLUMNS = ("name", "full_name")
FIRST_NAME_COLUMNS = ("first_name", "firstname", "given_name")
LAST_NAME_COLUMNS = ("last_name", "lastname", "surname", "family_name")

DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}
"""The cell separators a file may use, as a report names them; the one the header row has
most of (outside quotes) wins, commas when it has none."""

FALLBACK_ENCODING = "cp1252"
MIXED_ENCODING = "utf-8+cp1252"
"""UTF-8, with the bytes that are not valid UTF-8 read as Windows-1252."""

_BIDI_CONTROLS = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_UNSAFE: dict[int, str | None] = {
    cp: None for cp in [*range(0x00, 0x20), *range(0x7F, 0xA0), *_BIDI_CONTROLS]
}
# Line breaks of every kind become spaces: a name or a number is one line.
_UNSAFE.update({ord(ch): " " for ch in "\t\n\r\x85\u2028\u2029"})
_UNSAFE_TABLE = str.maketrans(_UNSAFE)


class ContactsFileError(NotifyError):
    """The file cannot be used at all (unreadable, empty, no phone column); one line says why."""


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """A line of the file that was not used, and why."""

    line: int
    reason: str
    value: str = ""
    """The phone cell as written (control characters removed, shortened)."""

    def __str__(self) -> str:
        shown = f" ({self.value!r})" if self.value else ""
        return f"line {self.line}: {self.reason}{shown}"


@dataclass(frozen=True, slots=True)
class FileLayout:
    """Which columns of the file mean what."""

    phone_column: str
    name_columns: tuple[str, ...]
    attribute_columns: tuple[str, ...]
    encoding: str
    """The encoding the file was read with: ``utf-8``, ``utf-16``, ``cp1252`` or
    ``utf-8+cp1252`` (UTF-8 with some bytes read as Windows-1252)."""
    delimiter: str = ","
    """What separates the cells: ``,``, ``;`` (European spreadsheets) or a tab."""

    @property
    def delimiter_note(self) -> str | None:
        """A sentence for the user when the cells were not separated by commas."""
        name = DELIMITER_NAMES.get(self.delimiter)
        return None if self.delimiter == "," or name is None else f"cells separated by {name}"

    @property
    def note(self) -> str | None:
        """The encoding and delimiter notes in one sentence, or ``None`` for a plain CSV."""
        notes = [n for n in (self.encoding_note, self.delimiter_note) if n]
        return "; ".join(notes) if notes else None

    @property
    def encoding_note(self) -> str | None:
        """A sentence for the user when the file was not UTF-8."""
        if self.encoding == FALLBACK_ENCODING:
            return "the file is not valid UTF-8: read it as Latin-1 (Windows-1252)"
        if self.encoding == MIXED_ENCODING:
            return (
                "the file is UTF-8 but some of its bytes are not: read those as Latin-1 "
                "(Windows-1252)"
            )
        return None


@dataclass(frozen=True)
class ImportReport:
    """What importing a contacts file did."""

    path: str
    layout: FileLayout
    rows: int
    """Data lines read (blank lines are not counted)."""
    imported: int
    """New contacts."""
    updated: int
    """Existing contacts whose name or attributes changed."""
    unchanged: int
    """Existing contacts the file says nothing new about."""
    duplicates: int
    """Lines repeating a number seen earlier in the same file (the first one counts)."""
    invalid: int
    """Lines rejected (no or an invalid number, malformed CSV, more cells than the header)."""
    rejections: tuple[RejectedLine, ...] = ()
    """The first ``MAX_REJECTION_DETAILS`` rejected lines, in file order."""
    duplicate_lines: tuple[DuplicateLine, ...] = ()
    """The first ``MAX_REJECTION_DETAILS`` duplicate lines, each with the line it repeats."""

    @property
    def more_rejections(self) -> int:
        """Rejected lines not kept in detail."""
        return self.invalid - len(self.rejections)

    def summary_lines(self) -> list[str]:
        """The report as a few lines of plain text, for the terminal."""
        lines = []
        if self.layout.encoding_note:
            lines.append(f"Note: {self.layout.encoding_note}.")
        if self.layout.delimiter_note:
            lines.append(f"Note: {self.layout.delimiter_note}.")
        lines.append(
            f"{self.rows:,} lines: {self.imported:,} imported, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged, {self.duplicates:,} duplicates, "
            f"{self.invalid:,} invalid"
        )
        lines.extend(str(r) for r in self.rejections)
        if self.more_rejections:
            lines.append(f"... and {self.more_rejections:,} more invalid lines")
        lines.extend(duplicate_text(d) for d in self.duplicate_lines)
        if self.duplicates > len(self.duplicate_lines):
            lines.append(
                f"... and {self.duplicates - len(self.duplicate_lines):,} more duplicate lines"
            )
        return lines


def duplicate_text(duplicate: DuplicateLine) -> str:
    """``line 7: duplicate of line 2 ((415) 555-0100)``: an import's and a send's wording."""
    return (
        f"line {duplicate.line}: duplicate of line {duplicate.first_line} "
        f"({format_for_humans(duplicate.phone)})"
    )


@dataclass
class AudienceFile:
    """A CSV file read as a campaign's recipients (nothing stored)."""

    path: str
    layout: FileLayout
    recipients: list[NewRecipient] = field(default_factory=list)
    """Every line with a number, valid or not: invalid ones carry ``invalid_reason`` and are
    recorded as Failed (Invalid number) by the campaign, never sent."""
    rows: int = 0
    invalid: int = 0
    """Lines with an invalid number (they are in ``recipients``)."""
    unusable: int = 0
    """Lines with no number at all, malformed, or with more cells than the header: not
    recipients."""
    rejections: list[RejectedLine] = field(default_factory=list)
    """The first rejected or invalid lines, in detail."""
    duplicates: int = 0
    """Lines whose number an earlier line has (they are in ``recipients``: the campaign keeps
    the first and counts the others)."""
    duplicate_lines: list[DuplicateLine] = field(default_factory=list)
    """The first duplicate lines, each with the line it repeats."""


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    phone: str
    name: str | None
    attributes: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Malformed:
    number: int
    reason: str


def clean_text(value: str, limit: int) -> str:
    """``value`` without control characters or direction overrides, trimmed and cut to size."""
    if not value.isprintable():
        value = value.replace("\r\n", "\n").translate(_UNSAFE_TABLE)
    value = value.strip()
    return value[:limit].rstrip() if len(value) > limit else value


def header_key(header: str) -> str:
    """A header name as the column rules see it: ``" Phone Number"`` is ``phone_number``."""
    key = clean_text(header.replace("\ufeff", ""), 200).lower()
    for ch in " -.":
        key = key.replace(ch, "_")
    while "__" in key:
        key = key.replace("__", "_")
    return key.strip("_")


_ESCAPED_BYTES = re.compile("[\udc80-\udcff]")
_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when the whole file is UTF-8 (BOM or not), ``utf-16`` with its BOM; a file
    with UTF-8 text and bytes that are not UTF-8 is ``utf-8+cp1252``; one with no UTF-8 text
    beyond ASCII gets the Latin-1 fallback. Reads the file once, a chunk at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    invalid = utf8_text = False
    try:
        with path.open("rb") as handle:
            first = handle.read(1 << 20)
            if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                return "utf-16"
            chunk = first
            final = False
            while not final:
                final = not chunk
                text = decoder.decode(chunk, final=final)
                invalid = invalid or _ESCAPED_BYTES.search(text) is not None
                utf8_text = utf8_text or _NON_ASCII.search(text) is not None
                if invalid and utf8_text:
                    return MIXED_ENCODING
                chunk = handle.read(1 << 20) if not final else b""
    except OSError as exc:
        raise ContactsFileError(_os_message(path, exc)) from None
    return FALLBACK_ENCODING if invalid else "utf-8-sig"


def _os_message(path: Path, exc: OSError) -> str:
    return f"cannot read {path}: {exc.strerror or type(exc).__name__}"


def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    # Windows-1252 leaves five bytes undefined; read those as Latin-1 like browsers do.
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("notify_tui_latin1", _latin1_fallback)


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    # Inside UTF-8 text: the bytes that are not UTF-8 are read as Windows-1252 (else Latin-1).
    assert isinstance(error, UnicodeDecodeError)
    raw = error.object[error.start : error.end]
    return raw.decode(FALLBACK_ENCODING, errors="notify_tui_latin1"), error.end


codecs.register_error("notify_tui_cp1252", _cp1252_fallback)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        result.append(name if count == 1 else f"{name} ({count})")
    return result


class _Columns:
    """The column rules applied to a header row."""

    def __init__(self, header: list[str], encoding: str, delimiter: str = ",") -> None:
        self.delimiter = delimiter
        keys = [header_key(h) for h in header]
        phone_index = next(
            (keys.index(candidate) for candidate in PHONE_COLUMNS if candidate in keys), None
        )
        if phone_index is None:
            shown = ", ".join(clean_text(h, 40) for h in header[:8] if h.strip()) or "none"
            raise ContactsFileError(
                "no phone column: the header row needs a column named phone, number, mobile, "
                f"cell, phone_number, msisdn or tel (found: {shown})"
            )
        self.phone = phone_index
        self.width = len(header)
        self.name = next((keys.index(c) for c in NAME_COLUMNS if c in keys), None)
        first = next((keys.index(c) for c in FIRST_NAME_COLUMNS if c in keys), None)
        last = next((keys.index(c) for c in LAST_NAME_COLUMNS if c in keys), None)
        self.first, self.last = (first, last) if self.name is None else (None, None)
        used = {i for i in (self.phone, self.name, self.first, self.last) if i is not None}
        labels = _unique(
            [
                clean_text(h.replace("\ufeff", ""), 100) or f"column {i + 1}"
                for i, h in enumerate(header)
            ]
        )
        self.attributes = [(i, labels[i]) for i in range(len(header)) if i not in used]
        self.has_name = bool(used - {self.phone})
        name_columns = tuple(labels[i] for i in (self.name, self.first, self.last) if i is not None)
        self.layout = FileLayout(
            phone_column=labels[self.phone],
            name_columns=name_columns,
            attribute_columns=tuple(label for _, label in self.attributes),
            encoding="utf-8" if encoding == "utf-8-sig" else encoding,
            delimiter=delimiter,
        )

    def cells(self, row: list[str]) -> int:
        """The cells of ``row`` that count: all of them but the empty ones at its end past the
        header's (trailing commas)."""
        cells = len(row)
        while cells > self.width and not row[cells - 1].strip():
            cells -= 1
        return cells

    def line(self, number: int, row: list[str]) -> _Line:
        def cell(index: int | None) -> str:
            return row[index] if index is not None and index < len(row) else ""

        name: str | None = None
        if self.has_name:
            if self.name is not None:
                name = clean_text(cell(self.name), MAX_NAME)
            else:
                parts = (
                    clean_text(cell(self.first), MAX_NAME),
                    clean_text(cell(self.last), MAX_NAME),
                )
                name = clean_text(" ".join(parts), MAX_NAME)
        attributes = {}
        for index, label in self.attributes:
            value = clean_text(cell(index), MAX_ATTRIBUTE)
            if value:
                attributes[label] = value
        return _Line(number, cell(self.phone), name, attributes)


def read_lines(path: str | Path) -> tuple[FileLayout, Iterator[_Line | _Malformed]]:
    """Open a contacts file: its layout, and its data lines one at a time.

    Raises ``ContactsFileError`` when the file cannot be read or has no phone column.
    """
    file = Path(path)
    if file.is_dir():
        raise ContactsFileError(f"cannot read {file}: it is a folder")
    encoding = detect_encoding(file)
    errors = {FALLBACK_ENCODING: "notify_tui_latin1", MIXED_ENCODING: "notify_tui_cp1252"}
    opened_as = "utf-8-sig" if encoding == MIXED_ENCODING else encoding
    try:
        handle = file.open(
            "r", encoding=opened_as, errors=errors.get(encoding, "strict"), newline=""
        )
    except OSError as exc:
        raise ContactsFileError(_os_message(file, exc)) from None
    try:
        delimiter = _sniff_delimiter(handle)
        reader = csv.reader(handle, delimiter=delimiter)
        header: list[str] | None = None
        while header is None:
            try:
                row = next(reader)
            except StopIteration:
                raise ContactsFileError(f"{file} is empty: it needs a header row") from None
            except (csv.Error, UnicodeError) as exc:
                raise ContactsFileError(f"{file}: unreadable header row: {exc}") from None
            if any(c.strip() for c in row):
                header = row
        columns = _Columns(header, encoding, delimiter)
    except BaseException:
        handle.close()
        raise
    return columns.layout, _rows(file, handle, reader, columns)


def _sniff_delimiter(handle: io.TextIOBase) -> str:
    """The separator of the file's first non-blank line (see ``DELIMITER_NAMES``); the handle
    is left at the start of the file."""
    line = ""
    try:
        for _ in range(100):
            line = handle.readline(1 << 16)
            if not line or line.strip():
                break
        handle.seek(0)
    except (UnicodeError, OSError):
        handle.seek(0)
        return ","
    counts = dict.fromkeys(DELIMITER_NAMES, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _rows(
    file: Path, handle: io.TextIOBase, reader: Iterator[list[str]], columns: _Columns
) -> Iterator[_Line | _Malformed]:
    line_num = getattr(reader, "line_num", 0)
    with handle:
        while True:
            start = line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                now = getattr(reader, "line_num", 0)
                if now <= line_num:
                    raise ContactsFileError(
                        f"{file}: unreadable from line {start}: {exc}"
                    ) from None
                line_num = now
                yield _Malformed(start, f"malformed CSV: {exc}")
                continue
            except UnicodeError as exc:
                raise ContactsFileError(f"{file}: unreadable from line {start}: {exc}") from None
            except OSError as exc:
                raise ContactsFileError(_os_message(file, exc)) from None
            line_num = getattr(reader, "line_num", line_num)
            if not any(c.strip() for c in row):
                continue
            if line_num > start and _runaway_quote(row, columns.width, columns.delimiter):
                yield _Malformed(
                    start,
                    f"malformed CSV: a quote opened on line {start} is not closed before line "
                    f"{line_num}, so lines {start} to {line_num} were read as one: fix the quote",
                )
                continue
            cells = columns.cells(row)
            if cells > columns.width:
                yield _Malformed(start, too_many_cells(cells, columns.width, columns.delimiter))
                continue
            yield columns.line(start, row)


def too_many_cells(cells: int, width: int, delimiter: str = ",") -> str:
    """Why a line with ``cells`` cells under a header of ``width`` is rejected."""
    what = {";": "a semicolon", "\t": "a tab"}.get(delimiter, "a comma")
    return (
        f"{cells} cells but the header has {width}; put quotes around a value that contains "
        f"{what}, or give each extra column a header"
    )


def _runaway_quote(row: list[str], width: int, delimiter: str = ",") -> bool:
    """Whether a row read over several lines swallowed whole rows: a quoted cell holds a line
    break followed by a line with as many commas as a row of the file. (A quoted address that
    spans lines legitimately rarely looks like that.)"""
    commas = max(1, width - 1)
    for cell in row:
        if "\n" in cell or "\r" in cell:
            lines = cell.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            if any(line.count(delimiter) >= commas for line in lines[1:]):
                return True
    return False


def _phone_value(raw: str) -> str:
    return clean_text(raw, MAX_RAW_PHONE)


ProgressCallback = Callable[[int], None]


def import_contacts(
    path: str | Path,
    *,
    region: str = DEFAULT_REGION,
    batch_size: int = BATCH_SIZE,
    max_details: int = MAX_REJECTION_DETAILS,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import the contacts of a CSV file into the open workspace.

    Numbers are normalised to E.164 (``region`` for numbers written without a country code).
    Importing the same file again changes nothing, and no import ever clears an opt-out.
    ``on_progress`` receives the number of lines read after each batch. Raises
    ``ContactsFileError`` when the file cannot be used at all.
    """
    layout, lines = read_lines(path)
    rows = invalid = 0
    rejections: list[RejectedLine] = []

    def reject(number: int, reason: str, value: str = "") -> None:
        nonlocal invalid
        invalid += 1
        if len(rejections) < max_details:
            rejections.append(RejectedLine(number, reason, value))

    with contact_import(keep_duplicates=max_details) as writer:
        batch: list[ContactInput] = []
        for line in lines:
            rows += 1
            if isinstance(line, _Malformed):
                reject(line.number, line.reason)
                continue
            if not line.phone.strip():
                reject(line.number, "no phone number")
                continue
            result = normalize(line.phone, region)
            if result.e164 is None:
                reject(
                    line.number, f"invalid phone number: {result.error}", _phone_value(line.phone)
                )
                continue
            batch.append(ContactInput(result.e164, line.name, line.attributes, line.number))
            if len(batch) >= batch_size:
                writer.write(batch)
                batch = []
                if on_progress is not None:
                    on_progress(rows)
        if batch:
            writer.write(batch)
        if on_progress is not None:
            on_progress(rows)
        counts = writer.counts
    return ImportReport(
        path=str(path),
        layout=layout,
        rows=rows,
        imported=counts.imported,
        updated=counts.updated,
        unchanged=counts.unchanged,
        duplicates=counts.duplicates,
        invalid=invalid,
        rejections=tuple(rejections),
        duplicate_lines=tuple(writer.duplicate_lines),
    )


def read_audience(
    path: str | Path,
    *,
    region: str = DEFAULT_REGION,
    max_details: int = MAX_REJECTION_DETAILS,
) -> AudienceFile:
    """Read a CSV file (same column rules as an import) as a campaign's recipients.

    Nothing is stored. Lines with an invalid number become recipients with ``invalid_reason``
    (the campaign records them as Failed, Invalid number, and never sends them); lines without
    a number, malformed, or with more cells than the header are left out and listed in
    ``rejections``.
    """
    layout, lines = read_lines(path)
    audience = AudienceFile(str(path), layout)

    first_lines: dict[str, int] = {}

    def detail(number: int, reason: str, value: str = "") -> None:
        if len(audience.rejections) < max_details:
            audience.rejections.append(RejectedLine(number, reason, value))

    def repeated(number: int, phone: str) -> None:
        first = first_lines.setdefault(phone, number)
        if first != number:
            audience.duplicates += 1
            if len(audience.duplicate_lines) < max_details:
                audience.duplicate_lines.append(DuplicateLine(number, first, phone))

    for line in lines:
        audience.rows += 1
        if isinstance(line, _Malformed):
            audience.unusable += 1
            detail(line.number, line.reason)
            continue
        if not line.phone.strip():
            audience.unusable += 1
            detail(line.number, "no phone number")
            continue
        result = normalize(line.phone, region)
        name = line.name or ""
        if result.e164 is None:
            audience.invalid += 1
            value = _phone_value(line.phone)
            why = f"invalid phone number: {result.error}"
            detail(line.number, why, value)
            repeated(line.number, value)
            audience.recipients.append(NewRecipient(value, name, invalid_reason=result.error))
            continue
        repeated(line.number, result.e164)
        audience.recipients.append(
            NewRecipient(result.e164, name, attributes=line.attributes or None)
        )
    return audience


def all_contacts_recipients() -> Iterator[NewRecipient]:
    """Every contact of the workspace as a recipient, opted-out ones included (the campaign
    skips and counts them), read a page at a time."""
    for phone, name, attributes in iter_audience():
        yield NewRecipient(phone, name, attributes=attributes or None)
