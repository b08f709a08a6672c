"""``notify-tui callbacks`` as a real process, stopped by SIGTERM in the middle of a burst of
signed callbacks posted over HTTP (on SQLite and PostgreSQL): every callback it answered 200 is
in the workspace, it exits cleanly (130, "interrupted", as every command stopped by a signal),
and the poller resolves what it never answered.

The campaign is sent by the sender to the in-process sandbox, every create asking for
callbacks; the sandbox drops all of its own (``callback_drop_rate=1``) and the test plays
Twilio, posting each message's final status as the sandbox decided it, signed as Twilio signs.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from notify_tui.provider import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, TwilioClient
from notify_tui.provider.sandbox import Faults, outcome_for
from notify_tui.provider.signature import SIGNATURE_HEADER, twilio_signature
from notify_tui.services.poller import Poller
from notify_tui.services.sender import send_campaign
from notify_tui.store.campaigns import create_campaign, get_campaign
from notify_tui.store.models import Message, utcnow
from notify_tui.store.sending import NewRecipient, add_recipients
from tests.invariants import assert_counters_hold
from tests.provider.support import FakeClock

from .support import CLI, ROOT, SENDER, subprocess_env

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="needs SIGTERM"),
    pytest.mark.usefixtures("workspace"),
]

MESSAGES = 1000
SIGNAL_AFTER = 100
"""Callbacks answered 200 before the receiver is told to stop."""
POSTERS = 16
GRACE = timedelta(seconds=120)
FINAL_STATUSES = ("delivered", "undelivered", "failed")


@pytest.fixture
def sandbox_options(clock: FakeClock) -> dict[str, Any]:
    # The sandbox never gets through: the test posts the callbacks itself.
    return {"clock": clock, "seed": 7, "faults": Faults(callback_drop_rate=1.0)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def receiver_process(
    tmp_path: Path, workspace_url: str
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """``notify-tui callbacks`` on a loopback port: (process, public URL, its output)."""
    port = _free_port()
    # A port and a query string, as Twilio signs them; the receiver is reached directly.
    public = f"http://127.0.0.1:{port}/twilio/status?team=7"
    out = tmp_path / "callbacks.out"
    env = subprocess_env(tmp_path, workspace_url)
    command = [*CLI, "callbacks", "--port", str(port), "--public-url", public]
    with out.open("wb") as handle:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "Receiving status callbacks" not in out.read_text(errors="replace"):
            assert process.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.02)
        yield process, public, out
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _form(sid: str, phone: str) -> dict[str, str]:
    outcome = outcome_for(phone)
    fields = {
        "AccountSid": SANDBOX_ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": SENDER,
        "MessageSid": sid,
        "MessageStatus": outcome.final_status,
        "SmsSid": sid,
        "SmsStatus": outcome.final_status,
        "To": phone,
    }
    if outcome.error_code is not None:
        fields["ErrorCode"] = str(outcome.error_code)
    return fields


async def _burst(
    process: subprocess.Popen[bytes], public: str, forms: list[dict[str, str]]
) -> set[str]:
    """Post ``forms`` from ``POSTERS`` connections; SIGTERM the receiver once ``SIGNAL_AFTER``
    are answered 200, and go on posting until it has exited. Answers the SIDs answered 200."""
    queue = list(reversed(forms))
    answered: set[str] = set()

    async def poster() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            while queue and process.poll() is None:
                fields = queue.pop()
                signature = twilio_signature(SANDBOX_AUTH_TOKEN, public, fields)
                try:
                    answer = await http.post(
                        public, data=fields, headers={SIGNATURE_HEADER: signature}
                    )
                except httpx.TransportError:
                    continue  # the receiver is going or gone: Twilio does not retry either
                if answer.status_code == 200:
                    answered.add(fields["MessageSid"])
                    if len(answered) == SIGNAL_AFTER:
                        process.send_signal(signal.SIGTERM)

    await asyncio.gather(*(poster() for _ in range(POSTERS)))
    return answered


async def test_a_receiver_stopped_mid_burst_keeps_every_callback_it_answered(
    receiver_process: tuple[subprocess.Popen[bytes], str, Path],
    client: TwilioClient,
    clock: FakeClock,
) -> None:
    process, public, out = receiver_process
    phones = []
    i = 0
    while len(phones) < MESSAGES:
        phone = f"+1628555{i:04d}"
        i += 1
        if outcome_for(phone).final_status in FINAL_STATUSES:
            phones.append(phone)
    campaign_id = create_campaign("Stopped mid-burst", "Hello", sender=SENDER)
    add_recipients(campaign_id, [NewRecipient(p) for p in phones])
    result = await send_campaign(
        client, campaign_id, rate=None, status_callback=public, callback_grace=GRACE.seconds
    )
    assert result.submitted == MESSAGES
    clock.advance(3600)  # at the sandbox, every message has its final status
    rows = Message.select(Message.sid, Message.phone).where(Message.campaign == campaign_id)
    forms = [_form(sid, phone) for sid, phone in rows.tuples()]

    answered = await _burst(process, public, forms)
    # A clean stop, as every command's on SIGTERM: the requests in flight answered, the writer
    # stopped, what it did said; then 130, "interrupted".
    assert process.wait(60) == 130, out.read_text()
    said = out.read_text(errors="replace")
    assert "Traceback" not in said, said
    assert "Application shutdown complete" in said, said
    assert said.rstrip().endswith("notify-tui: interrupted (SIGTERM)"), said
    received = re.search(r"callbacks: ([\d,]+) received", said)
    assert received is not None and int(received[1].replace(",", "")) >= len(answered), said
    assert SIGNAL_AFTER <= len(answered) < MESSAGES  # stopped mid-burst

    # Answered means written: each of them holds its final status, as pushed.
    final = dict(
        Message.select(Message.sid, Message.status)
        .where((Message.campaign == campaign_id) & Message.sid.in_(sorted(answered)))
        .tuples()
    )
    assert len(final) == len(answered)
    for fields in forms:
        if fields["MessageSid"] in answered:
            expected = "delivered" if fields["MessageStatus"] == "delivered" else "failed"
            assert final[fields["MessageSid"]] == expected, fields
    pushed = get_campaign(campaign_id).pushed
    assert pushed >= len(answered)  # (one written but not answered is possible: never the reverse)
    assert_counters_hold(campaign_id)

    # The poller fills the gap, once push has had its grace.
    later = [GRACE + timedelta(seconds=1)]
    poller = Poller(client, clock=lambda: utcnow() + later[0])
    for _ in range(40):
        cycle = await poller.poll_once(campaign_id)
        if cycle.resolvable == 0 and not poller.sweeping:
            break
        later[0] += timedelta(minutes=15)
    campaign = get_campaign(campaign_id)
    assert (campaign.unknown, campaign.delivered + campaign.failed) == (0, MESSAGES)
    assert campaign.pushed == pushed
    assert campaign.pulled == MESSAGES - pushed  # counted from each message's resolved_by
    assert campaign.statuses_by == "both"
    assert_counters_hold(campaign_id)
