"""End to end over real HTTP: ``notify-tui sandbox`` on loopback, a sender in its own process
killed with SIGKILL mid-way, then resumed; the sandbox's own records must show exactly one message
for every recipient that was not refused."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from notify_tui.provider import SANDBOX_ACCOUNT_SID, ProviderConfig, TwilioClient
from notify_tui.services.sender import prepare_campaign
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.models import Message
from notify_tui.store.sending import NewRecipient, send_state_counts

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("send_driver.py")
SENDER = "+15005550006"
BODY = "End to end: one message each"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(tmp_path: Path, database: Path, provider_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "TWILIO_"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            "NOTIFY_DATA_DIR": str(tmp_path / "data"),
            "NOTIFY_CONFIG": str(tmp_path / "config.toml"),
            "NOTIFY_DATABASE_URL": f"sqlite:///{database}",
            "NOTIFY_PROVIDER_URL": provider_url,
            "NOTIFY_FROM": SENDER,
        }
    )
    return env


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


class Sandbox:
    """``notify-tui sandbox`` in a subprocess, on a free loopback port."""

    def __init__(self, tmp_path: Path, *faults: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (tmp_path / "sandbox.log").open("wb")
        env = environment(tmp_path, tmp_path / "unused.db", self.url)
        command = [
            sys.executable,
            "-c",
            "import sys; from notify_tui.cli import main; sys.exit(main(sys.argv[1:]))",
            "sandbox",
            "--port",
            str(self.port),
            "--state",
            str(tmp_path / "sandbox-state.db"),
            "--seed",
            "7",
            "--quiet",
            *faults,
        ]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the sandbox exited: {(tmp_path / 'sandbox.log').read_text()}"
                )
            try:
                httpx.get(f"{self.url}/_sandbox/stats", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise AssertionError("the sandbox did not start within 20 s") from None
                time.sleep(0.1)

    def stats(self) -> dict[str, int]:
        return dict(httpx.get(f"{self.url}/_sandbox/stats", timeout=5).json())

    def set_faults(self, **faults: float) -> None:
        httpx.post(f"{self.url}/_sandbox/faults", json=faults, timeout=5).raise_for_status()

    def close(self) -> None:
        stop(self.process)
        self.log.close()


def run_sender(
    tmp_path: Path, env: dict[str, str], campaign_id: int, *args: str, name: str
) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp_path / f"{name}.out"
    with out.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, str(DRIVER), str(campaign_id), *args],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    return process, out


def kill_when_submitted(
    process: subprocess.Popen[bytes], campaign_id: int, at_least: int, out: Path
) -> dict[str, int]:
    deadline = time.monotonic() + 30
    while True:
        counts = send_state_counts(campaign_id)
        if counts.get("submitted", 0) >= at_least:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            return send_state_counts(campaign_id)
        if process.poll() is not None:
            raise AssertionError(f"the sender ended before it was killed: {out.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing submitted within 30 s: {out.read_text()}")
        time.sleep(0.02)


def wait_for(process: subprocess.Popen[bytes], out: Path, timeout: float = 60) -> list[str]:
    """Wait for the sender to finish; answer the words of its ``result`` line."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"the sender did not finish in {timeout:g} s: {out.read_text()}"
        ) from None
    text = out.read_text()
    assert process.returncode == 0, text
    results = [line.split() for line in text.splitlines() if line.startswith("result ")]
    assert results, text
    return results[-1]


async def sandbox_records(url: str, phones: list[str]) -> dict[str, list[str]]:
    """The SIDs the sandbox holds for each number, from its own records, listed by To."""
    config = ProviderConfig(account_sid=SANDBOX_ACCOUNT_SID, base_url=url)
    records: dict[str, list[str]] = {}
    gate = asyncio.Semaphore(16)
    async with TwilioClient(config) as client:

        async def one(phone: str) -> None:
            async with gate:
                sids: list[str] = []
                async for page in client.list_messages(to=phone, page_size=1000):
                    sids.extend(m.sid or "" for m in page if m.body == BODY)
                records[phone] = sids

        await asyncio.gather(*(one(p) for p in phones))
    return records


def assert_exactly_once(campaign_id: int, records: dict[str, list[str]]) -> None:
    rows = list(
        Message.select(Message.phone, Message.send_state, Message.sid)
        .where(Message.campaign == campaign_id)
        .tuples()
    )
    assert len(rows) == len(records)
    problems = []
    for phone, send_state, sid in rows:
        held = records[phone]
        if send_state == "submitted":
            if held != [sid]:
                problems.append((phone, send_state, sid, held))
        elif send_state != "refused" or held:
            problems.append((phone, send_state, sid, held))
    assert not problems, problems[:10]


def kill_and_resume(
    tmp_path: Path, sandbox: Sandbox, database: Path, count: int, rate: str
) -> tuple[int, int]:
    """Send ``count`` messages at ``rate``, SIGKILL the sender a third of the way, resume it,
    and check the sandbox's records; answers how many creates the resume linked and resent."""
    phones = [f"+1628{i:07d}" for i in range(count)]
    prepared = prepare_campaign(
        "End to end", BODY, [NewRecipient(p) for p in phones], sender=SENDER
    )
    campaign_id = prepared.campaign_id
    env = environment(tmp_path, database, sandbox.url)
    first, first_out = run_sender(tmp_path, env, campaign_id, "--rate", rate, name="first")
    second: subprocess.Popen[bytes] | None = None
    try:
        at_kill = kill_when_submitted(first, campaign_id, count // 3, first_out)
        # Killed mid-way: the rest is still to send, and the campaign says it was sending.
        assert at_kill.get("pending", 0) > 0
        campaign = get_campaign(campaign_id)
        assert campaign is not None and campaign.state == "sending"

        second, second_out = run_sender(tmp_path, env, campaign_id, "--resume", name="second")
        _, state, _, _, remaining, linked, resent = wait_for(second, second_out)
        assert (state, remaining) == ("sent", "0")
    finally:
        stop(first)
        if second is not None:
            stop(second)

    sandbox.set_faults(latency=0, drop_rate=0, lost_answer_rate=0, error_rate=0)
    records = asyncio.run(sandbox_records(sandbox.url, phones))
    assert_exactly_once(campaign_id, records)
    counts = send_state_counts(campaign_id)
    assert set(counts) <= {"submitted", "refused"}
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == "sent"
    assert campaign.submitted == counts["submitted"]
    assert sandbox.stats()["created"] == counts["submitted"]
    return int(linked), int(resent)


def test_a_sender_killed_mid_way_resumes_without_sending_twice(
    tmp_path: Path, sqlite_workspace: Path
) -> None:
    # Latency keeps creates in flight at the kill: some reach the provider after the sender
    # died, and only a lookup can tell.
    sandbox = Sandbox(tmp_path, "--latency", "0.02")
    try:
        linked, _ = kill_and_resume(tmp_path, sandbox, sqlite_workspace, 300, "150")
        # Creates in flight at the kill reached the provider: found, not sent again.
        assert linked >= 1
    finally:
        sandbox.close()


def test_dropped_connections_on_create_and_a_kill_never_send_twice(
    tmp_path: Path, sqlite_workspace: Path
) -> None:
    sandbox = Sandbox(
        tmp_path, "--latency", "0.01", "--drop-rate", "0.08", "--lost-answer-rate", "0.08"
    )
    try:
        kill_and_resume(tmp_path, sandbox, sqlite_workspace, 300, "200")
        stats = sandbox.stats()
        assert stats["lost_answers"] > 0 and stats["dropped"] > 0
    finally:
        sandbox.close()
