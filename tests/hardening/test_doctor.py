"""``notify-tui doctor [--repair]`` on SQLite and PostgreSQL: what it finds, what it repairs,
and what it leaves to ``send --resume``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import TypeVar

import pytest

from notify_tui.cli import main
from notify_tui.store import counters, doctor, sending
from notify_tui.store.campaigns import set_state, tally_series
from notify_tui.store.db import SCHEMA_VERSION
from notify_tui.store.doctor import Check, examine, repair
from notify_tui.store.models import (
    Campaign,
    Contact,
    DeliveryTally,
    GroupTally,
    Message,
    SchemaInfo,
    StatusTally,
    database,
    utcnow,
)
from notify_tui.store.optouts import opt_in, opt_out

from .support import assert_all_consistent, assert_consistent, resolved_campaign

T = TypeVar("T")

pytestmark = pytest.mark.usefixtures("workspace_url")


def in_other_thread(function: Callable[[], T]) -> T:
    """Run ``function`` on another thread: another database connection (another PostgreSQL
    session), as another process would have."""
    result: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(function())
        except BaseException as exc:  # handed back to the test
            errors.append(exc)
        finally:
            if not database.is_closed():
                database.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if errors:
        raise errors[0]
    return result[0]


def doctor_cli(url: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--database-url", url, "doctor", *args])
    captured = capsys.readouterr()
    assert captured.err == ""
    return code, captured.out


def test_a_healthy_workspace_passes_every_check(
    workspace_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    resolved_campaign("One")
    resolved_campaign("Two", start=100, unknown=0)
    opt_out("+14150000001", source="manual", reason="asked", actor="ann")
    opt_out("+14150000002", source="manual", reason="asked", actor="ann")
    opt_in("+14150000002", actor="ann")

    found = examine()
    assert found.ok, found.problems
    assert found.schema_version == SCHEMA_VERSION

    code, out = doctor_cli(workspace_url, capsys)
    assert code == 0
    assert "ok       counters of 2 campaigns agree with their 22 messages" in out
    assert out.rstrip().endswith("The workspace is healthy.")
    assert "PROBLEM" not in out
    # The URL's password never shows; the backend and where it is do.
    assert "Workspace: " in out


def test_damaged_counters_are_found_and_recomputed_from_the_rows(
    workspace_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = resolved_campaign("Damaged")
    intact = resolved_campaign("Intact", start=100)
    before = Campaign.get_by_id(damaged)
    Campaign.update(
        delivered=Campaign.delivered + 3,
        unknown=Campaign.unknown - 1,
        recipients=99,
        submitted=0,
        cost=Decimal("12.5"),
    ).where(Campaign.id == damaged).execute()

    found = examine()
    assert [p.campaign_id for p in found.of(Check.COUNTERS)] == [damaged]
    code, out = doctor_cli(workspace_url, capsys)
    assert code == 1
    assert f"PROBLEM  campaign {damaged} (Damaged): its counters say 99 recipients" in out
    assert "can be repaired: notify-tui doctor --repair" in out

    code, out = doctor_cli(workspace_url, capsys, "--repair")
    assert code == 0, out
    assert f"Repaired: recomputed the counters of campaign {damaged} from the messages" in out
    after = Campaign.get_by_id(damaged)
    assert (after.recipients, after.delivered, after.failed, after.unknown, after.submitted) == (
        before.recipients,
        before.delivered,
        before.failed,
        before.unknown,
        before.submitted,
    )
    assert Decimal(str(after.cost)).quantize(Decimal("0.00001")) == Decimal(
        str(before.cost)
    ).quantize(Decimal("0.00001"))
    assert_consistent(damaged)
    assert_consistent(intact)
    assert examine().ok


def test_the_status_history_is_rebuilt_minute_by_minute(workspace_url: str) -> None:
    campaign_id = resolved_campaign("History", delivered=30, failed=12, unknown=2)
    series = tally_series(campaign_id)
    assert len(series) == 3
    StatusTally.delete().where(
        (StatusTally.campaign == campaign_id) & (StatusTally.minute == series[0][0])
    ).execute()
    StatusTally.update(delivered=StatusTally.delivered + 7).where(
        StatusTally.campaign == campaign_id
    ).execute()

    found = examine()
    (problem,) = found.problems
    assert problem.check is Check.TALLIES and problem.repairable
    assert "its status history counts" in problem.text

    assert any("rebuilt the status history" in line for line in repair(found))
    assert tally_series(campaign_id) == series
    assert examine().ok


def test_breakdowns_that_disagree_with_the_messages_are_found_and_recounted(
    workspace_url: str,
) -> None:
    campaign_id = resolved_campaign("Breakdowns", delivered=30, failed=12, unknown=2)
    intact = resolved_campaign("Intact", delivered=3, failed=1, unknown=0)
    GroupTally.update(messages=GroupTally.messages + 3).where(
        GroupTally.campaign == campaign_id
    ).execute()

    found = examine()
    (problem,) = found.problems
    assert problem.check is Check.BREAKDOWNS and problem.repairable
    assert problem.campaign_id == campaign_id and "its breakdowns count" in problem.text

    assert any("recounted the breakdowns" in line for line in repair(found))
    assert examine().ok
    DeliveryTally.delete().where(DeliveryTally.campaign == intact).execute()
    (problem,) = examine().problems
    assert problem.campaign_id == intact and "its delivery times count 0 messages" in problem.text


def test_expired_and_orphan_leases_are_cleared_and_live_ones_left_alone(
    workspace_url: str,
) -> None:
    campaign_id = resolved_campaign("Leases", unknown=6)
    now = utcnow()
    unknown = [
        m.id
        for m in Message.select(Message.id)
        .where((Message.campaign == campaign_id) & (Message.status == "unknown"))
        .order_by(Message.id)
    ]
    delivered = Message.get((Message.campaign == campaign_id) & (Message.status == "delivered"))
    Message.update(lease_owner="dead:1", lease_until=now - timedelta(minutes=5)).where(
        Message.id.in_(unknown[:2])
    ).execute()
    Message.update(lease_owner="alive:2", lease_until=now + timedelta(minutes=5)).where(
        Message.id.in_(unknown[2:4])
    ).execute()
    Message.update(lease_owner="gone:3", lease_until=now + timedelta(minutes=5)).where(
        Message.id == delivered.id
    ).execute()
    Message.update(lease_owner="half:4").where(Message.id == unknown[4]).execute()

    found = examine(now)
    assert {p.check for p in found.problems} == {Check.EXPIRED_LEASES, Check.ORPHAN_LEASES}
    assert any("2 messages leased by a poller" in note for note in found.notes)

    repair(found, now)
    owners = dict(Message.select(Message.id, Message.lease_owner).tuples())
    assert owners[unknown[0]] is None and owners[unknown[1]] is None
    assert owners[unknown[2]] == owners[unknown[3]] == "alive:2"
    assert owners[delivered.id] is None and owners[unknown[4]] is None
    assert examine(now).ok


def test_a_stopped_sender_s_attempting_messages_are_left_to_resume(
    workspace_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign_id = resolved_campaign("Crashed", unknown=0)
    extra = resolved_campaign("Queued", start=200, delivered=0, failed=0, unknown=0, invalid=0)
    # A sender died: the campaign still says sending, three creates of unknown outcome.
    from notify_tui.store.sending import NewRecipient, add_recipients, claim_for_submit

    add_recipients(extra, [NewRecipient(f"+1415777000{i}") for i in range(5)])
    ids = [m.id for m in Message.select(Message.id).where(Message.campaign == extra)]
    claim_for_submit(extra, ids[:3])
    set_state(extra, "sending")

    found = examine()
    assert {(p.check, p.campaign_id) for p in found.problems} == {
        (Check.ABANDONED_SEND, extra),
        (Check.ATTEMPTING, extra),
    }
    assert not found.of(Check.ATTEMPTING)[0].repairable

    code, out = doctor_cli(workspace_url, capsys, "--repair")
    assert code == 1
    assert f"Repaired: marked campaign {extra} interrupted" in out
    assert "3 messages of unknown outcome" in out
    assert f"Run notify-tui send --resume {extra}" in out
    assert out.rstrip().endswith("1 problem remains.")
    assert Campaign.get_by_id(extra).state == "interrupted"
    # Nothing about the messages themselves changed: only a resume may decide.
    states = sending.send_state_counts(extra)
    assert states == {"attempting": 3, "pending": 2}
    assert_consistent(campaign_id)
    assert_consistent(extra)


def test_a_campaign_being_sent_now_is_not_a_problem(workspace_url: str) -> None:
    campaign_id = resolved_campaign("Live", delivered=0, failed=0, unknown=0, invalid=0)
    from notify_tui.store.sending import NewRecipient, add_recipients, claim_for_submit

    add_recipients(campaign_id, [NewRecipient(f"+1415777100{i}") for i in range(4)])
    claim_for_submit(
        campaign_id,
        [m.id for m in Message.select(Message.id).where(Message.campaign == campaign_id)],
    )
    set_state(campaign_id, "sending")
    assert sending.try_lock_campaign(campaign_id)
    try:
        found = in_other_thread(examine)
        assert found.ok, found.problems
        assert any(f"campaign {campaign_id} (Live) is being sent now" in n for n in found.notes)
        assert in_other_thread(lambda: doctor.mark_interrupted([campaign_id])) == []
    finally:
        sending.unlock_campaign(campaign_id)
    assert {p.check for p in examine().problems} == {Check.ABANDONED_SEND, Check.ATTEMPTING}


def test_unknown_messages_no_poller_would_look_at_are_scheduled(workspace_url: str) -> None:
    campaign_id = resolved_campaign("Forgotten", unknown=3)
    Message.update(next_poll_at=None).where(
        (Message.campaign == campaign_id) & (Message.status == "unknown")
    ).execute()
    # Past the window, with its note: rightly never polled again.
    first = Message.get((Message.campaign == campaign_id) & (Message.status == "unknown"))
    Message.update(note="no delivery receipt from the carrier").where(
        Message.id == first.id
    ).execute()

    found = examine()
    (problem,) = found.problems
    assert problem.check is Check.NEVER_POLLED and problem.text.startswith("2 Unknown messages")
    now = utcnow()
    repair(found, now)
    due = Message.select().where((Message.campaign == campaign_id) & (Message.next_poll_at == now))
    assert due.count() == 2
    assert examine().ok


def test_schema_version_and_opt_out_trail_are_checked_not_repaired(workspace_url: str) -> None:
    resolved_campaign()
    opt_out("+14150000009", source="manual", reason="asked", actor="ann")
    Contact.update(opted_out=False).where(Contact.phone == "+14150000009").execute()
    Contact.update(opted_out=True).where(Contact.phone == "+14150000000").execute()
    SchemaInfo.update(value="1").where(SchemaInfo.key == "version").execute()

    found = examine()
    assert {p.check for p in found.problems} == {Check.SCHEMA, Check.OPT_OUT_TRAIL}
    assert not any(p.repairable for p in found.problems)
    assert f"schema version 1, expected {SCHEMA_VERSION}" in found.of(Check.SCHEMA)[0].text
    assert found.of(Check.OPT_OUT_TRAIL)[0].text.startswith("2 contacts whose opt-out state")
    assert repair(found) == []
    assert len(examine().problems) == 2


def test_repairing_counters_while_a_poller_writes_loses_no_update(workspace_url: str) -> None:
    """The recount holds the campaign row: a resolution committed meanwhile is added after it."""
    campaign_id = resolved_campaign("Busy", delivered=0, failed=0, unknown=40, invalid=0)
    Campaign.update(delivered=1000).where(Campaign.id == campaign_id).execute()
    from notify_tui.domain.status import classify_message
    from notify_tui.store.updates import StatusUpdate, apply_updates

    ids = [
        m.id
        for m in Message.select(Message.id)
        .where(Message.campaign == campaign_id)
        .order_by(Message.id)
    ]

    def resolve_all() -> int:
        done = 0
        try:
            for message_id in ids:
                delivered = classify_message("delivered")
                apply_updates([StatusUpdate(message_id, delivered, provider_status="delivered")])
                done += 1
        finally:
            database.close()
        return done

    worker_result: list[int] = []
    worker = threading.Thread(target=lambda: worker_result.append(resolve_all()))
    worker.start()
    try:
        for _ in range(5):
            counters.recount([campaign_id])
    finally:
        worker.join(60)
    assert worker_result == [40]
    assert_all_consistent()
