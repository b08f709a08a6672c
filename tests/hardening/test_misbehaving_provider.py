"""``send``, ``send --resume``, ``poll`` and ``doctor``, each a real ``notify-tui`` process, against
a misbehaving provider over real HTTP on loopback (``tests.misbehaving``): foreign and repeated
SIDs, answers about other recipients and accounts, values outside the API, a page into another
account. No traceback, no wrong status, no opt-out from a foreign answer, counters that add up,
and ``doctor`` reports the faults.

The sandbox runs in this process on a clock the test moves ahead, so its messages reach their
final statuses when the test says, not after waiting.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from notify_tui.provider.sandbox import SandboxApp, outcome_for
from notify_tui.store.models import Contact, Message, OptOutEvent, ProviderFault, utcnow
from tests.misbehaving import Misbehaving, Served

from .support import assert_all_consistent

ROOT = Path(__file__).resolve().parents[2]
SENDER = "+15005550006"
BODY = "Misbehaving provider, end to end"

pytestmark = pytest.mark.usefixtures("workspace_url")


class Clock:
    """Wall time (the ``notify-tui`` processes look messages up around their own clocks), moved
    ahead when the test says: ``ahead`` seconds."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(clock: Clock) -> Iterator[tuple[Misbehaving, str]]:
    sandbox = SandboxApp(seed=21, clock=clock)
    app = Misbehaving(sandbox)
    with Served(app) as served:
        yield app, served.base_url
    sandbox.close()


def numbers(n: int) -> list[str]:
    found: list[str] = []
    i = 0
    while len(found) < n:
        phone = f"+1415556{i:04d}"
        if outcome_for(phone).final_status in ("delivered", "undelivered", "failed"):
            found.append(phone)
        i += 1
    return found


def notify(
    tmp_path: Path, database_url: str, provider_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "TWILIO_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        NOTIFY_DATA_DIR=str(tmp_path / "data"),
        NOTIFY_CONFIG=str(tmp_path / "config.toml"),
        NOTIFY_DATABASE_URL=database_url,
        NOTIFY_PROVIDER_URL=provider_url,
        NOTIFY_FROM=SENDER,
    )
    done = subprocess.run(
        [sys.executable, "-m", "notify_tui", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


def assert_no_opt_out_but_their_own() -> None:
    """Only a number whose own message failed for a landline (30006) may be opted out."""
    opted = [c.phone for c in Contact.select().where(Contact.opted_out)]
    assert all(outcome_for(p).error_code == 30006 for p in opted), opted
    assert OptOutEvent.select().count() == len(opted)


def due_now(count: int) -> None:
    """Make ``count`` messages due for a poll now (a few of them with few due: fetched one by
    one), the others a day from now."""
    ids = [m for (m,) in Message.select(Message.id).order_by(Message.id).tuples()]
    Message.update(next_poll_at=utcnow() + timedelta(days=1)).execute()
    Message.update(next_poll_at=utcnow() - timedelta(seconds=1)).where(
        Message.id.in_(ids[:count])
    ).execute()


def recorded() -> Counter[str]:
    return Counter(kind for (kind,) in ProviderFault.select(ProviderFault.kind).tuples())


def test_send_resume_poll_and_doctor_against_a_misbehaving_provider(
    tmp_path: Path,
    workspace_url: str,
    provider: tuple[Misbehaving, str],
    clock: Clock,
) -> None:
    app, url = provider
    phones = numbers(60)
    audience = tmp_path / "audience.csv"
    audience.write_text("phone\n" + "\n".join(phones) + "\n")

    # Sending: every 4th create repeats an earlier SID, every 5th comes back with garbage, every
    # 7th is about another number. The SID repeated is the one an answer twenty creates before
    # carried, so already recorded for its message (issue 12's case). Repeating the one just
    # before is covered in process (tests/services/test_answers.py): over HTTP with many creates
    # in flight, its answer may be read after the repeat, a race the README states.
    app.repeat_back = 20
    app.modes.update(repeat_sid=4, garbage_create=5, foreign_to=7)
    sent = notify(
        tmp_path,
        workspace_url,
        url,
        "send",
        "--name",
        "Misbehaving",
        "--message",
        BODY,
        "--csv",
        str(audience),
        "--rate",
        "0",
        "--yes",
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "provider answers rejected (not applied)" in sent.stderr
    assert "repeated sid" in sent.stderr and "value outside the API" in sent.stderr
    (campaign_id,) = {c for (c,) in Message.select(Message.campaign).distinct().tuples()}
    sids = [s for (s,) in Message.select(Message.sid).tuples()]
    assert len(sids) == 60 and len(set(sids)) == 60
    assert set(sids) == set(app.created_sids), "each row holds the SID its create really made"
    after_send = recorded()
    # Each repeated SID, and the answer that named it first when it was not written yet.
    assert app.done["repeat_sid"] <= after_send["repeated sid"] <= 2 * app.done["repeat_sid"]
    assert after_send["foreign to"] == app.done["foreign_to"]
    assert after_send["value outside the API"] >= app.done["garbage_create"]

    resumed = notify(tmp_path, workspace_url, url, "send", "--resume", str(campaign_id))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "nothing left to send" in resumed.stdout
    assert len(app.created_sids) == 60, "nothing was sent twice"

    # Polling: pages about other recipients, other senders, another account.
    app.modes.clear()
    app.modes.update(foreign_page=1)
    clock.ahead += 3600
    due_now(60)
    before = dict(Message.select(Message.id, Message.status).tuples())
    polled = notify(tmp_path, workspace_url, url, "poll", "--once", "--campaign", str(campaign_id))
    assert polled.returncode == 0, polled.stdout + polled.stderr
    assert "provider answers rejected (not applied)" in polled.stdout
    assert app.done["foreign_page"] >= 1
    after = dict(Message.select(Message.id, Message.status).tuples())
    assert after == before, "no foreign answer applied"
    assert list(after.values()).count("unknown") >= 50
    assert_no_opt_out_but_their_own()
    assert recorded()["foreign account"] >= 1 and recorded()["foreign sender"] >= 1

    # Fetches about other messages, and garbage.
    app.modes.clear()
    app.modes.update(foreign_fetch=2, garbage_fetch=3)
    due_now(20)
    before = sum(recorded().values())
    polled = notify(tmp_path, workspace_url, url, "poll", "--once", "--campaign", str(campaign_id))
    assert polled.returncode == 0, polled.stdout + polled.stderr
    fetch_faults = app.done["foreign_fetch"] + app.done["garbage_fetch"]
    assert fetch_faults >= 1
    assert sum(recorded().values()) >= before + fetch_faults
    for phone, status in Message.select(Message.phone, Message.status).tuples():
        if status != "unknown":
            final = outcome_for(phone).final_status
            assert status == ("delivered" if final == "delivered" else "failed"), phone
    assert Message.select().where(Message.error_code < 0).count() == 0
    assert_no_opt_out_but_their_own()

    assert_all_consistent()
    doctor = notify(tmp_path, workspace_url, url, "doctor")
    assert doctor.returncode == 1, doctor.stdout
    line = next(x for x in doctor.stdout.splitlines() if "provider answer" in x)
    assert "PROBLEM" in line and "never applied" in line
    assert "repeated sid" in line and "foreign to" in line
