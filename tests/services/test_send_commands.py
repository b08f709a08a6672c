"""``notify-tui contacts import`` and ``notify-tui send``, through the in-process sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from notify_tui.cli import main
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.models import Message

pytestmark = pytest.mark.usefixtures("sandbox_provider")

CONTACTS = "phone,name\n4155550100,Ann\n4155550101,Bob\nbad,Cy\n+15005550004,Stops\n"


def write(tmp_path: Path, text: str, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_contacts_import_prints_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, CONTACTS)
    assert main(["contacts", "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "4 lines: 3 imported, 0 updated, 0 unchanged, 0 duplicates, 1 invalid" in out
    assert "line 4: invalid phone number: not a phone number ('bad')" in out

    assert main(["contacts", "import", str(path)]) == 0
    assert "0 imported, 0 updated, 3 unchanged" in capsys.readouterr().out


def test_contacts_import_says_which_line_has_more_cells_than_the_header_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "phone,name\n4155550100,Ann,\n4155550101,Smith, John\n")

    assert main(["contacts", "import", str(path)]) == 0

    out = capsys.readouterr().out.splitlines()
    assert "2 lines: 1 imported, 0 updated, 0 unchanged, 0 duplicates, 1 invalid" in out
    assert (
        "line 3: 3 cells but the header has 2; put quotes around a value that contains a comma, "
        "or give each extra column a header"
    ) in out


def test_contacts_import_of_an_unusable_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["contacts", "import", str(write(tmp_path, "name\nAnn\n"))]) == 1
    err = capsys.readouterr().err
    assert err.startswith("notify-tui: error: no phone column")
    assert err.count("\n") == 1


def test_send_to_all_contacts_then_resume_sends_nothing_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sandbox: SandboxApp
) -> None:
    main(["contacts", "import", str(write(tmp_path, CONTACTS))])
    capsys.readouterr()

    code = main(
        ["send", "--name", "Spring", "--message", "Hi!", "--all-contacts", "--yes", "--rate", "50"]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    assert "Recipients: 3 to send, 0 skipped (opted out)" in out
    assert "Campaign 1: 2 submitted, 1 refused by the provider" in out
    campaign = get_campaign(1)
    assert campaign is not None and campaign.state == "sent"
    assert main(["send", "--resume", "1"]) == 0
    assert "Campaign 1 has nothing left to send" in capsys.readouterr().out
    assert Message.select().where(Message.send_state == "submitted").count() == 2
    assert sandbox.stats()["create"] == 3


def test_send_from_a_csv_skips_opted_out_numbers_and_records_invalid_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["contacts", "import", str(write(tmp_path, CONTACTS))])
    main(["send", "--name", "First", "--message", "Hi", "--all-contacts", "--yes", "--rate", "0"])
    capsys.readouterr()
    # +15005550004 replied STOP during the first campaign: the second one skips it.
    csv = write(tmp_path, CONTACTS + ",nobody\n", "audience.csv")

    code = main(
        ["send", "--name", "Second", "--message", "Hi", "--csv", str(csv), "--yes", "--rate", "0"]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    assert "Recipients: 2 to send, 1 skipped (opted out), 1 invalid" in out
    assert "line 6: no phone number" in out
    second = get_campaign(2)
    assert second is not None
    assert (second.recipients, second.skipped_opted_out, second.failed) == (3, 1, 1)


def test_send_from_a_csv_leaves_out_a_line_with_more_cells_than_the_header_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write(tmp_path, "phone,name\n4155550100,Ann,,\n4155550101,Smith, John\n", "a.csv")

    code = main(
        ["send", "--name", "Spring", "--message", "Hi", "--csv", str(csv), "--yes", "--rate", "0"]
    )

    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    assert f"Lines of {csv} not sent (invalid numbers are recorded as Failed):" in out
    assert (
        "  line 3: 3 cells but the header has 2; put quotes around a value that contains a "
        "comma, or give each extra column a header"
    ) in out
    assert "Recipients: 1 to send, 0 skipped (opted out), 0 invalid" in "\n".join(out)
    campaign = get_campaign(1)
    assert campaign is not None and campaign.recipients == 1


def test_send_asks_before_sending_and_needs_a_terminal_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write(tmp_path, CONTACTS)
    assert main(["send", "--name", "Spring", "--message", "Hi", "--csv", str(csv)]) == 1
    captured = capsys.readouterr()
    assert "add --yes" in captured.err
    assert "Recipients: 3 to send" in captured.out
    assert get_campaign(1) is None


def test_send_needs_an_audience(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "--name", "Spring", "--message", "Hi"]) == 1
    assert "--all-contacts or --csv" in capsys.readouterr().err


SMART = ("--rate", "0", "--smart-encoding")
HI = ("send", "--name", "Hi", "--message", "Hi {first_name|there}, it’s on…")


def test_send_smart_encoding_replaces_lookalikes_and_prints_the_saving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write(tmp_path, CONTACTS)
    message = "Don’t miss our spring sale — " + "x" * 100 + " 🌷"
    # Without the tulip the message fits one GSM-7 segment; with it, it stays UCS-2 (and the
    # second campaign skips +15005550004, who replied STOP to the first).
    code = main(
        ["send", "--name", "Spring", "--message", message[:-2], "--csv", str(csv), "--yes", *SMART]
    )

    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    assert "Smart encoding: 2 characters replaced: ’ → ', — → -" in out
    assert "Smart encoding: 2 → 1 segments a message, 6 → 3 segments in all, saves $0.0237" in out
    assert Message.select().where(Message.body.is_null(False)).count() == 0
    campaign = get_campaign(1)
    assert campaign is not None
    assert campaign.body == "Don't miss our spring sale - " + "x" * 100
    assert campaign.segments == 1

    main(["send", "--name", "Tulips", "--message", message, "--csv", str(csv), "--yes", *SMART])
    out = capsys.readouterr().out.splitlines()
    assert (
        "Smart encoding: 2 characters replaced: ’ → ', — → -; left as they are (no GSM-7 "
        "lookalike, still UCS-2): 🌷"
    ) in out
    assert "Smart encoding: 2 segments a message, 4 segments in all, saves nothing" in out


def test_send_smart_encoding_of_a_personal_message_warns_of_names_that_force_ucs2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write(tmp_path, "phone,name\n4155550100,Ann\n4155550101,Zoë Smith\n")

    code = main([*HI, "--csv", str(csv), "--yes", *SMART])

    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    assert "Smart encoding: 2 characters replaced: ’ → ', … → ..." in out
    assert "  1 recipient in UCS-2 because of their values: Zoë Smith (+14155550101) ('ë')" in out
    assert "Smart encoding: 2 segments in all, saves nothing" in out
    bodies = {m.phone: m.body for m in Message.select()}
    assert bodies == {"+14155550100": "Hi Ann, it's on...", "+14155550101": "Hi Zoë, it's on..."}


def test_send_from_a_csv_names_the_lines_that_repeat_a_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write(
        tmp_path,
        "phone,name\n4155550100,Ann\n(415) 555-0100,Ann again\n4155550101,Bob\n"
        "+1 415 555 0101,Bob again\nbad,Cy\nbad,Cy again\n",
    )

    code = main(
        ["send", "--name", "Spring", "--message", "Hi", "--csv", str(csv), "--yes", "--rate", "0"]
    )

    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    assert f"Lines of {csv} that repeat a number (each gets one message):" in out
    assert "  line 3: duplicate of line 2 (+1 415-555-0100)" in out
    assert "  line 5: duplicate of line 4 (+1 415-555-0101)" in out
    assert "  line 7: duplicate of line 6 (bad)" in out
    assert (
        "Recipients: 2 to send, 0 skipped (opted out), 1 invalid (recorded as Failed, not "
        "sent), 3 duplicates" in out
    )


def test_campaigns_contacts_and_optouts_search_fold_accents_and_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["contacts", "import", str(write(tmp_path, "phone,name\n4155550100,Siobhán Kelly\n"))])
    main(["send", "--name", "Café Siobhán", "--message", "Hi", "--all-contacts", "--yes"])
    main(["optout", "4155550100", "--reason", "asked"])
    capsys.readouterr()

    assert main(["campaigns", "--search", "CAFE SIOBHAN"]) == 0
    assert "Café Siobhán" in capsys.readouterr().out
    assert main(["optouts", "--search", "siobhan"]) == 0
    assert "Siobhán Kelly" in capsys.readouterr().out


def test_export_has_each_person_s_own_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = write(tmp_path, "phone,name\n4155550100,Ann Lee\n4155550101,Zoë Ng\nbad,Typo\n")
    main(
        [
            "send",
            "--name",
            "Hi",
            "--message",
            "Hi {first_name}",
            "--csv",
            str(csv_path),
            "--yes",
            "--rate",
            "0",
        ]
    )
    main(
        [
            "send",
            "--name",
            "Plain",
            "--message",
            "Sale {{today}}",
            "--csv",
            str(csv_path),
            "--yes",
            "--rate",
            "0",
        ]
    )
    capsys.readouterr()

    bodies = {}
    for campaign in ("1", "2"):
        assert main(["export", campaign, "--output", "-"]) == 0
        lines = capsys.readouterr().out.splitlines()
        header = lines[0].split(",")
        assert header[-1] == "body"
        bodies[campaign] = {line.split(",")[1]: line.split(",")[-1] for line in lines[1:]}
    assert bodies["1"] == {"Ann Lee": "Hi Ann", "Zoë Ng": "Hi Zoë", "Typo": ""}
    assert bodies["2"] == {"Ann Lee": "Sale {today}", "Zoë Ng": "Sale {today}", "Typo": ""}


def test_resume_with_smart_encoding_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    # A resume sends the texts recorded before the first message went out, never new ones.
    assert main(["send", "--resume", "1", "--smart-encoding"]) == 1
    assert "--resume takes no --name, --message, --smart-encoding" in capsys.readouterr().err


def test_a_name_with_a_lookalike_is_named_with_its_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Smart encoding changes the template, never a person's name: the review says how to fix it.
    csv_path = write(tmp_path, "phone,name\n4155550100,Ann\n4155550101,Liam O’Brien\n")

    code = main(
        [
            "send",
            "--name",
            "Hi",
            "--message",
            "Hi {name}",
            "--csv",
            str(csv_path),
            "--yes",
            "--rate",
            "0",
            "--smart-encoding",
        ]
    )

    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    assert (
        "  1 recipient in UCS-2 because of their values: Liam O’Brien (+14155550101) "
        "('’', write ' in the contact)"
    ) in out
