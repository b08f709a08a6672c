"""``notify-tui optout``, ``optin``, ``optouts`` and ``suggestions``: what a user types and reads,
and what the workspace holds afterwards."""

from __future__ import annotations

import csv
import io

import pytest

from notify_tui.cli import main
from notify_tui.store import optouts
from notify_tui.store.models import Contact, OptOutEvent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_opt_out_list_and_opt_back_in(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "optout", "(415) 555-0100", "--reason", "asked by phone")
    assert status == 0 and "+14155550100" in out
    contact = Contact.get(Contact.phone == "+14155550100")
    assert contact.opted_out and contact.opt_out_reason == "asked by phone"

    status, out, _ = run(capsys, "optouts")
    assert status == 0
    header, line = out.splitlines()
    assert header.split() == ["PHONE", "OPTED", "OUT", "(UTC)", "SOURCE", "BY", "NAME", "REASON"]
    assert line.startswith("+14155550100") and "manual" in line and "asked by phone" in line

    status, out, _ = run(capsys, "optin", "+14155550100")
    assert status == 0 and "opted back in" in out
    assert not Contact.get(Contact.phone == "+14155550100").opted_out
    actions = [e.action for e in OptOutEvent.select().order_by(OptOutEvent.id)]
    assert actions == ["opt_out", "opt_in"]
    assert run(capsys, "optouts")[1] == "No opted-out numbers.\n"


def test_opt_in_after_stop_is_refused_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    main(["doctor"])  # creates the workspace
    optouts.opt_out("+14155550101", source="provider", reason="replied STOP", actor="provider")
    capsys.readouterr()
    status, _, err = run(capsys, "optin", "+14155550101")
    assert status != 0
    assert "replied STOP" in err and "Traceback" not in err
    assert Contact.get(Contact.phone == "+14155550101").opted_out


def test_every_opt_out_streams_as_csv_with_search(capsys: pytest.CaptureFixture[str]) -> None:
    main(["doctor"])
    requests = [
        # +1 415-555-0000 … 9999, then +1 415-556-0000 … 1999: more than two pages of the listing
        optouts.OptOutRequest(
            f"+1415{555 + n // 10_000}{n % 10_000:04d}", "policy", "landline (30006)", "policy"
        )
        for n in range(12_000)
    ]
    optouts.opt_out_many(requests)
    optouts.opt_out(
        "+16505550100", source="manual", reason='says "stop", politely', actor="Bob [/] Smith"
    )
    capsys.readouterr()

    status, out, _ = run(capsys, "optouts", "--csv")
    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["phone", "name", "source", "reason", "by", "opted_out_at"]
    phones = [row[0] for row in rows[1:]]
    assert len(phones) == len(set(phones)) == 12_001
    assert rows[1][:5] == ["+16505550100", "", "manual", 'says "stop", politely', "Bob [/] Smith"]

    status, out, _ = run(capsys, "optouts", "--csv", "--search", "555999")
    found = sorted(row[0] for row in list(csv.reader(io.StringIO(out)))[1:])
    assert found == ["+14155555999"] + [f"+141555599{n}" for n in range(90, 100)]
