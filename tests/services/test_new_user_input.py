"""What a new user ran into with the commands (issue 14): input people really have, and
reports that say why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from notify_tui.cli import main
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.store.models import Campaign, Contact, Message
from notify_tui.store.polling import utcnow
from tests.provider.support import FakeClock, number_with

pytestmark = pytest.mark.usefixtures("sandbox_provider")


def write(tmp_path: Path, text: str, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("separator", "named"), [(";", "semicolons"), ("\t", "tabs"), (",", None)])
def test_contacts_import_reads_semicolon_and_tab_separated_files_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], separator: str, named: str | None
) -> None:
    rows = ["name;phone", "Siobhán;4155550100", '"Smith; John";4155550101']
    text = "\n".join(rows).replace(";", separator) + "\n"

    assert main(["contacts", "import", str(write(tmp_path, text))]) == 0

    out = capsys.readouterr().out
    assert "2 lines: 2 imported" in out, out
    assert (f"Note: cells separated by {named}." in out) == (named is not None), out
    assert sorted(c.name for c in Contact.select()) == [
        "Siobhán",
        f"Smith{separator} John".replace("\t", " "),  # a tab in a name is a space
    ]


def test_send_csv_reads_a_semicolon_separated_file_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "name;phone\nAnn;4155550100\nBob;4155550101\n")

    code = main(["send", "--name", "EU", "--message", "Hi", "--csv", str(path), "--yes"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "Note: cells separated by semicolons." in out
    assert "Recipients: 2 to send" in out


def test_send_with_an_empty_message_says_so_before_reading_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "phone\nbad\n4155550100\n")

    assert main(["send", "--name", "N", "--message", "", "--csv", str(path), "--yes"]) == 1

    captured = capsys.readouterr()
    assert captured.err == "notify-tui: error: the message is empty\n"
    assert "not sent" not in captured.out and "bad" not in captured.out
    assert main(["send", "--name", " ", "--message", "Hi", "--csv", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.err == "notify-tui: error: the campaign needs a name\n"
    assert captured.out == ""


def test_send_previews_each_recipients_own_text_and_refuses_a_blank(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "phone,name,city\n4155550100,Ann Lee,Oslo\n4155550101,,Łódź\n")

    code = main(
        [
            "send", "--name", "N", "--message", "Hi {first_name|there} in {city} {{x}}",
            "--csv", str(path), "--yes",
        ]
    )  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0, out
    assert "sent as typed" not in out
    assert "Message: personal ({first_name|there}, {city}), each recipient's own text: 1 " in out
    assert "  1 recipient in UCS-2 because of their values: +14155550101 ('Ł')" in out
    assert "Preview:\n  Ann Lee (+14155550100): Hi Ann in Oslo {x}\n" in out
    assert "  +14155550101: Hi there in Łódź {x}\n" in out
    assert Campaign.get().body == "Hi {first_name|there} in {city} {{x}}"
    assert sorted(m.body for m in Message.select()) == [
        "Hi Ann in Oslo {x}",
        "Hi there in Łódź {x}",
    ]

    assert main(["send", "--name", "M", "--message", "Hi {first_name}", "--csv", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "notify-tui: error: 1 recipient would get a blank: +14155550101 has no {first_name}; "
        "add a fallback, like {first_name|...}\n"
    )
    assert main(["send", "--name", "M", "--message", "Hi {first", "--csv", str(path)]) == 1
    assert capsys.readouterr().err == (
        "notify-tui: error: message template, column 4: a '{' that is never closed (write {{ "
        "for a literal brace)\n"
    )
    assert Campaign.select().count() == 1


def test_poll_until_settled_says_why_messages_remain_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sandbox: SandboxApp, clock: FakeClock
) -> None:
    silent = number_with("sent")  # the carrier never sends a receipt
    path = write(tmp_path, f"phone\n{silent}\n")
    assert main(["send", "--name", "N", "--message", "Hi", "--csv", str(path), "--yes"]) == 0
    clock.advance(60)  # the sandbox has it as sent
    Message.update(next_poll_at=utcnow() - timedelta(seconds=1)).execute()
    assert main(["poll", "--once"]) == 0
    assert Message.get().provider_status == "sent"
    # A while later: the carrier has had time to report, and has not.
    Message.update(updated_at=utcnow() - timedelta(minutes=10)).execute()
    capsys.readouterr()

    assert main(["poll", "--until-settled", "--timeout", "60"]) == 0

    out = capsys.readouterr().out
    assert "1 message is still Unknown: the carrier accepted it (sent) but has sent no " in out
    assert "up to 72 hours" in out and "notify-tui poll" in out


def test_poll_of_a_campaign_that_does_not_exist_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["poll", "--campaign", "999", "--once"]) == 1
    assert capsys.readouterr().err == "notify-tui: error: no campaign with id 999\n"


def test_contacts_import_names_duplicate_lines_and_says_why_a_number_is_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "phone,name\n4155550100,Ann\n+447700900123,Drama\n(415) 555-0100,Ann again\n"
        "+1 415 555 267,Short\n555-2671,Local\n+14155550100,Ann thrice\n"
    )

    assert main(["contacts", "import", str(write(tmp_path, text)), "--region", "US"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert "6 lines: 1 imported, 0 updated, 0 unchanged, 2 duplicates, 3 invalid" in out
    assert "line 4: duplicate of line 2 (+1 415-555-0100)" in out
    assert "line 7: duplicate of line 2 (+1 415-555-0100)" in out
    assert (
        "line 3: invalid phone number: not a valid number for GB: no phone has a number in that "
        "range (unassigned, or reserved like the numbers films use) ('+447700900123')"
    ) in out
    assert (
        "line 5: invalid phone number: too short: US numbers have 10 digits, this has 9 "
        "('+1 415 555 267')"
    ) in out
    assert (
        "line 6: invalid phone number: not a valid number for US: a local number, without its "
        "area code ('555-2671')"
    ) in out
