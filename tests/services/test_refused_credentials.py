"""A create answered 401/403 created nothing (issue 12, item 12): the row is not left
``attempting``, and every command that meets one exits non-zero naming the setting to check."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from notify_tui.cli import main
from notify_tui.provider import (
    SANDBOX_ACCOUNT_SID,
    AuthenticationError,
    ProviderConfig,
    TwilioClient,
    sandbox_client,
)
from notify_tui.provider.sandbox import Faults, SandboxApp
from notify_tui.services.sender import prepare_campaign, send_campaign
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.models import Message, utcnow
from notify_tui.store.sending import NewRecipient, send_state_counts

SENDER = "+15005550006"
SECRET = "tok-wr0ng-S3cret"


def _prepare(count: int) -> int:
    phones = [f"+1415{i:07d}" for i in range(count)]
    return prepare_campaign(
        "Spring", "Hello", [NewRecipient(p) for p in phones], sender=SENDER
    ).campaign_id


def _refusing_provider(requests: list[httpx.Request], status: int = 401) -> httpx.MockTransport:
    """A provider that refuses the credentials; the first answer comes first, the others
    (already on their way) later."""

    async def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        await asyncio.sleep(0.02 if len(requests) == 1 else 0.1)
        body = {"code": 20003, "message": "Authenticate", "status": status}
        return httpx.Response(status, content=json.dumps(body).encode())

    return httpx.MockTransport(answer)


@pytest.mark.usefixtures("workspace")
async def test_creates_in_flight_when_a_401_arrives_are_not_left_attempting() -> None:
    campaign_id = _prepare(40)
    requests: list[httpx.Request] = []
    config = ProviderConfig(
        account_sid=SANDBOX_ACCOUNT_SID, password=SECRET, base_url="https://api.example.test"
    )
    async with TwilioClient(config, _refusing_provider(requests), backoff_base=0.01) as client:
        with pytest.raises(AuthenticationError):
            await send_campaign(client, campaign_id, concurrency=8)
    assert len(requests) > 1, "several creates were in flight"
    assert send_state_counts(campaign_id) == {"pending": 40}
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == "interrupted"


@pytest.mark.usefixtures("workspace")
async def test_a_401_leaves_every_message_pending_not_attempting() -> None:
    campaign_id = _prepare(40)
    # Creates overlap: answers to the other creates in flight arrive after the first 401.
    app = SandboxApp(seed=3, auth_token="right", faults=Faults(latency=0.01))
    async with sandbox_client(app, auth_token=SECRET) as client:
        with pytest.raises(AuthenticationError):
            await send_campaign(client, campaign_id, concurrency=16)
    assert send_state_counts(campaign_id) == {"pending": 40}
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == "interrupted"
    assert app.stats()["created"] == 0


def _forbidding_provider(requests: list[httpx.Request]) -> httpx.MockTransport:
    """A provider that answers every request 403 Forbidden (a suspended account, a key without
    the permission), without Twilio's code 20003."""

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        body = {"code": 20403, "message": "Forbidden", "status": 403}
        return httpx.Response(403, content=json.dumps(body).encode())

    return httpx.MockTransport(answer)


@pytest.mark.usefixtures("workspace")
async def test_a_403_is_not_a_refusal_of_each_message_but_stops_the_run() -> None:
    campaign_id = _prepare(10)
    requests: list[httpx.Request] = []
    config = ProviderConfig(
        account_sid=SANDBOX_ACCOUNT_SID, password=SECRET, base_url="https://api.example.test"
    )
    async with TwilioClient(config, _forbidding_provider(requests), backoff_base=0.01) as client:
        with pytest.raises(AuthenticationError) as raised:
            await send_campaign(client, campaign_id, concurrency=4)
    assert "TWILIO_AUTH_TOKEN" in raised.value.explain()
    assert SECRET not in raised.value.explain()
    # Not ten messages recorded as Failed "refused": nothing was created, all can be resumed.
    assert send_state_counts(campaign_id) == {"pending": 10}
    assert Message.select().where(Message.status == "failed").count() == 0
    assert 1 <= len(requests) <= 4


@pytest.fixture
def wrong_token(monkeypatch: pytest.MonkeyPatch) -> SandboxApp:
    app = SandboxApp(seed=1, auth_token="right")

    def build_client(settings: object) -> tuple[TwilioClient, None]:
        return sandbox_client(app, auth_token=SECRET), None

    monkeypatch.setattr("notify_tui.services.runtime.build_client", build_client)
    return app


def test_send_with_a_wrong_token_exits_1_naming_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wrong_token: SandboxApp
) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone\n4155550100\n4155550101\n", encoding="utf-8")
    main(["contacts", "import", str(contacts)])
    capsys.readouterr()

    code = main(["send", "--name", "N", "--message", "Hi", "--all-contacts", "--yes"])

    err = capsys.readouterr().err
    assert code == 1
    assert "TWILIO_AUTH_TOKEN" in err and SECRET not in err
    assert "Traceback" not in err
    assert {m.send_state for m in Message.select()} == {"pending"}


def test_poll_exits_1_when_every_answer_is_401(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A campaign sent with the right token...
    app = SandboxApp(seed=1, auth_token="right")
    token = {"value": "right"}

    def build_client(settings: object) -> tuple[TwilioClient, None]:
        return sandbox_client(app, auth_token=token["value"]), None

    monkeypatch.setattr("notify_tui.services.runtime.build_client", build_client)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone\n4155550100\n4155550101\n", encoding="utf-8")
    main(["contacts", "import", str(contacts)])
    assert main(["send", "--name", "N", "--message", "Hi", "--all-contacts", "--yes"]) == 0
    capsys.readouterr()
    assert Message.select().where(Message.status == "unknown").count() == 2
    # ...then polled with a revoked one.
    token["value"] = SECRET
    for args in (["poll", "--once"], ["poll", "--until-settled", "--timeout", "30"]):
        Message.update(next_poll_at=utcnow() - timedelta(seconds=1)).execute()  # due now
        code = main(args)
        err = capsys.readouterr().err
        assert code == 1, args
        assert "TWILIO_AUTH_TOKEN" in err and SECRET not in err
        assert "Traceback" not in err
