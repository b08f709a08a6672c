"""The poller and the sender against a provider that fails in every way a provider fails.

For each fault: the work goes on when the provider recovers, the user is told once (one line
when the trouble starts, one when it ends, whatever the number of failed requests), nothing is
lost or sent twice, and every campaign's Delivered + Failed + Unknown equals its recipients and
its rows. Time runs on a ``Warp`` clock: a minute's outage takes well under a second.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest

from notify_tui.cli import main
from notify_tui.commands.poll import PollProgress
from notify_tui.commands.send import ProgressLine
from notify_tui.domain.status import Reason
from notify_tui.provider import SANDBOX_ACCOUNT_SID, ProviderConfig, TwilioClient
from notify_tui.provider.sandbox import SandboxApp, outcome_for
from notify_tui.services.poller import Poller
from notify_tui.services.sender import SendResult, prepare_campaign, send_campaign
from notify_tui.store.models import Campaign, Message, utcnow
from notify_tui.store.sending import NewRecipient

from .faults import FaultyTransport, Warp, faulty_client
from .support import SENDER, assert_all_consistent, phones

pytestmark = pytest.mark.usefixtures("sqlite_url")

BODY = "Provider trouble test"


class Provider:
    """The in-process sandbox on a warp clock, behind a faulty transport."""

    def __init__(self, seed: int, factor: float = 100.0, speed: float = 1.0) -> None:
        self.warp = Warp(factor)
        self.app = SandboxApp(seed=seed, clock=self.warp.time, speed=speed)
        self.transport = FaultyTransport(self.app, self.warp)
        self.client = faulty_client(self.transport, self.warp)


@pytest.fixture
async def provider(request: pytest.FixtureRequest) -> AsyncIterator[Provider]:
    seed = abs(hash(request.node.name)) % 10_000
    provider = Provider(seed)
    yield provider
    await provider.client.aclose()
    provider.app.close()


def expected_status(phone: str) -> str:
    final = outcome_for(phone).final_status
    return {"delivered": "delivered", "sent": "unknown"}.get(final, "failed")


async def send(provider: Provider, campaign_id: int, out: io.StringIO | None = None) -> SendResult:
    warp = provider.warp
    return await send_campaign(
        provider.client,
        campaign_id,
        clock=warp.monotonic,
        sleep=warp.sleep,
        wall=warp.utcnow,  # the sandbox's clock: the attempt windows are judged on it
        settle=2.0,
        on_progress=ProgressLine(out) if out is not None else None,
    )


async def poll(provider: Provider, campaign_id: int, out: io.StringIO) -> None:
    poller = Poller(provider.client, clock=provider.warp.utcnow, fetch_threshold=50)
    progress = PollProgress(out)
    job = poller.run(campaign_id, until_settled=True, on_cycle=progress, idle_sleep=0.05)
    await asyncio.wait_for(job, timeout=60)
    progress.close()


def prepared(count: int, start: int = 0) -> int:
    numbers = phones(count, start, prefix="+1312")
    return prepare_campaign(
        "Faults", BODY, [NewRecipient(p) for p in numbers], sender=SENDER
    ).campaign_id


async def provider_records(client: TwilioClient, numbers: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for phone in numbers:
        async for page in client.list_messages(to=phone, page_size=1000):
            counts[phone] += sum(1 for m in page if m.body == BODY)
    return counts


def trouble_lines(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if line.startswith(("provider trouble", "the provider is answering"))
    ]


POLL_FAULTS = [
    ("500", 20.0),
    ("503_html", 60.0),
    ("429", 60.0),
    ("drop", 20.0),
    ("refused", 60.0),
    ("timeout", 30.0),
    ("slow", 30.0),
    ("invalid_json", 20.0),
    ("truncated", 20.0),
    ("404_html", 30.0),
]


@pytest.mark.parametrize("count", [12, 120], ids=["fetch", "list"])
@pytest.mark.parametrize(("action", "seconds"), POLL_FAULTS, ids=[a for a, _ in POLL_FAULTS])
async def test_the_poller_rides_out_provider_trouble(
    provider: Provider, action: str, seconds: float, count: int
) -> None:
    campaign_id = prepared(count)
    result = await send(provider, campaign_id)
    assert result.state == "sent"
    await provider.warp.sleep(30)  # let the sandbox's messages reach their final status

    provider.transport.outage(action, seconds, kinds=("fetch", "list"))
    out = io.StringIO()
    await poll(provider, campaign_id, out)

    assert provider.transport.injected[action] > 0
    text = out.getvalue()
    lines = trouble_lines(text)
    if action != "slow":
        assert len(lines) == 2, text
        assert "will retry" in lines[0] and "answering again" in lines[1], text
    for phone, status, reason in Message.select(
        Message.phone, Message.status, Message.reason
    ).tuples():
        assert status == expected_status(phone), (phone, status, reason)
        assert reason != Reason.HTTP_404.value
    assert_all_consistent()


SEND_FAULTS = [
    ("500", 20.0),
    ("503_html", 60.0),
    ("429", 60.0),
    ("drop", 20.0),
    ("drop_after", 20.0),
    ("refused", 60.0),
    ("timeout", 30.0),
    ("slow", 30.0),
    ("invalid_json", 20.0),
    ("truncated", 20.0),
]


@pytest.mark.parametrize(("action", "seconds"), SEND_FAULTS, ids=[a for a, _ in SEND_FAULTS])
async def test_the_sender_rides_out_provider_trouble(
    provider: Provider, action: str, seconds: float
) -> None:
    campaign_id = prepared(40)
    numbers = [
        m.phone for m in Message.select(Message.phone).where(Message.campaign == campaign_id)
    ]
    # Trouble starts a few messages in, on every kind of request (lookups too).
    provider.transport.outage(action, seconds, after=5.0)
    out = io.StringIO()
    # About 1 message a (virtual) second: the outage covers a good part of the campaign.
    warp = provider.warp
    result = await send_campaign(
        provider.client,
        campaign_id,
        rate=1.0,
        clock=warp.monotonic,
        sleep=warp.sleep,
        wall=warp.utcnow,  # the sandbox's clock: the attempt windows are judged on it
        settle=2.0,
        on_progress=ProgressLine(out),
    )
    assert provider.transport.injected[action] > 0
    text = out.getvalue()
    assert result.state == "sent", text
    assert result.remaining == 0
    lines = trouble_lines(text)
    if action != "slow":
        assert len(lines) == 2, text
        assert "will retry" in lines[0] and "answering again" in lines[1], text
    records = await provider_records(provider.client, numbers)
    states = dict(Message.select(Message.phone, Message.send_state).tuples())
    for phone in numbers:
        expected = 1 if states[phone] == "submitted" else 0
        assert records[phone] == expected, (phone, states[phone], records[phone])
        assert states[phone] in ("submitted", "refused")
    assert_all_consistent()


async def test_a_404_from_the_provider_itself_marks_only_the_messages_it_names_lost(
    provider: Provider,
) -> None:
    campaign_id = prepared(12)
    await send(provider, campaign_id)
    await provider.warp.sleep(30)
    provider.transport.outage("404", 1.0, kinds=("fetch",))
    out = io.StringIO()
    await poll(provider, campaign_id, out)

    lost = provider.transport.injected["404"]
    reasons = Counter(reason for (reason,) in Message.select(Message.reason).tuples())
    assert 0 < reasons[Reason.HTTP_404.value] == lost
    assert trouble_lines(out.getvalue()) == []
    assert_all_consistent()


# -- the commands, on real time ------------------------------------------------------------


def settling_numbers(count: int) -> list[str]:
    """Numbers whose messages end Delivered or Failed (none waits for a receipt for ever)."""
    found = []
    i = 0
    while len(found) < count:
        phone = f"+1773{i:07d}"
        if outcome_for(phone).final_status in ("delivered", "undelivered", "failed"):
            found.append(phone)
        i += 1
    return found


@pytest.fixture
def cli_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    """The faulty provider on real time, as the provider of every command of the test."""
    provider = Provider(11, factor=1.0, speed=50.0)

    def build_client(settings: object) -> tuple[TwilioClient, None]:
        return faulty_client(provider.transport, provider.warp, backoff_base=0.2), None

    monkeypatch.setattr("notify_tui.services.runtime.build_client", build_client)
    yield provider
    provider.app.close()


def test_notify_tui_send_tells_once_and_carries_on_when_the_provider_comes_back(
    cli_provider: Provider, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    numbers = settling_numbers(20)
    campaign_id = prepare_campaign(
        "CLI", BODY, [NewRecipient(p) for p in numbers], sender=SENDER
    ).campaign_id
    # Down: nothing listens for two seconds, from the first create on.
    cli_provider.transport.outage("refused", 2.0, kinds=("create",))

    command = ["--database-url", sqlite_url, "send", "--resume", str(campaign_id), "--rate", "20"]
    assert main(command) == 0
    captured = capsys.readouterr()
    lines = trouble_lines(captured.out)
    assert len(lines) == 2, captured.out
    assert lines[0].startswith("provider trouble, will retry: POST ")
    assert "Connection refused" in lines[0]
    assert lines[1] == "the provider is answering again"
    assert f"Campaign {campaign_id}: 20 submitted" in captured.out
    assert captured.err == ""
    assert_all_consistent()


def test_notify_tui_poll_tells_once_and_resolves_everything_when_the_provider_comes_back(
    cli_provider: Provider,
    sqlite_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("notify_tui.services.poller.RETRY_AFTER_ERROR", timedelta(seconds=0.3))
    numbers = settling_numbers(30)
    campaign_id = prepare_campaign(
        "CLI", BODY, [NewRecipient(p) for p in numbers], sender=SENDER
    ).campaign_id
    command = ["--database-url", sqlite_url, "send", "--resume", str(campaign_id), "--rate", "0"]
    assert main(command) == 0
    time.sleep(0.5)  # every message final at the provider
    capsys.readouterr()
    # Longer than one fetch's retries can wait (4 backoffs from 0.2 s, full jitter: at most 3 s),
    # so that the first cycle certainly fails and the trouble is told.
    cli_provider.transport.outage("503_html", 4.0, kinds=("fetch", "list"))

    assert main(["--database-url", sqlite_url, "poll", "--until-settled", "--timeout", "30"]) == 0
    captured = capsys.readouterr()
    lines = trouble_lines(captured.out)
    assert len(lines) == 2, captured.out
    assert lines[0].startswith("provider trouble, will retry: GET ")
    assert "Service Unavailable (HTTP 503)" in lines[0]
    assert lines[1].startswith("the provider is answering again")
    assert captured.err == ""
    campaign = Campaign.get_by_id(campaign_id)
    assert campaign.unknown == 0 and campaign.delivered + campaign.failed == 30
    assert_all_consistent()


class TruncatingApp:
    """The sandbox behind a front end that cuts answers short while ``cut`` is above zero: it
    declares the whole length, sends half the body and hangs up (over real HTTP)."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.cut = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or self.cut <= 0:
            await self.app(scope, receive, send)
            return
        self.cut -= 1

        async def half(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                message = {**message, "body": body[: len(body) // 2]}
            await send(message)

        await self.app(scope, receive, half)


@pytest.mark.usefixtures("sqlite_url")
async def test_answers_cut_short_over_real_http_are_retried_and_nothing_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.provider.support import LiveServer

    monkeypatch.setattr("notify_tui.services.poller.RETRY_AFTER_ERROR", timedelta(seconds=0))
    app = SandboxApp(seed=3, speed=100.0)
    front = TruncatingApp(app)
    server = LiveServer(front)  # type: ignore[arg-type]
    await asyncio.to_thread(server.start)
    try:
        config = ProviderConfig(account_sid=SANDBOX_ACCOUNT_SID, base_url=server.base_url)
        async with TwilioClient(config, backoff_base=0.01, max_retries=1) as client:
            numbers = settling_numbers(8)
            campaign_id = prepare_campaign(
                "Cut", BODY, [NewRecipient(p) for p in numbers], sender=SENDER
            ).campaign_id
            assert (await send_campaign(client, campaign_id, settle=0.0)).state == "sent"
            await asyncio.sleep(0.3)
            front.cut = 16  # every fetch of the first cycle, and its one retry, is cut short
            Message.update(next_poll_at=utcnow()).execute()
            poller = Poller(client)
            first = await poller.poll_once(campaign_id)
            assert first.error is not None and "connection lost" in first.error
            assert first.resolved == 0
            assert_all_consistent()
            later = Poller(client, clock=lambda: utcnow() + timedelta(minutes=1))
            second = await later.poll_once(campaign_id)
            assert second.error is None and second.resolved == 8
    finally:
        await asyncio.to_thread(server.stop)
        app.close()
    campaign = Campaign.get_by_id(campaign_id)
    assert campaign.unknown == 0 and campaign.delivered + campaign.failed == 8
    assert_all_consistent()


def test_a_404_on_create_stops_the_send_with_one_line_and_a_resume_finishes_it(
    cli_provider: Provider, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 404 to a create means the account or the URL is wrong: no other create can work, so
    the run stops at once (it does not burn through the campaign) and says so in one line."""
    numbers = settling_numbers(10)
    campaign_id = prepare_campaign(
        "CLI", BODY, [NewRecipient(p) for p in numbers], sender=SENDER
    ).campaign_id
    cli_provider.transport.outage("404_html", 3600.0, kinds=("create",), after=0.0)
    command = ["--database-url", sqlite_url, "send", "--resume", str(campaign_id), "--rate", "0"]

    assert main(command) == 1
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert errors == [
        "notify-tui: error: the provider does not know this account or address (POST "
        f"/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Messages.json: Not Found (HTTP 404)): "
        "check TWILIO_ACCOUNT_SID and NOTIFY_PROVIDER_URL"
    ]
    assert Campaign.get_by_id(campaign_id).state == "interrupted"
    assert cli_provider.app.stats()["created"] == 0
    assert_all_consistent()

    cli_provider.transport.outages.clear()
    assert main(command) == 0
    assert f"Campaign {campaign_id}: 10 submitted" in capsys.readouterr().out
    assert cli_provider.app.stats()["created"] == 10
    assert_all_consistent()
