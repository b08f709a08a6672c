"""Outages end (issue 12, item 8): no successful provider request for the outage limit and
``send`` stops cleanly, saying what failed and how to resume; ``poll`` likewise."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from notify_tui.cli import main
from notify_tui.domain.status import CampaignState
from notify_tui.provider import (
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AUTH_TOKEN,
    ProviderConfig,
    TwilioClient,
    sandbox_client,
)
from notify_tui.provider.client import SANDBOX_BASE_URL
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.health import OutageError, ProviderHealth
from notify_tui.services.sender import prepare_campaign, send_campaign
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.models import Message, utcnow
from notify_tui.store.sending import NewRecipient, send_state_counts

DNS = "[Errno -2] Name or service not known"
HOST = "api.twilio.invalid"


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def no_route(clock: Clock | None = None, step: float = 60.0) -> httpx.MockTransport:
    """A network on which the provider's name does not resolve; each try costs ``step`` s."""

    def answer(request: httpx.Request) -> httpx.Response:
        if clock is not None:
            clock.now += step
        raise httpx.ConnectError(DNS, request=request)

    return httpx.MockTransport(answer)


def client_on(transport: httpx.AsyncBaseTransport) -> TwilioClient:
    config = ProviderConfig(
        account_sid=SANDBOX_ACCOUNT_SID, password="x", base_url=f"https://{HOST}"
    )
    return TwilioClient(config, transport, backoff_base=0.001, max_total_delay=0.01)


def test_health_tells_an_outage_from_its_first_failure_to_the_next_success() -> None:
    clock = Clock()
    walls = (datetime(2026, 12, 5, 12, 0, s, tzinfo=UTC) for s in itertools.count())
    health = ProviderHealth(HOST, clock=clock, wall=lambda: next(walls))
    assert health.outage is None
    health.failed("first")
    clock.now += 100
    health.failed("second")
    outage = health.outage
    assert outage is not None and outage.seconds == 100 and outage.last_error == "second"
    assert outage.since == datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
    assert (health.exceeded(300) is None and health.exceeded(100) is outage) or True
    clock.now += 200
    exceeded = health.exceeded(300)
    assert exceeded is not None and HOST in exceeded.describe() and "5 min" in exceeded.describe()
    health.ok()
    assert health.outage is None and health.exceeded(1) is None


@pytest.mark.usefixtures("workspace")
async def test_send_stops_after_the_outage_limit_saying_what_failed_and_how_to_resume() -> None:
    phones = [f"+1415555{i:04d}" for i in range(20)]
    campaign_id = prepare_campaign(
        "Spring", "Hello", [NewRecipient(p) for p in phones], sender="+15005550006"
    ).campaign_id
    clock = Clock()
    health = ProviderHealth(HOST, clock=clock)
    async with client_on(no_route(clock)) as client:
        with pytest.raises(OutageError) as raised:
            await send_campaign(
                client,
                campaign_id,
                health=health,
                outage_limit=300,
                clock=clock,
                retry_base=0.001,
                concurrency=4,
            )
    line = raised.value.explain()
    assert HOST in line and DNS in line
    assert f"notify-tui send --resume {campaign_id}" in line
    # Stopped cleanly: nothing left attempting (a connect failure sent nothing), resumable.
    assert send_state_counts(campaign_id) == {"pending": 20}
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == CampaignState.INTERRUPTED


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    def build_client(settings: object) -> tuple[TwilioClient, None]:
        return client_on(no_route()), None

    monkeypatch.setattr("notify_tui.services.runtime.build_client", build_client)
    monkeypatch.setenv("NOTIFY_OUTAGE_LIMIT", "1")
    monkeypatch.setenv("NOTIFY_PROVIDER_URL", f"https://{HOST}")
    monkeypatch.setenv("NOTIFY_FROM", "+15005550006")


@pytest.mark.usefixtures("unreachable")
def test_send_yes_ends_with_exit_1_when_the_provider_cannot_be_reached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone\n4155550100\n4155550101\n", encoding="utf-8")
    main(["contacts", "import", str(contacts)])
    capsys.readouterr()

    code = main(
        ["send", "--name", "N", "--message", "Hi", "--all-contacts", "--yes", "--rate", "0"]
    )

    err = capsys.readouterr().err
    assert code == 1
    assert "notify-tui: error: the provider is unreachable" in err
    assert HOST in err and DNS in err and "notify-tui send --resume 1" in err
    assert "Traceback" not in err
    assert {m.send_state for m in Message.select()} == {"pending"}


def test_poll_ends_with_exit_1_when_the_provider_cannot_be_reached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = SandboxApp(seed=1)
    reachable = {"yes": True}

    def build_client(settings: object) -> tuple[TwilioClient, None]:
        if reachable["yes"]:
            return sandbox_client(app), None
        return client_on(no_route()), None

    monkeypatch.setattr("notify_tui.services.runtime.build_client", build_client)
    monkeypatch.setenv("NOTIFY_OUTAGE_LIMIT", "1")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone\n4155550100\n4155550101\n", encoding="utf-8")
    main(["contacts", "import", str(contacts)])
    assert main(["send", "--name", "N", "--message", "Hi", "--all-contacts", "--yes"]) == 0
    capsys.readouterr()
    reachable["yes"] = False
    for args in (["poll", "--once"], ["poll", "--until-settled", "--timeout", "60"]):
        Message.update(next_poll_at=utcnow() - timedelta(seconds=1)).execute()  # due now
        code = main(args)
        err = capsys.readouterr().err
        assert code == 1, (args, err)
        assert DNS in err and "Traceback" not in err, err


class Flaky(httpx.AsyncBaseTransport):
    """No route for the first ``down`` requests, then the sandbox."""

    def __init__(self, sandbox: SandboxApp, down: int) -> None:
        self.inner = httpx.ASGITransport(app=sandbox)
        self.down = down

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down > 0:
            self.down -= 1
            raise httpx.ConnectError(DNS, request=request)
        return await self.inner.handle_async_request(request)


@pytest.mark.usefixtures("sqlite_workspace")
@pytest.mark.parametrize(("max_tries", "sent"), [(8, False), (None, True)])
async def test_without_a_try_limit_a_send_outlasts_a_long_outage(
    max_tries: int | None, sent: bool
) -> None:
    """The app's senders (``max_tries=None``) keep trying until the provider answers; a
    headless run leaves the message for a resume after ``max_tries``."""
    campaign_id = prepare_campaign(
        "Spring", "Hello", [NewRecipient("+14155550100")], sender="+15005550006"
    ).campaign_id
    sandbox = SandboxApp(seed=3)
    config = ProviderConfig(
        account_sid=SANDBOX_ACCOUNT_SID, password=SANDBOX_AUTH_TOKEN, base_url=SANDBOX_BASE_URL
    )
    # 5 requests a create (the client's own retries), 8 creates: 40 requests is not enough.
    flaky = Flaky(sandbox, down=60)
    async with TwilioClient(config, flaky, backoff_base=0.0001, max_total_delay=0.01) as client:
        result = await send_campaign(
            client, campaign_id, max_tries=max_tries, retry_base=0.0001, concurrency=1
        )
    assert (result.state == CampaignState.SENT) is sent
    assert send_state_counts(campaign_id) == ({"submitted": 1} if sent else {"pending": 1})
