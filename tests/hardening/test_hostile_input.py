"""Hostile contact files: every line of the corpus in ``tests/data/contacts`` gets the result it
should, what is stored is plain text, and a campaign to those contacts exports them back intact.

The corpus files say what each line should do (their ``e164`` and ``expect`` columns, see
``tests/data/make_corpus.py``). The million-line file is generated here, in a temporary folder.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from notify_tui.cli import main
from notify_tui.domain.text import spreadsheet_safe
from notify_tui.provider import sandbox_client
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.contacts_import import (
    MAX_ATTRIBUTE,
    MAX_NAME,
    AudienceFile,
    ImportReport,
    all_contacts_recipients,
    import_contacts,
    read_audience,
)
from notify_tui.services.export import COLUMNS, export_campaign
from notify_tui.services.sender import prepare_campaign, send_campaign
from notify_tui.store.contacts import contact_page, count_contacts, get_contact
from notify_tui.store.models import Campaign, Contact, Message

from .support import ROOT, SENDER, assert_consistent, subprocess_env

CORPUS = ROOT / "tests" / "data" / "contacts"
SELF_DESCRIBING = [
    "phone_formats.csv",
    "markup_names.csv",
    "escapes.csv",
    "bidi.csv",
    "long_fields.csv",
    "duplicates.csv",
    "latin1.csv",
    "mixed_encoding.csv",
    "invalid_utf8.csv",
    "extra_cells.csv",
]

_BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_BREAKS = "\t\n\r\x85\u2028\u2029"


def plain(raw: str, limit: int = MAX_NAME) -> str:
    """What the importer should keep of ``raw``: control characters and direction overrides
    gone, line breaks as spaces, trimmed, at most ``limit`` characters."""
    kept = []
    for ch in raw.replace("\r\n", "\n"):
        code = ord(ch)
        if ch in _BREAKS:
            kept.append(" ")
        elif code < 0x20 or 0x7F <= code < 0xA0 or code in _BIDI:
            continue
        else:
            kept.append(ch)
    text = "".join(kept).strip()
    return text[:limit].rstrip() if len(text) > limit else text


def is_plain(text: str) -> bool:
    """No control character, no direction override, no line break of any kind."""
    return not any(
        unicodedata.category(ch) == "Cc" or ord(ch) in _BIDI or ch in _BREAKS for ch in text
    )


@dataclass(frozen=True)
class Line:
    number: int
    phone: str
    name: str
    e164: str
    expect: str


def decoded(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    if encoding == "utf-8":
        return data.decode("utf-8-sig")
    if encoding == "cp1252":
        return data.decode("cp1252", errors="replace")
    # UTF-8 and Windows-1252 mixed: decode line by line.
    return "".join(
        line.decode("utf-8") if _utf8(line) else line.decode("cp1252")
        for line in data.splitlines(keepends=True)
    )


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def corpus_lines(path: Path, encoding: str) -> list[Line]:
    reader = csv.reader(io.StringIO(decoded(path, encoding), newline=""))
    header = next(reader)
    assert header[:4] == ["phone", "name", "e164", "expect"]
    lines = []
    previous = reader.line_num
    for row in reader:
        start, previous = previous + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        lines.append(Line(start, *row[:4]))
    return lines


def check_report(report: ImportReport, lines: list[Line]) -> None:
    """Every line has the result its ``expect`` column names, and the counts add up."""
    counts = Counter(line.expect.split(":")[0] for line in lines)
    assert report.rows == len(lines)
    assert (report.imported, report.duplicates, report.updated, report.unchanged) == (
        counts["imported"],
        counts["duplicate"],
        0,
        0,
    )
    assert report.invalid == (
        counts["invalid"] + counts["no-number"] + counts["malformed"] + counts["extra-cells"]
    )
    assert report.rows == (
        report.imported + report.updated + report.unchanged + report.duplicates + report.invalid
    )
    rejected = {r.line: r for r in report.rejections}
    kept = {line.e164 for line in lines if line.expect in ("imported", "duplicate")}
    first_name: dict[str, str] = {}
    first_line: dict[str, int] = {}
    named = {d.line: (d.first_line, d.phone) for d in report.duplicate_lines}
    for line in lines:
        kind, _, why = line.expect.partition(":")
        if kind in ("imported", "duplicate"):
            assert line.number not in rejected, (line, rejected.get(line.number))
            # The first line that names a number wins; later ones are duplicates, and the
            # report names each with the line it repeats.
            assert (kind == "duplicate") == (line.e164 in first_name), line
            assert (kind == "duplicate") == (line.number in named), line
            first_line.setdefault(line.e164, line.number)
            if kind == "duplicate":
                assert named[line.number] == (first_line[line.e164], line.e164), line
            first_name.setdefault(line.e164, plain(line.name))
            contact = get_contact(line.e164)
            assert contact is not None, line
            assert contact.name == first_name[line.e164], line
        elif kind == "invalid":
            assert rejected[line.number].reason == f"invalid phone number: {why}", line
            assert is_plain(rejected[line.number].value)
        elif kind == "no-number":
            assert rejected[line.number].reason == "no phone number", line
        elif kind == "extra-cells":
            assert rejected[line.number].reason == too_many_cells(int(why)), line
            # Not stored from its first cells under a wrong name.
            assert line.e164 in kept or not line.e164 or get_contact(line.e164) is None, line
        else:
            assert rejected[line.number].reason.startswith("malformed CSV"), line
    for contact in contact_page(limit=100_000):
        assert is_plain(contact.name) and len(contact.name) <= MAX_NAME
        for key, value in contact.attributes.items():
            assert is_plain(key) and is_plain(value) and len(value) <= MAX_ATTRIBUTE


def too_many_cells(cells: int) -> str:
    """The reason a line of ``cells`` cells of a corpus file (a header of four) is rejected."""
    return (
        f"{cells} cells but the header has 4; put quotes around a value that contains a comma, "
        "or give each extra column a header"
    )


def check_audience(audience: AudienceFile, lines: list[Line]) -> None:
    """Read as an audience, a line the import rejects is left out (an invalid number stays, to
    be recorded as Failed), with the same line number and reason."""
    counts = Counter(line.expect.split(":")[0] for line in lines)
    assert audience.rows == len(lines)
    assert audience.invalid == counts["invalid"]
    assert audience.unusable == counts["no-number"] + counts["malformed"] + counts["extra-cells"]
    usable = [line.e164 for line in lines if line.expect in ("imported", "duplicate")]
    assert [r.phone for r in audience.recipients if not r.invalid_reason] == usable
    details = {r.line: r.reason for r in audience.rejections}
    for line in lines:
        kind, _, why = line.expect.partition(":")
        if kind in ("imported", "duplicate"):
            assert line.number not in details, line
        elif kind == "extra-cells":
            assert details[line.number] == too_many_cells(int(why)), line
        elif kind == "invalid":
            assert details[line.number] == f"invalid phone number: {why}", line
        elif kind == "no-number":
            assert details[line.number] == "no phone number", line


ENCODINGS = {"latin1.csv": "cp1252", "invalid_utf8.csv": "cp1252", "mixed_encoding.csv": "mixed"}


@pytest.mark.usefixtures("workspace_url")
@pytest.mark.parametrize("name", SELF_DESCRIBING)
def test_every_line_of_the_corpus_gets_its_result(name: str) -> None:
    path = CORPUS / name
    report = import_contacts(path)
    encoding = ENCODINGS.get(name, "utf-8")
    expected_layout = {"utf-8": "utf-8", "cp1252": "cp1252", "mixed": "utf-8+cp1252"}[encoding]
    assert report.layout.encoding == expected_layout
    assert (report.layout.encoding_note is None) == (encoding == "utf-8")
    check_report(report, corpus_lines(path, encoding))
    # Importing the same file again changes nothing.
    again = import_contacts(path)
    assert (again.imported, again.updated) == (0, 0)
    assert again.unchanged == report.imported


@pytest.mark.parametrize("name", SELF_DESCRIBING)
def test_every_line_of_the_corpus_reads_as_an_audience_as_it_imports(name: str) -> None:
    path = CORPUS / name
    check_audience(read_audience(path), corpus_lines(path, ENCODINGS.get(name, "utf-8")))


@pytest.mark.usefixtures("sqlite_url")
def test_names_in_other_encodings_are_read_as_their_writers_meant() -> None:
    for name in ("latin1.csv", "mixed_encoding.csv", "invalid_utf8.csv"):
        import_contacts(CORPUS / name)
    names = {c.name for c in contact_page(limit=1000)}
    assert {"José Müller", "Françoise", "Søren Ærø", "Œuvre €uro", "“Smart” ‘quotes’"} <= names
    # A UTF-8 file with a few Latin-1 lines keeps both right.
    assert {"José UTF-8", "Zoë UTF-8", "李小龍 UTF-8", "José Latin-1", "Zoë Latin-1"} <= names
    # Bytes that are not UTF-8 in an ASCII file: read as Windows-1252, never dropped.
    assert {"bad ÿþ bytes", "lone continuation €¿", "overlong À¯", "truncated â‚"} <= names


@pytest.mark.usefixtures("sqlite_url")
def test_markup_and_escape_sequences_are_kept_as_plain_text() -> None:
    import_contacts(CORPUS / "markup_names.csv")
    import_contacts(CORPUS / "escapes.csv")
    import_contacts(CORPUS / "bidi.csv")
    names = {c.phone: c.name for c in contact_page(limit=1000)}
    assert names["+14155553000"] == "[@click=app.quit]x"
    assert names["+14155553001"] == "Bob [/] Smith"
    assert names["+14155553002"] == "[bold]x"
    assert names["+14155553009"] == '=HYPERLINK("http://evil.example","x")'
    assert names["+14155553100"] == "[31mred[0m"  # the ESC is gone: nothing left to interpret
    assert names["+14155553103"] == "]0;pwned title"
    assert names["+14155553111"] == "evil good"
    assert names["+14155553200"] == "evil name"
    assert names["+14155553209"] == "line separator"


@pytest.mark.usefixtures("workspace_url")
def test_a_runaway_quote_is_reported_with_the_lines_it_swallowed() -> None:
    report = import_contacts(CORPUS / "malformed.csv")
    assert report.rows == 8
    assert (report.imported, report.invalid) == (5, 3)
    reasons = {r.line: r.reason for r in report.rejections}
    assert reasons[5] == too_many_cells(7)
    assert reasons[7] == "no phone number"
    assert reasons[10].startswith("malformed CSV: a quote opened on line 10 is not closed")
    assert "lines 10 to 12" in reasons[10]
    stored = {c.phone: c.name for c in contact_page(limit=100)}
    assert stored["+14155553602"] == 'Bob "The Builder" Smith'
    assert "+14155553603" not in stored  # not as "Too": its cells shifted past the header's
    assert stored["+14155553604"] == ""  # a line shorter than the header is fine
    assert "+14155553606" not in stored and "+14155553607" not in stored
    # The audience reader says the same.
    audience = read_audience(CORPUS / "malformed.csv")
    assert audience.unusable == 3 and len(audience.recipients) == 5
    assert [r.line for r in audience.rejections] == [5, 7, 10]


def test_everything_imported_goes_out_and_exports_back_intact(
    workspace_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [*SELF_DESCRIBING, "malformed.csv"]:
        import_contacts(CORPUS / name)
    contacts = {c.phone: c.name for c in contact_page(limit=100_000)}
    campaign_id = prepare_campaign(
        "Hostile [b]names[/b] \x1b[31m", "Hi", all_contacts_recipients(), sender=SENDER
    ).campaign_id

    async def send() -> None:
        app = SandboxApp(seed=21, speed=1000.0)
        async with sandbox_client(app) as client:
            result = await send_campaign(client, campaign_id, settle=0.0)
        app.close()
        assert result.state == "sent"

    asyncio.run(send())
    assert_consistent(campaign_id)

    destination = tmp_path / "export.csv"
    written = export_campaign(campaign_id, destination, raw=True)
    with destination.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(COLUMNS)
    exported = {row[0]: row[1] for row in rows[1:]}
    assert written == len(exported) == len(rows) - 1 == Campaign.get_by_id(campaign_id).recipients
    # Every recipient's number and name exactly as stored, for the message and the contact.
    stored = dict(
        Message.select(Message.phone, Message.name).where(Message.campaign == campaign_id).tuples()
    )
    assert exported == stored
    assert {p: n for p, n in exported.items()} == {p: contacts[p] for p in exported}
    assert set(exported) == set(contacts)

    # The commands show the same data, and never a control character.
    assert main(["--database-url", workspace_url, "campaigns"]) == 0
    out = capsys.readouterr().out
    assert "Hostile [b]names[/b] \u241b[31m" in out  # ␛, as the app shows it
    assert all(ch == "\n" or not unicodedata.category(ch).startswith("C") for ch in out)
    cli_export = tmp_path / "cli.csv"
    command = ["--database-url", workspace_url, "export", str(campaign_id), "-o", str(cli_export)]
    assert main([*command, "--raw"]) == 0
    assert cli_export.read_bytes() == destination.read_bytes()
    # By default, the formulas among the names are shown by a spreadsheet, never run.
    assert main(command) == 0
    with cli_export.open(newline="", encoding="utf-8") as handle:
        safe = {row[0]: row[1] for row in list(csv.reader(handle))[1:]}
    assert safe == {phone: spreadsheet_safe(name) for phone, name in exported.items()}
    assert any(name != safe[phone] for phone, name in exported.items())


def test_the_import_report_on_the_terminal_is_plain_text(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("escapes.csv", "bidi.csv", "long_fields.csv", "malformed.csv", "extra_cells.csv"):
        assert main(["--database-url", sqlite_url, "contacts", "import", str(CORPUS / name)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert is_plain(captured.out.replace("\n", ""))
    assert "line 21: invalid phone number: not a phone number ('[31m(415) 555-3199[0m')" in (
        captured.out
    )
    assert f"line 7: {too_many_cells(5)}" in captured.out.splitlines()
    assert max(len(line) for line in captured.out.splitlines()) < 200


# -- a million lines ---------------------------------------------------------------------------

BIG_LINES = int(os.environ.get("NOTIFY_TEST_IMPORT_LINES", "50000"))
"""Lines of the big import; ``NOTIFY_TEST_IMPORT_LINES=1000000`` runs the full million (about
70 s), the default keeps the suite quick."""


_AREAS = (212, 213, 312, 415, 617, 718, 805, 917, 303, 404, 503, 602, 702, 206, 305, 512, 614)


def big_number(i: int) -> str:
    """A distinct valid US number for each ``i`` below 8.5 million."""
    rest = i // len(_AREAS)
    return f"+1{_AREAS[i % len(_AREAS)]}{234 + (rest // 10_000) % 50}{rest % 10_000:04d}"


def write_big_file(path: Path, lines: int) -> tuple[int, int]:
    """``lines`` data lines: every 1000th invalid, every 500th a repeat of an earlier number.
    Answers (invalid, duplicates)."""
    invalid = duplicates = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("phone,name,city\n")
        for i in range(lines):
            if i % 1000 == 999:
                invalid += 1
                handle.write(f"not a number {i},Invalid {i},Nowhere\n")
            elif i % 500 == 499:
                duplicates += 1
                handle.write(f"{big_number(i - 250)},Again {i},Somewhere\n")
            else:
                handle.write(f"{big_number(i)},Person {i} «{i % 97}»,City {i % 13}\n")
    return invalid, duplicates


MEASURED_IMPORT = """
import sys
from notify_tui.cli import main
code = main(["contacts", "import", sys.argv[1]])
with open("/proc/self/status") as status:
    print(next(line for line in status if line.startswith("VmHWM")), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_a_huge_file_imports_in_bounded_memory_with_counts_that_add_up(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = tmp_path / "big.csv"
    invalid, duplicates = write_big_file(path, BIG_LINES)
    env = subprocess_env(tmp_path, sqlite_url)
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-c", MEASURED_IMPORT, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.monotonic() - started
    out, err = process.stdout, process.stderr
    assert process.returncode == 0, err
    imported = BIG_LINES - invalid - duplicates
    assert (
        f"{BIG_LINES:,} lines: {imported:,} imported, 0 updated, 0 unchanged, "
        f"{duplicates:,} duplicates, {invalid:,} invalid"
    ) in out
    assert f"... and {max(0, invalid - 1000):,} more invalid lines" in out or invalid <= 1000
    assert count_contacts() == imported
    # Streamed: the peak memory of the importing process does not grow with the file. VmHWM is
    # the process's own high-water mark since exec; the rusage of a child forked from a big
    # pytest process would count the parent's pages too.
    peak_mb = int(err.rsplit("VmHWM:", 1)[1].split()[0]) / 1024
    assert peak_mb < 250, peak_mb
    print(
        f"\n{BIG_LINES:,} lines in {elapsed:.1f} s ({BIG_LINES / elapsed:,.0f}/s), {peak_mb:.0f} MB"
    )
    assert Contact.get(Contact.phone == big_number(0)).name == "Person 0 «0»"
