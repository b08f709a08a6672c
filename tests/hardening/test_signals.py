"""SIGTERM and SIGHUP (what ``kill``, systemd, Docker and a closed terminal send) stop ``send``,
``poll``, ``sandbox`` and the app exactly as SIGINT does: a message, leases given back, the
campaign interrupted and resumable, and ``notify-tui doctor`` finds nothing to repair.

Every process here is real: the sandbox over HTTP in its own process, the command (or the app,
on a pseudo-terminal) in another, and the signal sent to it mid-work.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from notify_tui.services.sender import prepare_campaign
from notify_tui.store.campaigns import get_campaign, set_state
from notify_tui.store.models import Message
from notify_tui.store.sending import NewRecipient, send_state_counts
from tests.services.test_send_e2e import Sandbox, stop

from .support import CLI, ROOT, SENDER, assert_all_consistent, phones, subprocess_env
from .test_kills import sent_campaign, start

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

STOPS = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    server = Sandbox(tmp_path, "--latency", "0.02")
    yield server
    server.close()


def wait_until(condition: object, process: subprocess.Popen[bytes], out: Path) -> None:
    deadline = time.monotonic() + 60
    while not condition():  # type: ignore[operator]
        assert process.poll() is None, out.read_text(errors="replace")
        assert time.monotonic() < deadline, out.read_text(errors="replace")
        time.sleep(0.02)


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "doctor"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def assert_nothing_to_repair(campaign_id: int, env: dict[str, str]) -> None:
    """What a clean stop leaves: the campaign interrupted, its lock free, counters right; the
    only thing doctor may say is to resume (creates in flight when it stopped are looked up)."""
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == "interrupted"
    assert_all_consistent()
    found = doctor(env)
    assert found.stderr == "" and "Traceback" not in found.stdout
    assert "doctor --repair" not in found.stdout, found.stdout
    if found.returncode:
        problems = [line for line in found.stdout.splitlines() if "PROBLEM" in line]
        assert problems and all(
            f"notify-tui send --resume {campaign_id}" in line for line in problems
        ), found.stdout


@pytest.mark.parametrize("stop_signal", STOPS, ids=lambda s: s.name)
def test_a_signal_mid_send_stops_it_cleanly_and_the_resume_sends_nothing_twice(
    tmp_path: Path, workspace_url: str, sandbox: Sandbox, stop_signal: signal.Signals
) -> None:
    campaign_id = prepare_campaign(
        "Stopped by a signal",
        "Signal test",
        [NewRecipient(p) for p in phones(300, prefix="+1630")],
        sender=SENDER,
    ).campaign_id
    env = subprocess_env(tmp_path, workspace_url, NOTIFY_PROVIDER_URL=sandbox.url)
    out = tmp_path / "send.out"
    sender = start([*CLI, "send", "--resume", str(campaign_id), "--rate", "100"], env, out)
    try:
        wait_until(lambda: send_state_counts(campaign_id).get("submitted", 0) >= 50, sender, out)
        sender.send_signal(stop_signal)
        assert sender.wait(timeout=60) == 130
    finally:
        stop(sender)
    said = out.read_text()
    assert "Traceback" not in said
    assert f"Resume with notify-tui send --resume {campaign_id}" in said
    by = "" if stop_signal is signal.SIGINT else f" ({stop_signal.name})"
    assert said.rstrip().endswith(f"notify-tui: interrupted{by}")
    counts = send_state_counts(campaign_id)
    assert 50 <= counts.get("submitted", 0) < 300 and counts.get("pending", 0) > 0
    assert_nothing_to_repair(campaign_id, env)

    resumed = subprocess.run(
        [*CLI, "send", "--resume", str(campaign_id), "--rate", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    counts = send_state_counts(campaign_id)
    assert counts.get("submitted", 0) + counts.get("refused", 0) == 300
    # Each message reached the provider once: every create the sandbox took is one message.
    assert sandbox.stats()["create"] == 300
    healthy = doctor(env)
    assert healthy.returncode == 0, healthy.stdout


@pytest.mark.parametrize("stop_signal", STOPS, ids=lambda s: s.name)
def test_a_signal_mid_poll_stops_it_and_gives_its_leases_back(
    tmp_path: Path, workspace_url: str, stop_signal: signal.Signals
) -> None:
    server = Sandbox(tmp_path, "--speed", "2000")
    try:
        campaign_id = sent_campaign(server, 400)
        server.set_faults(latency=0.05)
        env = subprocess_env(tmp_path, workspace_url, NOTIFY_PROVIDER_URL=server.url)
        out = tmp_path / "poll.out"
        poller = start([*CLI, "poll"], env, out)
        try:
            leased = Message.select().where(Message.lease_owner.is_null(False)).count
            wait_until(lambda: leased() > 0, poller, out)
            poller.send_signal(stop_signal)
            assert poller.wait(timeout=60) == 130
        finally:
            stop(poller)
    finally:
        server.close()
    said = out.read_text()
    assert "Traceback" not in said
    by = "" if stop_signal is signal.SIGINT else f" ({stop_signal.name})"
    assert said.rstrip().endswith(f"notify-tui: interrupted{by}")
    assert Message.select().where(Message.lease_owner.is_null(False)).count() == 0
    assert_all_consistent()
    found = doctor(env)
    assert found.returncode == 0, found.stdout
    assert get_campaign(campaign_id) is not None


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_stops_the_sandbox_server_with_a_line(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    server = Sandbox(tmp_path)
    try:
        assert server.stats()["create"] == 0
        server.process.send_signal(stop_signal)
        assert server.process.wait(timeout=30) == 130
    finally:
        server.close()
    said = (tmp_path / "sandbox.log").read_text()
    assert "Traceback" not in said
    assert said.rstrip().endswith(f"notify-tui: interrupted ({stop_signal.name})")


def read_until(controller: int, wanted: bytes, seen: bytearray, timeout: float = 60) -> None:
    """Read the terminal until ``wanted`` shows (or, for ``b"\\x00"``, for ``timeout``)."""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        if wanted == b"\x00" and time.monotonic() >= deadline:
            return
        assert time.monotonic() < deadline, f"{wanted!r} never shown"
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                seen.extend(os.read(controller, 65536))
            except OSError:
                return


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_stops_the_app_mid_send_as_a_confirmed_quit_does(
    tmp_path: Path, sqlite_url: str, sandbox: Sandbox, stop_signal: signal.Signals
) -> None:
    campaign_id = prepare_campaign(
        "Sent from the app",
        "Signal test",
        [NewRecipient(p) for p in phones(300, prefix="+1631")],
        sender=SENDER,
    ).campaign_id
    set_state(campaign_id, "interrupted")
    env = subprocess_env(
        tmp_path,
        sqlite_url,
        NOTIFY_PROVIDER_URL=sandbox.url,
        NOTIFY_SEND_RATE="100",
        TERM="xterm-256color",
        COLUMNS="100",
        LINES="30",
    )
    controller, terminal = pty.openpty()
    seen = bytearray()
    # Textual draws on stderr: the app's every output is the terminal's.
    app = subprocess.Popen(CLI, cwd=ROOT, env=env, stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    shown = tmp_path / "shown"
    try:
        read_until(controller, b"Sent from the app", seen)
        os.write(controller, b"R")
        read_until(controller, b"Send the rest", seen)
        os.write(controller, b"y")
        while send_state_counts(campaign_id).get("submitted", 0) < 30:
            assert app.poll() is None, seen.decode(errors="replace")
            read_until(controller, b"\x00", seen, timeout=0.1)
        app.send_signal(stop_signal)
        deadline = time.monotonic() + 60
        while app.poll() is None:  # keep reading, so the app never blocks on a full terminal
            assert time.monotonic() < deadline, seen.decode(errors="replace")
            ready, _, _ = select.select([controller], [], [], 0.2)
            if not ready:
                continue
            try:
                seen.extend(os.read(controller, 65536))
            except OSError:
                break
        assert app.wait(timeout=30) == 130
    finally:
        stop(app)
        os.close(controller)
    said = seen.decode(errors="replace")
    shown.write_text(said)
    assert "Traceback" not in said
    assert f"Campaign {campaign_id} stopped; nothing was sent twice" in said
    assert said.rstrip().endswith(f"notify-tui: interrupted ({stop_signal.name})")
    counts = send_state_counts(campaign_id)
    assert counts.get("submitted", 0) < 300
    assert_nothing_to_repair(campaign_id, env)
