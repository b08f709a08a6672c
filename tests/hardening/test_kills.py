"""SIGKILL of a headless poller in the middle of a resolution, and of a sender, leaves the
workspace consistent; ``notify-tui doctor`` says what is left, and the work carries on.

The provider is ``notify-tui sandbox`` over real HTTP in its own process; the poller and the
sender run in processes of their own, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from notify_tui.provider import SANDBOX_ACCOUNT_SID, ProviderConfig, TwilioClient
from notify_tui.services.poller import Poller
from notify_tui.services.sender import prepare_campaign, send_campaign
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.doctor import Check, examine
from notify_tui.store.models import Campaign, Message, utcnow
from notify_tui.store.sending import NewRecipient, send_state_counts
from tests.services.test_send_e2e import Sandbox, stop

from .support import CLI, ROOT, SENDER, assert_all_consistent, phones, subprocess_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

POLL_DRIVER = Path(__file__).with_name("poll_driver.py")
SEND_DRIVER = ROOT / "tests" / "services" / "send_driver.py"
BODY = "Kill test"


def client_for(sandbox: Sandbox) -> TwilioClient:
    return TwilioClient(ProviderConfig(account_sid=SANDBOX_ACCOUNT_SID, base_url=sandbox.url))


def sent_campaign(sandbox: Sandbox, count: int) -> int:
    """A campaign submitted to the sandbox, every message due for a poll now."""
    prepared = prepare_campaign(
        "Kill the poller",
        BODY,
        [NewRecipient(p) for p in phones(count, prefix="+1628")],
        sender=SENDER,
    )

    async def send() -> None:
        async with client_for(sandbox) as client:
            result = await send_campaign(client, prepared.campaign_id, concurrency=32)
        assert result.state == "sent"

    asyncio.run(send())
    Message.update(next_poll_at=utcnow()).where(Message.next_poll_at.is_null(False)).execute()
    return prepared.campaign_id


def start(command: list[str], env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as handle:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)


def wait_for_line(
    process: subprocess.Popen[bytes], out: Path, prefix: str, timeout: float = 60
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in out.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return line
        if process.poll() is not None:
            raise AssertionError(f"the process ended first: {out.read_text()}")
        time.sleep(0.02)
    raise AssertionError(f"no {prefix!r} line within {timeout:g} s: {out.read_text()}")


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def settle_in_process(sandbox: Sandbox, campaign_id: int, ahead: timedelta) -> None:
    """Resolve what can resolve, with a clock ``ahead`` of now (past the dead poller's leases)."""

    async def run() -> None:
        async with client_for(sandbox) as client:
            poller = Poller(client, clock=lambda: utcnow() + ahead)
            for _ in range(40):
                await poller.poll_once(campaign_id)
                # Settled: every message final, or sent and waiting for a receipt that the
                # sandbox never sends for some numbers.
                waiting = Message.select().where(
                    (Message.campaign == campaign_id)
                    & (Message.status == "unknown")
                    & (Message.provider_status.is_null() | (Message.provider_status != "sent"))
                )
                if waiting.count() == 0:
                    return
                await asyncio.sleep(0.1)
        raise AssertionError("the campaign did not settle")

    asyncio.run(run())


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    # Fast timelines: every message is final by the time it is polled.
    server = Sandbox(tmp_path, "--speed", "2000")
    yield server
    server.close()


def test_a_poller_killed_inside_its_transaction_commits_nothing_and_the_work_goes_on(
    tmp_path: Path, workspace_url: str, sandbox: Sandbox
) -> None:
    campaign_id = sent_campaign(sandbox, 500)
    sandbox.set_faults(latency=0.05)
    before = get_campaign(campaign_id)
    assert before is not None and before.unknown > 450

    env = subprocess_env(tmp_path, workspace_url, NOTIFY_PROVIDER_URL=sandbox.url)
    out = tmp_path / "poller.out"
    command = [sys.executable, str(POLL_DRIVER), "--hang-in-transaction", "--batch", "300"]
    process = start(command, env, out)
    try:
        line = wait_for_line(process, out, "applied-uncommitted")
        assert int(line.split()[1]) > 0  # it had resolved some when it was killed
        kill(process)
    finally:
        stop(process)

    # Nothing of the killed transaction is visible: counters, rows and history agree.
    after = get_campaign(campaign_id)
    assert after is not None
    assert (after.delivered, after.failed, after.unknown) == (0, before.failed, before.unknown)
    assert_all_consistent()
    # Its leases (taken in an earlier, committed transaction) stay until they expire.
    leased = Message.select().where(Message.lease_owner.is_null(False)).count()
    assert leased == 300
    found = examine()
    assert found.ok, found.problems
    assert any("300 messages leased by a poller" in note for note in found.notes)
    later = examine(utcnow() + timedelta(minutes=3))
    assert [p.check for p in later.problems] == [Check.EXPIRED_LEASES]

    sandbox.set_faults(latency=0)
    settle_in_process(sandbox, campaign_id, timedelta(minutes=3))
    assert_all_consistent()
    final = get_campaign(campaign_id)
    assert final is not None and final.delivered > 300
    assert examine(utcnow() + timedelta(minutes=3)).ok


def test_pollers_killed_at_any_moment_leave_the_workspace_consistent(
    tmp_path: Path, workspace_url: str, sandbox: Sandbox
) -> None:
    campaign_id = sent_campaign(sandbox, 500)
    sandbox.set_faults(latency=0.01)
    env = subprocess_env(tmp_path, workspace_url, NOTIFY_PROVIDER_URL=sandbox.url)
    # Small batches: many transactions, so that kills land before, inside and after them.
    for round_number, delay in enumerate([0.0, 0.1, 0.3]):
        out = tmp_path / f"driver-{round_number}.out"
        process = start([sys.executable, str(POLL_DRIVER), "--batch", "60"], env, out)
        try:
            wait_for_line(process, out, "cycle")
            time.sleep(delay)
            kill(process)
        finally:
            stop(process)
        assert "Traceback" not in out.read_text()
        assert_all_consistent()
        found = examine()
        assert found.ok, found.problems
    # ``notify-tui poll`` itself, killed a while after it started, whatever it is doing.
    for round_number, delay in enumerate([1.0, 1.5]):
        out = tmp_path / f"poll-{round_number}.out"
        process = start([*CLI, "poll"], env, out)
        try:
            time.sleep(delay)
            assert process.poll() is None, out.read_text()
            kill(process)
        finally:
            stop(process)
        assert "Traceback" not in out.read_text()
        assert_all_consistent()
        assert examine().ok

    resolved = Campaign.get_by_id(campaign_id)
    assert resolved.delivered + resolved.failed > 0
    settle_in_process(sandbox, campaign_id, timedelta(minutes=3))
    assert_all_consistent()
    assert examine(utcnow() + timedelta(minutes=3)).ok


def test_after_a_sender_is_killed_doctor_says_to_resume_and_the_resume_makes_it_healthy(
    tmp_path: Path, workspace_url: str
) -> None:
    sandbox = Sandbox(tmp_path, "--latency", "0.02")
    try:
        prepared = prepare_campaign(
            "Kill the sender",
            BODY,
            [NewRecipient(p) for p in phones(300, prefix="+1629")],
            sender=SENDER,
        )
        campaign_id = prepared.campaign_id
        env = subprocess_env(tmp_path, workspace_url, NOTIFY_PROVIDER_URL=sandbox.url)
        out = tmp_path / "sender.out"
        sender = start(
            [sys.executable, str(SEND_DRIVER), str(campaign_id), "--rate", "150"], env, out
        )
        try:
            deadline = time.monotonic() + 30
            while send_state_counts(campaign_id).get("submitted", 0) < 100:
                assert time.monotonic() < deadline, out.read_text()
                assert sender.poll() is None, out.read_text()
                time.sleep(0.02)
            kill(sender)
        finally:
            stop(sender)
        assert_all_consistent()

        doctor = subprocess.run(
            [*CLI, "doctor", "--repair"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert doctor.stderr == ""
        assert f"Repaired: marked campaign {campaign_id} interrupted" in doctor.stdout
        attempting = send_state_counts(campaign_id).get("attempting", 0)
        if attempting:
            assert doctor.returncode == 1
            assert f"notify-tui send --resume {campaign_id}" in doctor.stdout
        assert get_campaign(campaign_id).state == "interrupted"  # type: ignore[union-attr]

        resume = subprocess.run(
            [*CLI, "send", "--resume", str(campaign_id), "--rate", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert resume.returncode == 0, resume.stdout + resume.stderr
        healthy = subprocess.run(
            [*CLI, "doctor"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert healthy.returncode == 0, healthy.stdout
        assert healthy.stdout.rstrip().endswith("The workspace is healthy.")
        assert_all_consistent()
    finally:
        sandbox.close()
