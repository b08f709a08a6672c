"""Issue 12, item 9: two workspaces sending the same text to the same numbers from one account.

A create of unknown outcome (the sandbox answers 30% of requests 500, creating nothing) is looked
up; the other workspace's message to that number matches body, sender and number. It must never
be adopted: the recipient needs review instead, and nobody's message is claimed twice.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from notify_tui.provider import SANDBOX_ACCOUNT_SID, ProviderConfig, TwilioClient
from notify_tui.services.sender.lookup import CLOCK_SKEW
from tests.services.test_send_e2e import ROOT, Sandbox, environment

BODY = "Same text from two workspaces"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a sandbox process")


def send(
    tmp_path: Path, sandbox: Sandbox, name: str, contacts: Path
) -> subprocess.CompletedProcess[str]:
    env = environment(tmp_path / name, tmp_path / f"{name}.db", sandbox.url)
    command = [sys.executable, "-m", "notify_tui"]
    # Paced: each number's two creates are seconds apart, as two operators' runs would be.
    args = ["send", "--name", name, "--message", BODY, "--csv", str(contacts), "--rate", "10"]
    return subprocess.run(
        [*command, *args, "--yes"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def rows(database: Path) -> list[tuple[str, str, str | None, str | None]]:
    raw = sqlite3.connect(database)
    try:
        return list(raw.execute("SELECT phone, send_state, sid, note FROM message ORDER BY id"))
    finally:
        raw.close()


async def provider_records(url: str, phones: list[str]) -> dict[str, set[str]]:
    config = ProviderConfig(account_sid=SANDBOX_ACCOUNT_SID, base_url=url)
    records: dict[str, set[str]] = {}
    async with TwilioClient(config, max_retries=8) as client:
        for phone in phones:
            records[phone] = set()
            async for page in client.list_messages(to=phone, page_size=1000):
                records[phone] |= {m.sid or "" for m in page if m.body == BODY}
    return records


def test_a_workspace_never_adopts_another_workspaces_message(tmp_path: Path) -> None:
    phones = [f"+1628555{i:04d}" for i in range(50)]
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone\n" + "\n".join(phones) + "\n", encoding="utf-8")
    sandbox = Sandbox(tmp_path, "--error-rate", "0.3")
    try:
        first = send(tmp_path, sandbox, "a", contacts)
        # A's last creates (its resends) and B's first attempts must not fall within the clock
        # allowance of each other: that is the residual risk the README states (two senders,
        # same body, same number, within seconds), which no lookup can tell apart.
        time.sleep(CLOCK_SKEW.total_seconds() + 1)
        second = send(tmp_path, sandbox, "b", contacts)
        sandbox.set_faults(error_rate=0.0)
        records = asyncio.run(provider_records(sandbox.url, phones))
    finally:
        sandbox.close()
    a, b = rows(tmp_path / "a.db"), rows(tmp_path / "b.db")
    a_sids = {sid for _, _, sid, _ in a if sid}
    b_sids = {sid for _, _, sid, _ in b if sid}
    assert not a_sids & b_sids, "a message adopted by both workspaces"
    for phone, state, sid, _ in a + b:
        if state == "submitted":
            assert sid in records[phone], (phone, sid)
    # Every message the provider holds belongs to at most one recipient, and none is lost.
    held = a_sids | b_sids
    made = set().union(*records.values())
    assert held <= made
    review = [(phone, note) for phone, state, _, note in b if state == "needs_review"]
    assert review, second.stdout + second.stderr  # the 500s met A's messages: never adopted
    for phone, note in review:
        assert note and note.startswith("needs review:"), note
        # The other workspace's message is named as a candidate, for a person to judge.
        assert any(sid in note for sid in records[phone]), (phone, note)
    assert second.returncode == 1, second.stdout + second.stderr
    assert "need review: notify-tui review" in second.stderr
    assert "Traceback" not in first.stderr + second.stderr
