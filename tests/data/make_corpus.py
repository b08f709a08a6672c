"""Writes the hostile contact files of ``tests/data/contacts/`` (run it to regenerate them).

Every file has the columns ``phone,name,e164,expect``: ``e164`` is the number the line should be
stored as, ``expect`` what should happen to the line: ``imported``, ``duplicate`` (the number was
seen on an earlier line: the first one wins), ``invalid:<reason>``, ``no-number``, ``malformed``
or ``extra-cells:<n>`` (rejected for its ``n`` cells, more than the header's, not counting empty
ones at the end). The tests read these columns back from the file to check every line; the
importer keeps them as attributes, which does no harm. Files that must not be UTF-8 are written
as bytes.

The million-line file is not here: ``tests/hardening/test_hostile_input.py`` generates it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

HERE = Path(__file__).with_name("contacts")
HEADER = ["phone", "name", "e164", "expect"]
LOCAL = "not a valid number for US: a local number, without its area code"
UNASSIGNED = (
    "not a valid number for US: no phone has a number in that range "
    "(unassigned, or reserved like the numbers films use)"
)


def rows_to_text(
    rows: list[list[str]], header: list[str] = HEADER, quoting: int = csv.QUOTE_MINIMAL
) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=quoting)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


class Numbers:
    """Distinct valid US numbers: (written, e164)."""

    def __init__(self, start: int) -> None:
        self.next = start

    def __call__(self) -> tuple[str, str]:
        n = self.next
        self.next += 1
        return f"(415) 555-{n:04d}", f"+1415555{n:04d}"


numbered = Numbers


PHONE_FORMATS = [
    ("(415) 555-2671", "+14155552671", "imported"),
    ("415-555-2671", "+14155552671", "duplicate"),
    ("415.555.2672", "+14155552672", "imported"),
    ("415 555 2673", "+14155552673", "imported"),
    ("4155552674", "+14155552674", "imported"),
    ("1-415-555-2675", "+14155552675", "imported"),
    ("1 (415) 555-2676", "+14155552676", "imported"),
    ("+1 415 555 2677", "+14155552677", "imported"),
    ("+1-415-555-2678", "+14155552678", "imported"),
    ("+1.415.555.2679", "+14155552679", "imported"),
    ("+1 (415) 555-2680", "+14155552680", "imported"),
    ("+14155552681", "+14155552681", "imported"),
    ("14155552682", "+14155552682", "imported"),
    ("(415)5552683", "+14155552683", "imported"),
    ("[415] 555 2684", "+14155552684", "imported"),
    ("415/555/2685", "+14155552685", "imported"),
    ("+ 1 415 555 2686", "+14155552686", "imported"),
    ("  +1 415 555 2687  ", "+14155552687", "imported"),
    ("415\u00a0555\u00a02688", "+14155552688", "imported"),
    ("415\u2013555\u20132689", "+14155552689", "imported"),
    ("415\u2011555\u20112690", "+14155552690", "imported"),
    ("\uff14\uff11\uff15\uff15\uff15\uff15\uff12\uff16\uff19\uff11", "+14155552691", "imported"),
    ("\u0664\u0661\u0665\u0665\u0665\u0665\u0662\u0666\u0669\u0662", "+14155552692", "imported"),
    ("tel:+1-415-555-2693", "+14155552693", "imported"),
    ("415-555-2694 ext. 12", "+14155552694", "imported"),
    ("415-555-2695 x12", "+14155552695", "imported"),
    ("415-555-2696;ext=12", "+14155552696", "imported"),
    ("+1 415 555 2697 #12", "+14155552697", "imported"),
    ("1-800-FLOWERS", "+18003569377", "imported"),
    ("'+14155552698", "+14155552698", "imported"),
    ("011 44 20 7946 0958", "+442079460958", "imported"),
    ("00 44 20 7946 0959", "+442079460959", "imported"),
    ("0014155552699", "+14155552699", "imported"),
    ("+44 (0)20 7946 0960", "+442079460960", "imported"),
    ("+44 7911 123456", "+447911123456", "imported"),
    ("+33 6 12 34 56 78", "+33612345678", "imported"),
    ("+49 1512 3456789", "+4915123456789", "imported"),
    ("+91 98765 43210", "+919876543210", "imported"),
    ("+81 90-1234-5678", "+819012345678", "imported"),
    ("+61 412 345 678", "+61412345678", "imported"),
    ("+55 11 91234-5678", "+5511912345678", "imported"),
    ("+86 139 1234 5678", "+8613912345678", "imported"),
    ("+7 912 345-67-89", "+79123456789", "imported"),
    ("+234 803 123 4567", "+2348031234567", "imported"),
    ("+1 415 555 267", "", "invalid:too short: US numbers have 10 digits, this has 9"),
    ("+1 415 555 26711", "", "invalid:too long: US numbers have 10 digits, this has 11"),
    ("555-2671", "", f"invalid:{LOCAL}"),
    ("123-456-7890", "", f"invalid:{UNASSIGNED}"),
    ("911", "", "invalid:too short: US numbers have 10 digits, this has 3"),
    ("0", "", "invalid:not a phone number"),
    ("+", "", "invalid:not a phone number"),
    ("n/a", "", "invalid:not a phone number"),
    ("4.15555E+09", "", "invalid:not a phone number"),
    ("+999 123 456", "", "invalid:unknown country code"),
    ("+1 (415) 555-2671 / +1 (415) 555-2672", "", "invalid:not a phone number"),
    ("", "", "no-number"),
    ("   ", "", "no-number"),
]


def phone_formats() -> str:
    rows = [
        [raw, f"Format {i}", e164, expect] for i, (raw, e164, expect) in enumerate(PHONE_FORMATS)
    ]
    return rows_to_text(rows)


MARKUP_NAMES = [
    "[@click=app.quit]x",
    "Bob [/] Smith",
    "[bold]x",
    "[bold red]Eve[/]",
    "[link=https://evil.example]click me[/link]",
    "[/]",
    "[",
    "]]][[[",
    "\\[escaped\\]",
    '=HYPERLINK("http://evil.example","x")',
    "+SUM(1+1)",
    "-2+3",
    "@cmd",
    "<script>alert(1)</script>",
    "$(rm -rf ~)",
    "'; DROP TABLE contact; --",
    "%s%s%s%n",
    "{0} {name!r}",
    "C:\\new\\table",
    'Quote "inside" name',
    "Comma, inside, name",
    "👩\u200d👩\u200d👧 family",
    "Z\u0337\u0322a\u0336l\u0338g\u0335o\u0334",
    "李小龍",
    "محمد",
    "דוד",
    "\u200bzero\u200bwidth\u200b",
]


def markup_names() -> str:
    number = numbered(3000)
    rows = []
    for name in MARKUP_NAMES:
        written, e164 = number()
        rows.append([written, name, e164, "imported"])
    return rows_to_text(rows)


ESCAPE_NAMES = [
    "\x1b[31mred\x1b[0m",
    "\x1b[2J\x1b[Hclear screen",
    "\x1b[1A\x1b[2Kup and erase",
    "\x1b]0;pwned title\x07",
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "\x1b]52;c;cm0gLXJmIH4=\x07clipboard",
    "\x1bP+q544e\x1b\\dcs",
    "\x9b2Jc1 csi",
    "\x9d0;c1 osc\x9c",
    "bell\x07\x07",
    "admin\b\b\b\b\bguest",
    "evil\rgood",
    "form\x0cfeed",
    "vertical\x0btab",
    "del\x7fete",
    "nul\x00byte",
    "tab\tinside",
    "next\x85line",
]


def escapes() -> str:
    number = numbered(3100)
    rows = []
    for name in ESCAPE_NAMES:
        written, e164 = number()
        rows.append([written, name, e164, "imported"])
    # Escape sequences in the phone cell leave digits behind: not a number any more.
    bad = "invalid:not a phone number"
    rows.append(["\x1b[31m(415) 555-3199\x1b[0m", "escape in the number", "", bad])
    rows.append(["\x1b]0;x\x07", "only an escape", "", bad])
    # Quoted, so that a bare carriage return stays inside its cell.
    return rows_to_text(rows, quoting=csv.QUOTE_ALL)


BIDI_NAMES = [
    "\u202eevil\u202c name",
    "\u202dleft override\u202c",
    "\u202bembedding\u202c",
    "\u202aembedding\u202c",
    "\u2066isolate\u2069",
    "\u2067isolate\u2069",
    "\u2068first strong\u2069",
    "\u200emark\u200f",
    "\u061carabic letter mark",
    "line\u2028separator",
    "paragraph\u2029separator",
    "\u202e1234567890\u202c",
]


def bidi() -> str:
    number = numbered(3200)
    rows = []
    for name in BIDI_NAMES:
        written, e164 = number()
        rows.append([written, name, e164, "imported"])
    rows.append(["\u202e1762-555 (514)", "reversed number", "", f"invalid:{UNASSIGNED}"])
    return rows_to_text(rows)


def long_fields() -> str:
    number = numbered(3300)
    header = [*HEADER, "notes"]
    rows = []
    written, e164 = number()
    rows.append([written, "N" * 10_000, e164, "imported", "short"])
    written, e164 = number()
    rows.append([written, "short", e164, "imported", "A" * 10_000])
    rows.append(["9" * 10_000, "long number", "", "invalid:too long", ""])
    written, e164 = number()
    rows.append([written, "\u00e9" * 10_000, e164, "imported", "é"])
    written, e164 = number()
    rows.append([written, "👍" * 10_000, e164, "imported", ""])
    written, e164 = number()
    rows.append([written, "after the huge line", e164, "imported", ""])
    return rows_to_text(rows, header)


def duplicates() -> str:
    rows = [
        ["+14155553400", "First wins", "+14155553400", "imported"],
        ["(415) 555-3400", "Second, other name", "+14155553400", "duplicate"],
        ["415.555.3400", "Third", "+14155553400", "duplicate"],
        ["14155553400", "", "+14155553400", "duplicate"],
        ["+14155553401", "Same name", "+14155553401", "imported"],
        ["+14155553402", "Same name", "+14155553402", "imported"],
        ["+14155553401", "Same name", "+14155553401", "duplicate"],
        ["+14155553403", "", "+14155553403", "imported"],
        ["+14155553403", "Later name", "+14155553403", "duplicate"],
    ]
    # Far apart, in different batches of the import.
    number = numbered(3500)
    for i in range(1500):
        written, e164 = number()
        rows.append([written, f"Filler {i}", e164, "imported"])
    rows.append(["+14155553400", "Far repeat", "+14155553400", "duplicate"])
    return rows_to_text(rows)


def malformed() -> str:
    return (
        "phone,name,e164,expect\n"
        "+14155553600,Fine,+14155553600,imported\n"
        '+14155553601,"Quoted, fine",+14155553601,imported\n'
        '+14155553602,Bob "The Builder" Smith,+14155553602,imported\n'
        "+14155553603,Too,many,columns,here,+14155553603,extra-cells:7\n"
        "+14155553604\n"
        ",no number,,no-number\n"
        "\n"
        "+14155553605,Fine again,+14155553605,imported\n"
        '+14155553606,"Unclosed quote,+14155553606,malformed\n'
        "+14155553607,Swallowed,+14155553607,malformed\n"
        "+14155553608,Swallowed too,+14155553608,malformed\n"
    )


def extra_cells() -> str:
    """Lines with more cells than the header: rejected, unless the extra cells are empty."""
    number = numbered(3650)
    lines = ["phone,name,e164,expect"]

    def line(name: str, expect: str, extra: str) -> None:
        written, e164 = number()
        lines.append(f"{written},{name},{e164},{expect}{extra}")

    line("Trailing comma", "imported", ",")
    line("Trailing commas", "imported", ",,,")
    line("Trailing blanks", "imported", ", ,\t,")
    line("Trailing quoted empty", "imported", ',""')
    line('"Quoted, comma"', "imported", "")
    line("Surplus", "extra-cells:5", ",surplus")
    line("Surplus then commas", "extra-cells:6", ",,surplus,,")
    line("Hostile surplus", "extra-cells:5", ",\x1b[31m[b]x[/b]")
    lines.append("not a number,Invalid and surplus,,extra-cells:5,x")
    lines.append(",No number and surplus,,extra-cells:5,x")
    lines.append("(415) 555-3650,Repeat and surplus,+14155553650,extra-cells:5,x")
    line("After them all", "imported", "")
    return "\n".join(lines) + "\n"


LATIN1_NAMES = ["José Müller", "Françoise", "Søren Ærø", "Œuvre €uro", "“Smart” ‘quotes’"]


def latin1() -> bytes:
    number = numbered(3700)
    rows = []
    for name in LATIN1_NAMES:
        written, e164 = number()
        rows.append([written, name, e164, "imported"])
    return rows_to_text(rows).encode("cp1252")


def mixed_encoding() -> bytes:
    number = numbered(3800)
    first, second = [], []
    for name in ["José UTF-8", "Zoë UTF-8", "李小龍 UTF-8"]:
        written, e164 = number()
        first.append([written, name, e164, "imported"])
    for name in ["José Latin-1", "Zoë Latin-1"]:
        written, e164 = number()
        second.append([written, name, e164, "imported"])
    head = rows_to_text(first).encode("utf-8")
    tail = rows_to_text(second).split("\n", 1)[1].encode("cp1252")
    return head + tail


def invalid_utf8() -> bytes:
    number = numbered(3900)
    lines = [b"phone,name,e164,expect"]
    written, e164 = number()
    lines.append(f"{written},Plain ASCII,{e164},imported".encode())
    written, e164 = number()
    lines.append(f"{written},".encode() + b"bad \xff\xfe bytes" + f",{e164},imported".encode())
    written, e164 = number()
    lines.append(
        f"{written},".encode() + b"lone continuation \x80\xbf" + f",{e164},imported".encode()
    )
    written, e164 = number()
    lines.append(f"{written},".encode() + b"overlong \xc0\xaf" + f",{e164},imported".encode())
    written, e164 = number()
    lines.append(f"{written},".encode() + b"truncated \xe2\x82" + f",{e164},imported".encode())
    return b"\n".join(lines) + b"\n"


TEXT_FILES = {
    "phone_formats.csv": phone_formats,
    "markup_names.csv": markup_names,
    "escapes.csv": escapes,
    "bidi.csv": bidi,
    "long_fields.csv": long_fields,
    "duplicates.csv": duplicates,
    "malformed.csv": malformed,
    "extra_cells.csv": extra_cells,
}
BINARY_FILES = {
    "latin1.csv": latin1,
    "mixed_encoding.csv": mixed_encoding,
    "invalid_utf8.csv": invalid_utf8,
}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, make in TEXT_FILES.items():
        (HERE / name).write_bytes(make().encode("utf-8"))
    for name, make_bytes in BINARY_FILES.items():
        (HERE / name).write_bytes(make_bytes())


if __name__ == "__main__":
    main()
