"""The sandbox pushes status callbacks as Twilio does, to a receiver over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from notify_tui.provider import (
    SANDBOX_AUTH_TOKEN,
    TwilioClient,
    sandbox_client,
    signature_matches,
)
from notify_tui.provider.client import ProviderConfig
from notify_tui.provider.sandbox import Faults, SandboxApp

from .support import ACCOUNT, FROM, CallbackReceiver, FakeClock, LiveServer, Received, number_with

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "MG" + "ab" * 16
TWILIO_FIELDS = {
    "AccountSid",
    "ApiVersion",
    "From",
    "MessageSid",
    "MessageStatus",
    "SmsSid",
    "SmsStatus",
    "To",
}


@pytest.fixture
def receiver() -> Iterator[tuple[CallbackReceiver, str]]:
    """A receiver on a loopback port, and the callback URL to give (with a query string)."""
    app = CallbackReceiver()
    live = LiveServer(app)
    live.start()
    try:
        yield app, f"{live.base_url}/twilio/status?campaign=7&x=a%20b"
    finally:
        live.stop()


async def received(
    receiver: CallbackReceiver, count: int, *, sandbox: SandboxApp | None = None
) -> list[Received]:
    """Wait until ``count`` callbacks arrived (and, given a sandbox, it has counted their
    answers and has none left to send)."""
    for _ in range(1000):
        got = receiver.snapshot()
        settled = sandbox is None or (
            sandbox.stats()["callbacks_pending"] == 0
            and sandbox.stats()["callbacks_sent"] + sandbox.stats()["callbacks_failed"] >= count
        )
        if len(got) >= count and settled:
            return got
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(receiver.snapshot())} callbacks arrived, not {count}")


def statuses(got: list[Received], sid: str | None = None) -> list[str]:
    return [r.params["MessageStatus"] for r in got if sid is None or r.params["MessageSid"] == sid]


async def test_each_status_change_is_pushed_signed_with_twilios_fields(
    make_app: Callable[..., SandboxApp],
    clock: FakeClock,
    receiver: tuple[CallbackReceiver, str],
) -> None:
    inbox, url = receiver
    app = make_app()
    async with sandbox_client(app) as client:
        to = number_with("delivered")
        m = await client.create_message(to, "hi", from_=FROM, status_callback=url)
        first = await received(inbox, 1)
        assert statuses(first) == ["queued"]
        clock.advance(60)
        got = await received(inbox, 3, sandbox=app)
    assert sorted(statuses(got)) == ["delivered", "queued", "sent"]
    for callback in got:
        assert callback.url == url
        assert signature_matches(SANDBOX_AUTH_TOKEN, url, callback.pairs, callback.signature)
        params = callback.params
        assert set(params) >= TWILIO_FIELDS
        assert (params["MessageSid"], params["SmsSid"]) == (m.sid, m.sid)
        assert params["SmsStatus"] == params["MessageStatus"]
        assert (params["AccountSid"], params["From"], params["To"]) == (ACCOUNT, FROM, to)
        assert params["ApiVersion"] == "2010-04-01"
        assert "ErrorCode" not in params
    delivered = next(r for r in got if r.params["MessageStatus"] == "delivered")
    assert len(delivered.params["RawDlrDoneDate"]) == 10
    assert app.stats()["callbacks_sent"] == 3
    await app.aclose()


@pytest.mark.parametrize(
    ("final", "code", "expected"),
    [
        ("undelivered", 30003, ["queued", "sent", "undelivered"]),
        ("failed", 30001, ["failed", "queued"]),
        ("sent", None, ["queued", "sent"]),
    ],
)
async def test_failures_carry_their_error_code(
    final: str,
    code: int | None,
    expected: list[str],
    make_app: Callable[..., SandboxApp],
    clock: FakeClock,
    receiver: tuple[CallbackReceiver, str],
) -> None:
    inbox, url = receiver
    app = make_app()
    async with sandbox_client(app) as client:
        await client.create_message(number_with(final, code), "x", from_=FROM, status_callback=url)
        clock.advance(3600)
        got = await received(inbox, len(expected), sandbox=app)
    assert sorted(statuses(got)) == expected
    for callback in got:
        if callback.params["MessageStatus"] in ("failed", "undelivered"):
            assert callback.params["ErrorCode"] == str(code)
        else:
            assert "ErrorCode" not in callback.params
    await app.aclose()


async def test_no_status_callback_no_push(
    make_app: Callable[..., SandboxApp], clock: FakeClock
) -> None:
    app = make_app()
    async with sandbox_client(app) as client:
        await client.create_message(number_with("delivered"), "x", from_=FROM)
    clock.advance(3600)
    assert app.stats()["callbacks_pending"] == 0
    assert app.stats()["callbacks_sent"] == 0


async def test_a_cancelled_scheduled_message_pushes_canceled_and_nothing_else(
    make_app: Callable[..., SandboxApp],
    clock: FakeClock,
    receiver: tuple[CallbackReceiver, str],
) -> None:
    inbox, url = receiver
    app = make_app()
    when = datetime.fromtimestamp(clock.now, UTC) + timedelta(hours=1)
    async with sandbox_client(app) as client:
        m = await client.create_message(
            number_with("delivered"),
            "later",
            messaging_service_sid=SERVICE,
            status_callback=url,
            send_at=when,
        )
        assert m.sid is not None
        await client.cancel_message(m.sid)
        clock.advance(2 * 3600)  # past SendAt and past the whole timeline
        got = await received(inbox, 1, sandbox=app)
    assert statuses(got) == ["canceled"]
    assert got[0].params["MessagingServiceSid"] == SERVICE
    await app.aclose()


async def test_a_scheduled_message_pushes_from_its_send_time(
    make_app: Callable[..., SandboxApp],
    clock: FakeClock,
    receiver: tuple[CallbackReceiver, str],
) -> None:
    inbox, url = receiver
    inbox.clock = clock
    app = make_app()
    when = datetime.fromtimestamp(clock.now, UTC) + timedelta(hours=1)
    async with sandbox_client(app) as client:
        await client.create_message(
            number_with("delivered"),
            "later",
            messaging_service_sid=SERVICE,
            status_callback=url,
            send_at=when,
        )
        clock.advance(3000)
        assert app.stats()["callbacks_pending"] == 3
        clock.advance(3600)
        got = await received(inbox, 3, sandbox=app)
    assert sorted(statuses(got)) == ["delivered", "queued", "sent"]
    assert all(r.at is not None and r.at >= when.timestamp() for r in got)
    await app.aclose()


async def test_dropped_and_duplicated_callbacks(
    make_app: Callable[..., SandboxApp],
    clock: FakeClock,
    receiver: tuple[CallbackReceiver, str],
) -> None:
    inbox, url = receiver
    app = make_app(faults=Faults(callback_drop_rate=1.0))
    async with sandbox_client(app) as client:
        await client.create_message(number_with("delivered"), "x", from_=FROM, status_callback=url)
        app.faults = Faults(callback_duplicate_rate=1.0)
        m = await client.create_message(
            number_with("delivered", prefix="+1303555"), "x", from_=FROM, status_callback=url
        )
        clock.advance(3600)
        got = await received(inbox, 6, sandbox=app)
    assert sorted(statuses(got)) == ["delivered"] * 2 + ["queued"] * 2 + ["sent"] * 2
    assert {r.params["MessageSid"] for r in got} == {m.sid}
    stats = app.stats()
    assert (stats["callbacks_dropped"], stats["callbacks_duplicated"]) == (3, 3)
    await app.aclose()


async def test_reordered_callbacks_push_a_final_status_first(
    make_app: Callable[..., SandboxApp],
    clock: FakeClock,
    receiver: tuple[CallbackReceiver, str],
) -> None:
    inbox, url = receiver
    app = make_app(faults=Faults(callback_reorder_rate=1.0))
    async with sandbox_client(app) as client:
        await client.create_message(number_with("delivered"), "x", from_=FROM, status_callback=url)
        first = await received(inbox, 1)
        assert statuses(first) == ["delivered"]  # before queued and sent
        clock.advance(3600)
        got = await received(inbox, 3, sandbox=app)
    assert sorted(statuses(got)) == ["delivered", "queued", "sent"]
    await app.aclose()


async def test_delayed_callbacks_come_late(
    make_app: Callable[..., SandboxApp],
    clock: FakeClock,
    receiver: tuple[CallbackReceiver, str],
) -> None:
    inbox, url = receiver
    app = make_app(faults=Faults(callback_delay_rate=1.0, callback_delay=600), speed=2)
    async with sandbox_client(app) as client:
        await client.create_message(number_with("delivered"), "x", from_=FROM, status_callback=url)
        clock.advance(301)  # the longest delay is 600 s over a speed of 2
        got = await received(inbox, 3, sandbox=app)
    assert sorted(statuses(got)) == ["delivered", "queued", "sent"]
    assert app.stats()["callbacks_delayed"] == 3
    await app.aclose()


async def test_a_failing_receiver_is_counted_and_never_retried(
    make_app: Callable[..., SandboxApp],
    clock: FakeClock,
    receiver: tuple[CallbackReceiver, str],
) -> None:
    inbox, url = receiver
    inbox.answer = 500
    app = make_app()
    async with sandbox_client(app) as client:
        await client.create_message(number_with("delivered"), "x", from_=FROM, status_callback=url)
        clock.advance(3600)
        await received(inbox, 3, sandbox=app)
    assert len(inbox.snapshot()) == 3
    assert (app.stats()["callbacks_failed"], app.stats()["callbacks_sent"]) == (3, 0)
    await app.aclose()


async def test_a_receiver_that_is_not_there_costs_nothing_but_a_count(
    make_app: Callable[..., SandboxApp], clock: FakeClock
) -> None:
    app = make_app()
    dead = "http://127.0.0.1:9/status"  # the discard port: nobody listens
    async with sandbox_client(app) as client:
        m = await client.create_message(
            number_with("delivered"), "x", from_=FROM, status_callback=dead
        )
        clock.advance(3600)
        for _ in range(500):
            if app.stats()["callbacks_failed"] == 3:
                break
            await asyncio.sleep(0.01)
        assert m.sid is not None
        assert (await client.fetch_message(m.sid)).status == "delivered"
    assert app.stats()["callbacks_failed"] == 3
    await app.aclose()


async def test_over_real_http_at_the_sandboxs_speed(
    serve: Callable[[SandboxApp], LiveServer], receiver: tuple[CallbackReceiver, str]
) -> None:
    """The whole loop on one machine: a sandbox server on the real clock pushes to a receiver."""
    inbox, url = receiver
    app = SandboxApp(speed=100, auth_token="s3cret", seed=3)
    server = serve(app)
    config = ProviderConfig(account_sid=ACCOUNT, password="s3cret", base_url=server.base_url)
    numbers = [number_with("delivered"), number_with("undelivered", 30006)]
    async with TwilioClient(config) as client:
        sids = [
            (await client.create_message(n, "x", from_=FROM, status_callback=url)).sid
            for n in numbers
        ]
    got = await received(inbox, 6)
    assert sorted(statuses(got, sids[0])) == ["delivered", "queued", "sent"]
    assert sorted(statuses(got, sids[1])) == ["queued", "sent", "undelivered"]
    assert all(signature_matches("s3cret", url, r.pairs, r.signature) for r in got)
    assert not any(signature_matches(SANDBOX_AUTH_TOKEN, url, r.pairs, r.signature) for r in got)


def test_notify_tui_sandbox_pushes_with_its_flags(
    tmp_path: Path, receiver: tuple[CallbackReceiver, str]
) -> None:
    """``notify-tui sandbox`` as a real process: its --callback-* flags, its token, a clean stop."""
    inbox, url = receiver
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "TWILIO_"))}
    env.update({"NOTIFY_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)})
    env["NOTIFY_CONFIG"] = str(tmp_path / "config.toml")
    log = tmp_path / "sandbox.log"
    command = [sys.executable, "-c", "import sys; from notify_tui.cli import main; "]
    command[-1] += "sys.exit(main(sys.argv[1:]))"
    command += ["sandbox", "--port", str(port), "--speed", "50", "--auth-token", "tok"]
    command += ["--state", str(tmp_path / "state.db"), "--callback-duplicate-rate", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        base = f"http://127.0.0.1:{port}"
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
        with httpx.Client(base_url=base, auth=(ACCOUNT, "tok"), timeout=5) as http:
            for _ in range(200):
                assert process.poll() is None, log.read_text()
                try:
                    http.get(path).raise_for_status()
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            form = {"To": number_with("delivered"), "From": FROM, "Body": "x"}
            sid = http.post(path, data={**form, "StatusCallback": url}).json()["sid"]
        for _ in range(1000):
            if len(inbox.snapshot()) >= 6:
                break
            time.sleep(0.01)
        got = inbox.snapshot()
        assert sorted(statuses(got, sid)) == ["delivered"] * 2 + ["queued"] * 2 + ["sent"] * 2
        assert all(signature_matches("tok", url, r.pairs, r.signature) for r in got)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "Traceback" not in log.read_text(), log.read_text()


def test_an_in_process_sandbox_pushes_from_whichever_loop_uses_it(
    make_app: Callable[..., SandboxApp],
    clock: FakeClock,
    receiver: tuple[CallbackReceiver, str],
) -> None:
    """A loop that ends takes its dispatcher with it; the next loop's create starts another,
    which sends what the first left planned."""
    inbox, url = receiver
    app = make_app()
    first, second = number_with("delivered"), number_with("delivered", prefix="+1303555")

    async def create(to: str) -> str:
        async with sandbox_client(app) as client:
            m = await client.create_message(to, "x", from_=FROM, status_callback=url)
            assert m.sid is not None
            return m.sid

    one = asyncio.run(create(first))
    clock.advance(3600)

    async def then() -> list[Received]:
        two = await create(second)
        clock.advance(3600)
        got = await received(inbox, 5, sandbox=app)
        assert sorted(statuses(got, two)) == ["delivered", "queued", "sent"]
        await app.aclose()
        return got

    got = asyncio.run(then())
    assert {"delivered", "sent"} <= set(statuses(got, one))
