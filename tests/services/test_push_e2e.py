"""Push end to end over real HTTP on loopback: a sandbox server pushes signed status callbacks to
the receiver (``services.callbacks`` served by uvicorn), which writes them to the workspace; the
campaign is sent by the sender with ``status_callback``. A receiver that dies mid-burst loses
nothing: the poller sweeps what push missed.

The sandbox runs on the test's clock (``clock``): moving it on makes every callback due."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

from notify_tui.provider import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, TwilioClient
from notify_tui.provider.client import ProviderConfig
from notify_tui.provider.sandbox import SandboxApp, outcome_for
from notify_tui.services.callbacks import CallbackReceiver
from notify_tui.services.poller import Poller
from notify_tui.services.sender import send_campaign
from notify_tui.store.campaigns import create_campaign, get_campaign
from notify_tui.store.models import Message, utcnow
from notify_tui.store.sending import NewRecipient, add_recipients
from tests.invariants import assert_counters_hold
from tests.provider.support import FakeClock, LiveServer, served_sandbox
from tests.services.test_poller import numbers

pytestmark = pytest.mark.usefixtures("workspace")

SENDER = "+15005550006"
GRACE = timedelta(seconds=120)


@pytest.fixture
def provider(clock: FakeClock) -> Iterator[tuple[SandboxApp, str]]:
    with served_sandbox(clock, seed=11) as served:
        yield served


class Receiver:
    """The callback receiver served on a loopback port; ``url`` is its public URL."""

    def __init__(self) -> None:
        self.app = CallbackReceiver(
            public_url="http://placeholder/twilio/status",
            auth_token=SANDBOX_AUTH_TOKEN,
            account_sid=SANDBOX_ACCOUNT_SID,
            grace=GRACE,
        )
        self.live = LiveServer(self.app)
        # A port and a query string, as Twilio signs them.
        self.url = f"{self.live.base_url}/twilio/status?team=7"
        self.app.public_url = self.url
        self.live.start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    served = Receiver()
    yield served
    served.live.stop()


async def sent(base_url: str, phones: list[str], callback: str) -> tuple[int, TwilioClient]:
    campaign_id = create_campaign("Pushed", "Hello", sender=SENDER)
    add_recipients(campaign_id, [NewRecipient(p) for p in phones])
    config = ProviderConfig(account_sid=SANDBOX_ACCOUNT_SID, base_url=base_url)
    client = TwilioClient(config)
    result = await send_campaign(
        client, campaign_id, rate=None, status_callback=callback, callback_grace=GRACE.seconds
    )
    assert result.submitted == len(phones)
    return campaign_id, client


async def until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3000):
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(what)


async def test_a_campaign_resolves_by_push_alone(
    provider: tuple[SandboxApp, str], receiver: Receiver, clock: FakeClock
) -> None:
    sandbox, base_url = provider
    phones = [p for p in numbers(40) if outcome_for(p).final_status != "sent"]
    campaign_id, client = await sent(base_url, phones, receiver.url)
    try:
        # Every create asked for callbacks: pollers leave the messages to them meanwhile.
        waiting = Message.select().where(Message.campaign == campaign_id)
        assert all(m.next_poll_at >= utcnow() + GRACE - timedelta(seconds=5) for m in waiting)
        clock.advance(3600)
        await until(lambda: get_campaign(campaign_id).unknown == 0, "push did not settle it")
    finally:
        await client.aclose()
    campaign = get_campaign(campaign_id)
    assert campaign.pushed == campaign.delivered + campaign.failed == len(phones)
    assert campaign.pulled == 0
    assert campaign.statuses_by == "push"
    assert_counters_hold(campaign_id)
    stats = sandbox.stats()
    assert stats.get("fetch", 0) == stats.get("list", 0) == 0  # no provider request to resolve
    assert receiver.app.stats["forged"] == 0


async def test_a_receiver_killed_mid_burst_loses_nothing_the_poller_fills_the_gap(
    provider: tuple[SandboxApp, str], receiver: Receiver, clock: FakeClock
) -> None:
    sandbox, base_url = provider
    phones = numbers(60)
    campaign_id, client = await sent(base_url, phones, receiver.url)
    try:
        clock.advance(3600)
        await until(lambda: get_campaign(campaign_id).pushed >= 10, "no callback arrived")
        receiver.live.stop()  # mid-burst: the sandbox's later callbacks find nobody
        await until(lambda: sandbox.stats()["callbacks_pending"] == 0, "callbacks still due")
        pushed = get_campaign(campaign_id).pushed
        # Past the grace, a poller sweeps whatever push has not settled.
        later = [GRACE + timedelta(seconds=1)]
        poller = Poller(client, clock=lambda: utcnow() + later[0])
        for _ in range(20):
            cycle = await poller.poll_once(campaign_id)
            if cycle.resolvable == 0:
                break
            later[0] += timedelta(minutes=15)  # each look's backoff passes
    finally:
        await client.aclose()
    campaign = get_campaign(campaign_id)
    # Everything the provider settled is settled here (a "sent" with no receipt stays Unknown).
    final = [p for p in phones if outcome_for(p).final_status != "sent"]
    assert campaign.delivered + campaign.failed == len(final)
    assert campaign.unknown == len(phones) - len(final)
    assert campaign.pushed == pushed
    assert campaign.pulled == len(final) - pushed
    assert campaign.statuses_by == ("both" if pushed < len(final) else "push")
    assert_counters_hold(campaign_id)
