"""``campaigns --archived``, ``archive``, ``unarchive`` and ``delete`` (issue 14: 22)."""

from __future__ import annotations

import json

import pytest

from notify_tui.cli import main
from notify_tui.services.runtime import SANDBOX_FROM
from notify_tui.store.campaigns import create_campaign, get_campaign
from notify_tui.store.models import Message
from notify_tui.store.sending import NewRecipient, add_recipients, count_submitted


def _campaign(name: str, sender: str, sent: bool) -> int:
    campaign_id = create_campaign(name, "Hi", sender=sender)
    add_recipients(campaign_id, [NewRecipient(f"+1212555{i:04d}") for i in range(3)])
    if sent:
        Message.update(send_state="submitted").where(Message.campaign == campaign_id).execute()
        count_submitted(campaign_id, 3)
    return campaign_id


@pytest.mark.usefixtures("workspace_db")
def test_archive_lists_apart_and_unarchive_brings_back(capsys: pytest.CaptureFixture[str]) -> None:
    real = _campaign("Real one", "+14155550000", sent=True)
    assert main(["archive", str(real)]) == 0
    assert "campaigns --archived" in capsys.readouterr().out
    assert main(["campaigns", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["campaigns"]) == 0
    assert "No campaigns yet." in capsys.readouterr().out
    assert main(["campaigns", "--archived", "--json"]) == 0
    assert [row["id"] for row in json.loads(capsys.readouterr().out)] == [real]
    assert main(["unarchive", str(real)]) == 0
    assert "back in History" in capsys.readouterr().out
    assert main(["campaigns", "--archived"]) == 0
    assert "No archived campaigns." in capsys.readouterr().out
    assert main(["archive", "99"]) == 1
    assert "no campaign with id 99" in capsys.readouterr().err


@pytest.mark.usefixtures("workspace_db")
def test_delete_asks_and_refuses_what_went_out_for_real(
    capsys: pytest.CaptureFixture[str],
) -> None:
    real = _campaign("Real one", "+14155550000", sent=True)
    demo = _campaign("Demo", SANDBOX_FROM, sent=True)
    assert main(["delete", str(real), "--yes"]) == 1
    err = capsys.readouterr().err
    assert "sent 3 messages for real" in err and "archive it" in err
    # No terminal to ask on (the tests' stdin): refused, nothing deleted.
    assert main(["delete", str(demo)]) == 1
    assert "add --yes" in capsys.readouterr().err
    assert get_campaign(demo) is not None
    assert main(["delete", str(demo), "--yes"]) == 0
    assert "Deleted campaign" in capsys.readouterr().out
    assert get_campaign(demo) is None and get_campaign(real) is not None
