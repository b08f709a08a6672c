"""Importing contacts from CSV files, and reading CSV files as a campaign's audience."""

from __future__ import annotations

from pathlib import Path

import pytest

from notify_tui.domain.status import classify_message
from notify_tui.services.contacts_import import (
    ContactsFileError,
    all_contacts_recipients,
    import_contacts,
    read_audience,
)
from notify_tui.store import optouts
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.contacts import contact_page, count_contacts, delivery_history, get_contact
from notify_tui.store.models import Message
from notify_tui.store.sending import NewRecipient, add_recipients
from notify_tui.store.updates import StatusUpdate, apply_updates


def write(tmp_path: Path, content: str | bytes, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


BASIC = (
    "Phone Number,Name,City\n"
    "+1 415 555 0100,Ann Lee,Paris\n"
    "(415) 555-0101,Bob,\n"
    "not a number,Carl,Rome\n"
    ",Dana,Oslo\n"
    "415.555.0100,Ann again,Lyon\n"
    "\n"
    "+44 20 7946 0958,Eve,London\n"
)


@pytest.mark.usefixtures("workspace")
def test_import_counts_every_line_and_says_why_lines_were_rejected(tmp_path: Path) -> None:
    report = import_contacts(write(tmp_path, BASIC))

    assert (report.rows, report.imported, report.updated, report.unchanged) == (6, 3, 0, 0)
    assert (report.duplicates, report.invalid) == (1, 2)
    assert [(r.line, r.reason, r.value) for r in report.rejections] == [
        (4, "invalid phone number: not a phone number", "not a number"),
        (5, "no phone number", ""),
    ]
    assert report.layout.phone_column == "Phone Number"
    assert report.layout.attribute_columns == ("City",)
    ann = get_contact("+14155550100")
    assert ann is not None
    # The first line that names a number wins; the duplicate changes nothing.
    assert (ann.name, ann.attributes) == ("Ann Lee", {"City": "Paris"})
    bob = get_contact("+14155550101")
    assert bob is not None and bob.attributes == {}
    assert get_contact("+442079460958") is not None
    assert count_contacts() == 3


@pytest.mark.usefixtures("workspace")
def test_importing_the_same_file_twice_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, BASIC)
    import_contacts(path)
    before = contact_page()

    again = import_contacts(path)

    assert (again.imported, again.updated, again.unchanged, again.duplicates) == (0, 0, 3, 1)
    assert again.invalid == 2
    assert contact_page() == before


@pytest.mark.usefixtures("workspace")
def test_a_later_import_updates_names_and_merges_attributes_without_blanking(
    tmp_path: Path,
) -> None:
    import_contacts(write(tmp_path, "phone,name,city\n4155550100,Ann,Paris\n4155550101,Bob,Rome\n"))

    report = import_contacts(
        write(
            tmp_path,
            "mobile,first_name,last_name,tier\n4155550100,Ann,Lee,gold\n4155550101,,,\n",
            "second.csv",
        )
    )

    assert (report.imported, report.updated, report.unchanged) == (0, 1, 1)
    ann = get_contact("+14155550100")
    assert ann is not None
    assert ann.name == "Ann Lee"
    assert ann.attributes == {"city": "Paris", "tier": "gold"}
    bob = get_contact("+14155550101")
    assert bob is not None and (bob.name, bob.attributes) == ("Bob", {"city": "Rome"})


@pytest.mark.usefixtures("workspace")
def test_an_import_never_clears_an_opt_out(tmp_path: Path) -> None:
    optouts.opt_out(
        "+14155550100", source=optouts.SOURCE_PROVIDER, reason="replied STOP", actor="provider"
    )

    report = import_contacts(write(tmp_path, "phone,name\n4155550100,Ann\n"))

    assert report.updated == 1
    ann = get_contact("+14155550100")
    assert ann is not None
    assert ann.name == "Ann"
    assert ann.opted_out and ann.opt_out_source == optouts.SOURCE_PROVIDER


def test_bom_crlf_and_quoted_fields(tmp_path: Path, sqlite_workspace: Path) -> None:
    content = (
        '\ufeff"Phone","Name","Note"\r\n'
        '"+14155550100","Lee, Ann","said ""hi"""\r\n'
        '"+14155550101","Multi\r\nLine","x"\r\n'
        "garbage,after,multiline\r\n"
    )
    report = import_contacts(write(tmp_path, content.encode("utf-8")))

    assert report.layout.encoding == "utf-8"
    assert report.layout.encoding_note is None
    assert (report.imported, report.invalid) == (2, 1)
    # The multi-line record counts as one line, and the next keeps its real line number.
    assert [r.line for r in report.rejections] == [5]
    ann = get_contact("+14155550100")
    assert ann is not None and ann.name == "Lee, Ann"
    assert ann.attributes == {"Note": 'said "hi"'}
    multi = get_contact("+14155550101")
    assert multi is not None and multi.name == "Multi Line"


def test_latin1_files_are_read_as_windows_1252_and_the_report_says_so(
    tmp_path: Path, sqlite_workspace: Path
) -> None:
    path = write(tmp_path, b"phone,name\n" + "4155550100,José Müller – “q”\n".encode("cp1252"))

    report = import_contacts(path)

    assert report.layout.encoding == "cp1252"
    assert report.layout.encoding_note is not None
    assert "Latin-1" in report.summary_lines()[0]
    contact = get_contact("+14155550100")
    assert contact is not None and contact.name == "José Müller – “q”"


def test_bytes_undefined_in_windows_1252_still_read(tmp_path: Path, sqlite_workspace: Path) -> None:
    report = import_contacts(write(tmp_path, b"phone,name\n4155550100,A\x81B\xe9\n"))
    assert report.imported == 1
    contact = get_contact("+14155550100")
    assert contact is not None and contact.name == "ABé"


def test_utf16_with_bom(tmp_path: Path, sqlite_workspace: Path) -> None:
    path = write(tmp_path, "phone,name\r\n4155550100,Zoë\r\n".encode("utf-16"))
    report = import_contacts(path)
    assert report.imported == 1
    contact = get_contact("+14155550100")
    assert contact is not None and contact.name == "Zoë"


HOSTILE_NAMES = [
    ("[@click=app.quit]x", "[@click=app.quit]x"),
    ("Bob [/] Smith", "Bob [/] Smith"),
    ("[bold red]Eve[/]", "[bold red]Eve[/]"),
    ("\x1b[2J\x1b]0;pwned\x07Mallory", "[2J]0;pwnedMallory"),
    ("\u202eevil\u202c name", "evil name"),
    ("tab\there", "tab here"),
]


@pytest.mark.parametrize(("raw", "stored"), HOSTILE_NAMES)
def test_hostile_text_is_kept_as_plain_text_without_control_characters(
    tmp_path: Path, sqlite_workspace: Path, raw: str, stored: str
) -> None:
    escaped = raw.replace('"', '""')
    path = write(tmp_path, f'phone,name,notes\n4155550100,"{escaped}","{escaped}"\n')

    report = import_contacts(path)

    assert report.imported == 1
    contact = get_contact("+14155550100")
    assert contact is not None
    assert contact.name == stored
    assert contact.attributes == {"notes": stored}


def test_hostile_values_in_rejections_are_cleaned(tmp_path: Path, sqlite_workspace: Path) -> None:
    report = import_contacts(write(tmp_path, "phone\n\x1b[31m12\x07\n" + "9" * 500 + "\n"))
    assert report.invalid == 2
    values = [r.value for r in report.rejections]
    assert values[0] == "[31m12"
    assert len(values[1]) <= 64
    assert all(ch.isprintable() for line in report.summary_lines() for ch in line)


def test_a_huge_or_malformed_line_is_rejected_and_the_rest_imported(
    tmp_path: Path, sqlite_workspace: Path
) -> None:
    huge = "x" * 200_000
    content = f'phone,name\n4155550100,"{huge}"\n4155550101,ok\n4155550102,a\x00b\n'
    report = import_contacts(write(tmp_path, content))
    assert report.imported == 2
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejections] == [(2, "malformed CSV")]
    contact = get_contact("+14155550102")
    assert contact is not None and contact.name == "ab"


EXTRA_CELLS = (
    "phone,name\n"
    "4155550100,Smith, John\n"
    "4155550101,Ann,\n"
    "4155550102,Bo,,, ,\n"
    '4155550103,"Lee, Ann"\n'
    "4155550104\n"
    "4155550105,Cy,,x,,\n"
    "not a number,Smith, Jane\n"
)
TOO_MANY = "cells but the header has 2; put quotes around a value that contains a comma"


@pytest.mark.usefixtures("workspace")
def test_a_line_with_more_cells_than_the_header_is_rejected_with_its_line_and_why(
    tmp_path: Path,
) -> None:
    report = import_contacts(write(tmp_path, EXTRA_CELLS))

    assert (report.rows, report.imported, report.invalid) == (7, 4, 3)
    # Counted up to the last cell with text: trailing commas don't count.
    assert [(r.line, r.reason.split(", or")[0], r.value) for r in report.rejections] == [
        (2, f"3 {TOO_MANY}", ""),
        (7, f"4 {TOO_MANY}", ""),
        (8, f"3 {TOO_MANY}", ""),
    ]
    assert report.rejections[0].reason.endswith(", or give each extra column a header")
    assert get_contact("+14155550100") is None  # never stored as "Smith"
    stored = {c.phone: c.name for c in contact_page()}
    # Empty cells past the header (trailing commas, blanks) are accepted silently; a comma
    # inside quotes is part of the value; a short line is fine.
    assert stored == {
        "+14155550101": "Ann",
        "+14155550102": "Bo",
        "+14155550103": "Lee, Ann",
        "+14155550104": "",
    }
    shown = report.summary_lines()
    assert f"line 2: 3 {TOO_MANY}, or give each extra column a header" in shown


def test_an_audience_leaves_out_lines_with_more_cells_than_the_header(tmp_path: Path) -> None:
    audience = read_audience(write(tmp_path, EXTRA_CELLS))

    assert (audience.rows, audience.unusable, audience.invalid) == (7, 3, 0)
    assert [r.phone for r in audience.recipients] == [
        "+14155550101",
        "+14155550102",
        "+14155550103",
        "+14155550104",
    ]
    assert [str(r).split(", or")[0] for r in audience.rejections] == [
        f"line 2: 3 {TOO_MANY}",
        f"line 7: 4 {TOO_MANY}",
        f"line 8: 3 {TOO_MANY}",
    ]


def test_extra_cells_are_counted_against_the_header_as_written(tmp_path: Path) -> None:
    # An empty header cell is still a column (its values are kept as "column 3").
    audience = read_audience(write(tmp_path, "phone,name,\n4155550100,Ann,x\n4155550101,B,x,y\n"))
    assert [r.line for r in audience.rejections] == [3]
    assert audience.rejections[0].reason.startswith("4 cells but the header has 3;")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,city\nAnn,Paris\n", "no phone column"),
        ("", "is empty"),
        ("\n\n", "is empty"),
    ],
)
def test_a_file_without_a_phone_column_is_a_clear_one_line_error(
    tmp_path: Path, sqlite_workspace: Path, content: str, message: str
) -> None:
    with pytest.raises(ContactsFileError) as caught:
        import_contacts(write(tmp_path, content))
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert count_contacts() == 0


def test_an_unreadable_file_is_a_clear_one_line_error(
    tmp_path: Path, sqlite_workspace: Path
) -> None:
    with pytest.raises(ContactsFileError, match=r"cannot read .*missing\.csv"):
        import_contacts(tmp_path / "missing.csv")
    with pytest.raises(ContactsFileError, match="it is a folder"):
        import_contacts(tmp_path)


@pytest.mark.parametrize(
    "header", ["Phone Number", "MOBILE", "cell", "msisdn", "Tel", "number", "phone_number"]
)
def test_phone_column_names(tmp_path: Path, sqlite_workspace: Path, header: str) -> None:
    report = import_contacts(write(tmp_path, f"{header},name\n4155550100,Ann\n"))
    assert report.imported == 1


def test_national_numbers_use_the_configured_region(tmp_path: Path, sqlite_workspace: Path) -> None:
    report = import_contacts(write(tmp_path, "phone\n020 7946 0958\n"), region="GB")
    assert report.imported == 1
    assert get_contact("+442079460958") is not None


def test_rejection_details_are_bounded_but_all_counted(
    tmp_path: Path, sqlite_workspace: Path
) -> None:
    lines = ["phone"] + ["nope"] * 2500 + ["4155550100"]
    report = import_contacts(write(tmp_path, "\n".join(lines) + "\n"), max_details=100)
    assert report.invalid == 2500
    assert len(report.rejections) == 100
    assert report.more_rejections == 2400
    assert report.summary_lines()[-1] == "... and 2,400 more invalid lines"
    assert report.imported == 1


@pytest.mark.usefixtures("workspace")
def test_a_large_file_is_written_in_batches(tmp_path: Path) -> None:
    lines = [f"+1415555{i:04d},P{i}\n" for i in range(6000)]
    rows = "".join(lines)
    seen: list[int] = []

    report = import_contacts(
        write(tmp_path, "phone,name\n" + rows), batch_size=1000, on_progress=seen.append
    )

    assert report.rows == 6000 and report.imported == 6000
    assert seen[:3] == [1000, 2000, 3000]
    assert count_contacts() == 6000
    # Duplicates in later batches are recognised across batches.
    again = import_contacts(write(tmp_path, "phone,name\n" + rows + "".join(lines[:5]), "b.csv"))
    assert (again.unchanged, again.duplicates, again.imported) == (6000, 5, 0)


# -- audiences ----------------------------------------------------------------------------------


def test_a_csv_audience_keeps_invalid_numbers_as_recipients_to_record(
    tmp_path: Path, sqlite_workspace: Path
) -> None:
    audience = read_audience(
        write(tmp_path, "Phone,first_name,last_name\n4155550100,Ann,Lee\nbad,Bo,\n,Cy,\n")
    )
    assert audience.rows == 3
    assert audience.recipients == [
        NewRecipient("+14155550100", "Ann Lee"),
        NewRecipient("bad", "Bo", invalid_reason="not a phone number"),
    ]
    assert (audience.invalid, audience.unusable) == (1, 1)
    assert [r.line for r in audience.rejections] == [3, 4]
    assert count_contacts() == 0


def test_all_contacts_includes_opted_out_ones_for_the_campaign_to_skip(
    tmp_path: Path, sqlite_workspace: Path
) -> None:
    import_contacts(write(tmp_path, "phone,name\n4155550100,Ann\n4155550101,Bob\n"))
    optouts.opt_out("+14155550101", source="manual", reason="asked", actor="me")
    recipients = list(all_contacts_recipients())
    assert recipients == [NewRecipient("+14155550100", "Ann"), NewRecipient("+14155550101", "Bob")]


# -- the contacts store --------------------------------------------------------------------------


@pytest.mark.usefixtures("workspace")
def test_contact_pages_search_and_opt_out_state(tmp_path: Path) -> None:
    import_contacts(
        write(tmp_path, "phone,name\n4155550100,Ann Lee\n4155550101,Bob\n4155550102,annie_x\n")
    )
    optouts.opt_out("+14155550101", source="manual", reason="asked", actor="me")

    assert count_contacts() == 3
    assert [c.name for c in contact_page("ann")] == ["Ann Lee", "annie_x"]
    assert count_contacts("_x") == 1
    assert count_contacts("%") == 0
    assert [c.phone for c in contact_page("(415) 555-0101")] == ["+14155550101"]
    page = contact_page(offset=1, limit=1)
    assert [(c.phone, c.opted_out, c.opt_out_source) for c in page] == [
        ("+14155550101", True, "manual")
    ]


@pytest.mark.usefixtures("workspace")
def test_delivery_history_of_a_number() -> None:
    first = create_campaign("Spring", "Hi", sender="+15005550006")
    second = create_campaign("Summer", "Hi again", sender="+15005550006")
    for campaign_id in (first, second):
        add_recipients(campaign_id, [NewRecipient("+14155550100", "Ann")])
    message = Message.get((Message.campaign == first) & (Message.phone == "+14155550100"))
    apply_updates([StatusUpdate(message.id, classify_message("undelivered", 30003))])

    history = delivery_history("+14155550100")

    assert [(h.campaign_id, h.campaign_name, h.status, h.reason) for h in history] == [
        (second, "Summer", "unknown", None),
        (first, "Spring", "failed", "Unreachable destination handset"),
    ]
    assert delivery_history("+14155550199") == []
