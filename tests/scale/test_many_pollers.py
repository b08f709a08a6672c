"""Three ``notify-tui poll`` processes share one workspace, one of them killed mid-way.

The provider is ``notify-tui sandbox`` over loopback, holding thousands of messages that are
final; the workspace holds them Unknown and due. Every message must end exactly as the sandbox
says, the counters must equal the rows, and the provider must have been asked about as often
as one poller alone would have asked it (pages are read by one poller at a time; a killed
poller's leases expire and another carries its work on).

PostgreSQL is how several pollers are meant to share a workspace; on SQLite they take turns on
the single writer lock (``BEGIN IMMEDIATE`` with a busy timeout), and none of them may report a
locked database.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from peewee import fn

from benchmarks.pending import build_pending
from notify_tui.provider import SANDBOX_ACCOUNT_SID
from notify_tui.provider.sandbox import outcome_for
from notify_tui.store.db import open_workspace
from notify_tui.store.models import Campaign, Message, SchemaInfo, database
from tests.services.test_send_e2e import Sandbox

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 6000
LEASE = 3.0
PAGE_LATENCY = 0.4
"""Seconds the sandbox takes per request: a sweep lasts a few seconds, long enough to kill."""


def poller_environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "TWILIO_"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            "NOTIFY_DATA_DIR": str(tmp_path / "data"),
            "NOTIFY_CONFIG": str(tmp_path / "config.toml"),
            "TWILIO_ACCOUNT_SID": SANDBOX_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": "not-checked-by-this-sandbox",
        }
    )
    return env


def start_poller(
    tmp_path: Path, url: str, provider_url: str, name: str
) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp_path / f"{name}.out"
    command = [
        sys.executable,
        "-m",
        "notify_tui",
        "--database-url",
        url,
        "--provider-url",
        provider_url,
        "poll",
        "--until-settled",
        "--timeout",
        "90",
        "--lease",
        str(LEASE),
    ]
    with out.open("wb") as handle:
        process = subprocess.Popen(
            command, cwd=ROOT, env=poller_environment(tmp_path), stdout=handle, stderr=handle
        )
    return process, out


def sweeper_pid() -> int | None:
    """The process reading the provider's pages now, from its sweep lease."""
    import json

    row = SchemaInfo.select(SchemaInfo.value).where(SchemaInfo.key.startswith("poll-sweep:"))
    for (value,) in row.tuples():
        with contextlib.suppress(ValueError, KeyError, IndexError):
            return int(json.loads(value)["owner"].split(":")[1])
    return None


def resolved_count(campaign_id: int) -> int:
    return int(
        Message.select()
        .where((Message.campaign == campaign_id) & (Message.status != "unknown"))
        .count()
    )


def test_three_pollers_one_killed_resolve_everything_once(
    tmp_path: Path, database_url: str
) -> None:
    db = open_workspace(database_url, tmp_path / "unused.db")
    campaign_id, phones = build_pending(db, tmp_path / "sandbox-state.db", MESSAGES)
    sandbox = Sandbox(tmp_path)
    processes: list[subprocess.Popen[bytes]] = []
    outputs: list[Path] = []
    try:
        sandbox.set_faults(latency=PAGE_LATENCY)
        for index in range(3):
            process, out = start_poller(tmp_path, database_url, sandbox.url, f"poller-{index}")
            processes.append(process)
            outputs.append(out)

        # Kill whichever poller is reading the pages, once it has answered for some of them.
        deadline = time.monotonic() + 60
        victim: subprocess.Popen[bytes] | None = None
        while victim is None:
            assert time.monotonic() < deadline, "no poller started sweeping within 60 s"
            database.close()  # a fresh snapshot each time (PostgreSQL keeps no transaction)
            pid = sweeper_pid()
            if pid is not None and resolved_count(campaign_id) >= 1000:
                victim = next((p for p in processes if p.pid == pid), None)
            time.sleep(0.05)
        assert resolved_count(campaign_id) < MESSAGES, "the sweep ended before the kill"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)

        for process in processes:
            if process is not victim:
                assert process.wait(timeout=120) == 0
        stats = sandbox.stats()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        sandbox.close()

    texts = [out.read_text(errors="replace") for out in outputs]
    for text in texts:
        assert "Traceback" not in text, text
        assert "database is locked" not in text, text

    # Every message as the sandbox says, answered once, no lease left behind.
    database.close()
    rows = list(
        Message.select(Message.phone, Message.status, Message.error_code, Message.lease_owner)
        .where(Message.campaign == campaign_id)
        .tuples()
    )
    assert len(rows) == MESSAGES
    for phone, status, code, lease_owner in rows:
        outcome = outcome_for(phone)
        if outcome.final_status == "delivered":
            assert (status, code) == ("delivered", None), phone
        else:
            assert (status, code) == ("failed", outcome.error_code), phone
        assert lease_owner is None
    counts = dict(
        Message.select(Message.status, fn.COUNT(Message.id))
        .where(Message.campaign == campaign_id)
        .group_by(Message.status)
        .tuples()
    )
    campaign = Campaign.get_by_id(campaign_id)
    assert (campaign.delivered, campaign.failed, campaign.unknown) == (
        counts.get("delivered", 0),
        counts.get("failed", 0),
        0,
    )
    assert campaign.delivered + campaign.failed == MESSAGES == len(phones)

    # One poller alone reads each page of the listing once. The one that took over after the
    # kill reads the killed one's pages again (all answered by then): at worst twice as many,
    # never three pollers' worth.
    pages = math.ceil(MESSAGES / 1000)
    requests = stats["list"] + stats["fetch"]
    assert stats["fetch"] == 0
    assert pages <= requests <= 2 * pages + 2, stats
    db.close()
    database.initialize(None)
