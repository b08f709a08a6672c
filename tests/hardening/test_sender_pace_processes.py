"""One pace per sender across processes: two senders in processes of their own, sharing one
workspace (SQLite or PostgreSQL), send two campaigns from one number at once; the sandbox's own
records (when it created each message, over real HTTP on loopback) show them no faster between
them than the number's rate."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.sender import prepare_campaign
from notify_tui.store.sending import NewRecipient
from tests.hardening.support import ROOT, SENDER, phones
from tests.provider.support import LiveServer

DRIVER = ROOT / "tests" / "services" / "send_driver.py"
RATE = 10.0
EACH = 25
START_AFTER = 4.0
"""Seconds for the two drivers to start up and open the workspace, before either sends."""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")


def _environment(tmp_path: Path, url: str, provider_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "TWILIO_"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            "NOTIFY_DATA_DIR": str(tmp_path / "data"),
            "NOTIFY_CONFIG": str(tmp_path / "config.toml"),
            "NOTIFY_DATABASE_URL": url,
            "NOTIFY_PROVIDER_URL": provider_url,
        }
    )
    return env


def _created(state: Path) -> dict[str, list[float]]:
    """When the sandbox created each message, by To, in seconds since the epoch: its records."""
    with sqlite3.connect(state) as db:
        rows = db.execute(
            'SELECT "to", created_us FROM messages WHERE from_ = ?', (SENDER,)
        ).fetchall()
    created: dict[str, list[float]] = {}
    for to, created_us in rows:
        created.setdefault(to, []).append(created_us / 1e6)
    return created


def test_two_processes_sending_from_one_number_share_its_rate(
    workspace_url: str, tmp_path: Path
) -> None:
    first_phones, second_phones = phones(EACH), phones(EACH, 1000)
    campaigns = [
        prepare_campaign(name, "Pace", [NewRecipient(p) for p in numbers], sender=SENDER)
        for name, numbers in (("First", first_phones), ("Second", second_phones))
    ]
    state = tmp_path / "sandbox-state.db"
    app = SandboxApp(state_path=state, seed=11)
    server = LiveServer(app)
    server.start()
    env = _environment(tmp_path, workspace_url, server.base_url)
    outputs = [tmp_path / f"send-{c.campaign_id}.out" for c in campaigns]
    started = time.time() + START_AFTER  # both start then, their imports done
    options = ["--rate", str(RATE), "--start-at", repr(started)]
    processes = []
    try:
        for prepared, out in zip(campaigns, outputs, strict=True):
            with out.open("wb") as handle:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, str(DRIVER), str(prepared.campaign_id), *options],
                        cwd=ROOT,
                        env=env,
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                    )
                )
        for process, out in zip(processes, outputs, strict=True):
            process.wait(timeout=120)
            assert process.returncode == 0, out.read_text()
            assert "result sent" in out.read_text(), out.read_text()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        server.stop()
        app.close()

    created = _created(state)
    submitted = [int(out.read_text().split("result ")[-1].split()[1]) for out in outputs]
    assert len(created) == sum(submitted) > EACH  # a few numbers are refused at create
    assert all(len(times) == 1 for times in created.values())
    first = sorted(t for p in first_phones for t in created.get(p, []))
    second = sorted(t for p in second_phones for t in created.get(p, []))
    # The two really sent at the same time...
    assert first[0] < second[-1] and second[0] < first[-1]
    # ...and by any moment since they started, no more than the number's rate allows (1 ms for
    # the resolution of SQLite's clock), where each alone would have gone at RATE.
    assert first[0] >= started and second[0] >= started
    together = sorted(first + second)
    late = [(k, at - started) for k, at in enumerate(together) if at < started + k / RATE - 0.001]
    assert not late, late[:5]
