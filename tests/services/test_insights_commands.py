"""``notify-tui followup`` and ``notify-tui report``, through the in-process sandbox."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from notify_tui.cli import main
from notify_tui.domain.status import classify_create_refusal, classify_message
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.store import followups, optouts
from notify_tui.store.campaigns import create_campaign, get_campaign
from notify_tui.store.models import Message, utcnow
from notify_tui.store.sending import NewRecipient, add_recipients
from notify_tui.store.updates import StatusUpdate, apply_updates

pytestmark = pytest.mark.usefixtures("sandbox_provider")

OFF = "+14155550101"  # 30003, failed hours ago: the phone was off
QUEUE = "+14155550102"  # 30001, hours ago
RECENT = "+14155550103"  # 30008, minutes ago
DELIVERED = "+14155550104"
WAITING = "+14155550105"  # still Unknown
OPTED = "+14155550106"  # 30003, but opted out since
LANDLINE = "+442079460000"  # 30003 on a fixed line
GONE = "+14155550107"  # 30005: unknown number
STOPPED = "+14155550108"  # 21610: replied STOP


def _fail(phone: str, campaign_id: int, code: int, ago: timedelta) -> StatusUpdate:
    message_id = Message.get((Message.campaign == campaign_id) & (Message.phone == phone)).id
    return StatusUpdate(
        message_id,
        classify_message("undelivered", code),
        provider_status="undelivered",
        price=Decimal("-0.0079"),
        resolved_at=utcnow() - ago,
    )


DELIVERED_NOW = classify_message("delivered")


def _original() -> int:
    campaign_id = create_campaign(
        "Spring sale",
        "Spring sale: 20% off",
        sender="+15005550006",
        price_per_segment=Decimal("0.0079"),
    )
    phones = [OFF, QUEUE, RECENT, DELIVERED, WAITING, OPTED, LANDLINE, GONE, STOPPED]
    add_recipients(campaign_id, [NewRecipient(p) for p in phones])
    hours = timedelta(hours=3)
    ids = dict(
        Message.select(Message.phone, Message.id).where(Message.campaign == campaign_id).tuples()
    )
    apply_updates(
        [
            _fail(OFF, campaign_id, 30003, hours),
            _fail(QUEUE, campaign_id, 30001, hours),
            _fail(RECENT, campaign_id, 30008, timedelta(minutes=10)),
            _fail(OPTED, campaign_id, 30003, hours),
            _fail(LANDLINE, campaign_id, 30003, hours),
            _fail(GONE, campaign_id, 30005, hours),
            StatusUpdate(ids[STOPPED], classify_create_refusal(400, 21610)),
            StatusUpdate(
                ids[DELIVERED], classify_message("delivered"), provider_status="delivered"
            ),
        ]
    )
    optouts.opt_out(OPTED, source="manual", reason="asked", actor="test")
    optouts.opt_out(STOPPED, source="provider", reason="STOP", actor="provider")
    return campaign_id


def _phones(campaign_id: int) -> list[str]:
    select = Message.select(Message.phone).where(Message.campaign == campaign_id)
    return sorted(p for (p,) in select.tuples())


@pytest.mark.usefixtures("workspace_db")
def test_a_followup_resends_only_to_failures_that_may_pass_and_links_to_the_original(
    capsys: pytest.CaptureFixture[str], sandbox: SandboxApp
) -> None:
    original = _original()

    code = main(["followup", str(original), "--yes", "--rate", "0"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "Follow-up of campaign 1 (Spring sale): 3 recipients failed for a cause" in out
    assert "1 × 30003 unreachable handset" in out and "1 × 30001 queue overflow" in out
    assert "1 delivered" in out and "1 still unknown (may yet be delivered)" in out
    assert "1 opted out" in out and "1 a landline or invalid number" in out
    assert "2 failed for a cause a resend does not fix" in out  # 30005 and STOP's 21610
    assert "Estimated cost: " in out
    (followup,) = followups.followups_of(original)
    assert _phones(followup) == [OFF, QUEUE, RECENT]
    summary = get_campaign(followup)
    assert summary is not None and summary.followup_of == original
    assert summary.body == "Spring sale: 20% off" and summary.name == "Follow-up: Spring sale"
    assert sandbox.stats()["create"] == 3

    # A second follow-up leaves out whoever the first one reached.
    assert main(["followup", str(original), "--yes"]) == 1
    captured = capsys.readouterr()
    assert "3 in an earlier follow-up" in captured.out
    assert captured.err.startswith("notify-tui: error: nothing to follow up")


@pytest.mark.usefixtures("workspace_db")
def test_after_reasons_and_message_narrow_and_change_the_followup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = _original()

    code = main(
        [
            "followup",
            str(original),
            "--after",
            "2",
            "--reasons",
            "30003,30008",
            "--message",
            "Last chance: 20% off ends today",
            "--yes",
        ]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    assert "1 failed too recently" in out  # the 30008, ten minutes ago
    assert "1 failed with a code not chosen" in out  # the 30001
    (followup,) = followups.followups_of(original)
    assert _phones(followup) == [OFF]
    assert get_campaign(followup).body == "Last chance: 20% off ends today"  # type: ignore[union-attr]


@pytest.mark.usefixtures("workspace_db")
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--reasons", "30005"], "a follow-up resends only failures that may pass"),
        (["--reasons", "x"], "must be error codes separated by commas"),
        ([], "no terminal to confirm on"),
    ],
)
def test_a_followup_that_cannot_go_says_why_in_one_line_and_sends_nothing(
    capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    original = _original()
    try:
        code = main(["followup", str(original), *args])
    except SystemExit as exc:  # a usage error
        code = int(str(exc.code))
    assert code != 0
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
    assert followups.followups_of(original) == []


@pytest.mark.usefixtures("workspace_db")
def test_recovered_counts_what_the_followups_delivered() -> None:
    original = _original()
    assert followups.recovered(original).describe() == ""
    main(["followup", str(original), "--yes", "--rate", "0"])
    (followup,) = followups.followups_of(original)
    ids = [m for (m,) in Message.select(Message.id).where(Message.campaign == followup).tuples()]
    apply_updates(
        [StatusUpdate(ids[0], classify_message("delivered"), provider_status="delivered")]
        + [StatusUpdate(i, classify_message("undelivered", 30003)) for i in ids[1:2]]
    )
    recovery = followups.recovered(original)
    assert (recovery.recovered, recovery.of) == (1, 3)
    assert recovery.describe().startswith("recovered 1 of 3")


@pytest.mark.usefixtures("workspace_db")
def test_report_prints_the_summary_breakdowns_times_and_alerts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = _original()

    assert main(["report", str(original)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Campaign 1: Spring sale\n9 recipients: 1 delivered")
    assert "Delivery time (" in out and "Failure reasons:" in out
    assert "By country:" in out and "By line type:" in out
    assert "original carrier: ported numbers keep it" in out
    assert "Unreachable destination handset" in out

    assert main(["report", str(original), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["report_version"] == 1
    assert report["campaign"]["recipients"] == 9 and report["campaign"]["cost"] == "0.0474"
    assert set(report["breakdowns"]) == {"reason", "country", "carrier", "line_type"}
    countries = {g["key"]: g for g in report["breakdowns"]["country"]}
    assert countries["GB"]["failed"] == 1 and countries["US"]["recipients"] == 8
    assert countries["US"]["cost"] == "0.0395"
    assert set(report["delivery_times"]) == {
        "counted", "p50_s", "p90_s", "p99_s", "histogram", "slowest",
    }  # fmt: skip
    kinds = {a["kind"] for a in report["alerts"]}
    assert "unreachable_spike" not in kinds  # 3 messages: too few to say
    assert report["followups"] == {"campaigns": [], "recipients": 0, "recovered": 0, "unknown": 0}

    assert main(["report", "99"]) == 1
    assert "no campaign with id 99" in capsys.readouterr().err


@pytest.mark.usefixtures("workspace_db")
def test_campaigns_json_lists_each_campaigns_alerts(capsys: pytest.CaptureFixture[str]) -> None:
    campaign_id = create_campaign("Filtered", "Hi", sender="+15005550006")
    phones = [f"+1212555{i:04d}" for i in range(20)]
    add_recipients(campaign_id, [NewRecipient(p) for p in phones])
    apply_updates([_fail(p, campaign_id, 30007, timedelta(minutes=1)) for p in phones[:2]])
    assert main(["campaigns", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    (alert,) = row["alerts"]
    assert alert["kind"] == "carrier_violation" and alert["messages"] == 2
    assert alert["filter"] == {"status": "failed", "reason": "Carrier violation", "codes": [30007]}
    assert row["followup_of"] is None


@pytest.mark.usefixtures("workspace_db")
def test_a_personal_message_is_filled_in_again_for_each_recipient() -> None:
    from notify_tui.services.followup import plan_followup, record_followup
    from notify_tui.services.sender import prepare_campaign

    original = prepare_campaign(
        "Personal",
        "Hi {first_name}, your table is ready",
        [NewRecipient(OFF, "Ann Lee"), NewRecipient(QUEUE, "Bo Chen")],
        sender="+15005550006",
    ).campaign_id
    apply_updates(
        [
            _fail(OFF, original, 30003, timedelta(hours=1)),
            _fail(QUEUE, original, 30001, timedelta(hours=1)),
        ]
    )
    followup = plan_followup(original)
    assert followup.plan.to_send == 2
    prepared = record_followup(followup)
    bodies = dict(
        Message.select(Message.phone, Message.body)
        .where(Message.campaign == prepared.campaign_id)
        .tuples()
    )
    assert bodies == {OFF: "Hi Ann, your table is ready", QUEUE: "Hi Bo, your table is ready"}
