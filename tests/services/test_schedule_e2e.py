"""Scheduled campaigns end to end over real HTTP: the sandbox served on loopback runs on the
test's clock, moved forward instead of waiting. A campaign scheduled at the provider (a
Messaging Service), stopped half-way and cancelled; a STOP while its messages wait; one that
waits in the store and is started when due, or cancelled before."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from notify_tui.domain.status import CampaignState, Reason, SendState, Status
from notify_tui.provider import SANDBOX_ACCOUNT_SID, TwilioClient
from notify_tui.provider.client import ProviderConfig
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.poller import Poller
from notify_tui.services.schedule import CancelError, DueCampaigns, cancel_campaign
from notify_tui.services.sender import plan_campaign, record_campaign, send_campaign
from notify_tui.store.campaigns import due_to_start, get_campaign
from notify_tui.store.models import Message
from notify_tui.store.optouts import SOURCE_PROVIDER, opt_out
from notify_tui.store.sending import NewRecipient, claim_for_submit, send_state_counts
from tests.invariants import assert_counters_hold
from tests.provider.support import FakeClock, accepted_numbers, served_sandbox

pytestmark = pytest.mark.usefixtures("workspace")

SERVICE = "MG" + "ab" * 16
SENDER = "+15005550006"


def phones(count: int) -> list[str]:
    return accepted_numbers(count, "+1312555")


@pytest.fixture
def provider(clock: FakeClock) -> Iterator[tuple[SandboxApp, str]]:
    with served_sandbox(clock, seed=5) as served:
        yield served


@pytest.fixture
async def client(provider: tuple[SandboxApp, str]) -> AsyncIterator[TwilioClient]:
    config = ProviderConfig(account_sid=SANDBOX_ACCOUNT_SID, base_url=provider[1])
    async with TwilioClient(config) as made:
        yield made


def wall(clock: FakeClock) -> datetime:
    """The test's clock as the store keeps time (naive UTC)."""
    return datetime.fromtimestamp(clock.now, UTC).replace(tzinfo=None)


def scheduled_campaign(
    clock: FakeClock, recipients: list[str], ahead: timedelta, service: str | None = SERVICE
) -> int:
    send_at = datetime.fromtimestamp(clock.now, UTC) + ahead
    plan = plan_campaign(
        "Tomorrow at ten",
        "Doors open at 10",
        [NewRecipient(p) for p in recipients],
        sender=None if service else SENDER,
        messaging_service_sid=service,
        send_at=send_at,
        timezone="Europe/Berlin",
        now=datetime.fromtimestamp(clock.now, UTC),
    )
    return record_campaign(plan).campaign_id


async def provider_statuses(base_url: str, sids: list[str]) -> dict[str, str]:
    path = f"{base_url}/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Messages"
    async with httpx.AsyncClient() as raw:
        return {sid: (await raw.get(f"{path}/{sid}.json")).json()["status"] for sid in sids}


async def test_a_scheduled_campaign_stopped_half_way_is_cancelled_at_the_provider_and_at_home(
    provider: tuple[SandboxApp, str], client: TwilioClient, clock: FakeClock
) -> None:
    sandbox, base_url = provider
    campaign_id = scheduled_campaign(clock, phones(20), timedelta(hours=2))
    steps = FakeClock(0.0)

    async def step(seconds: float) -> None:
        # The pace's wait, on the test's clocks; the sender is stopped after ten creates.
        steps.advance(seconds)
        if sandbox.stats().get("create", 0) >= 10:
            run.cancel()
        await asyncio.sleep(0)

    run = asyncio.ensure_future(
        send_campaign(
            client,
            campaign_id,
            rate=50,
            concurrency=1,
            clock=steps,
            sleep=step,
            pace_clock=clock,
            wall=lambda: wall(clock),
        )
    )
    with contextlib.suppress(asyncio.CancelledError):
        await run
    counts = send_state_counts(campaign_id)
    assert counts[SendState.SUBMITTED] == 10 and counts[SendState.PENDING] == 10
    held = list(Message.select().where(Message.sid.is_null(False)))
    assert {m.provider_status for m in held} == {"scheduled"}
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == CampaignState.INTERRUPTED

    result = await cancel_campaign(client, campaign_id)
    assert (result.canceled, result.never_sent, result.gone, result.failed) == (10, 10, 0, 0)
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == CampaignState.CANCELED
    assert (campaign.failed, campaign.unknown) == (20, 0)
    rows = list(Message.select().where(Message.campaign == campaign_id))
    assert {(m.status, m.reason) for m in rows} == {(Status.FAILED, Reason.CANCELED)}
    assert_counters_hold(campaign_id)
    statuses = await provider_statuses(base_url, [m.sid for m in held])
    assert set(statuses.values()) == {"canceled"}

    # Its time comes: nothing goes out, and nothing of it can be sent again.
    clock.advance(3 * 3600)
    assert set((await provider_statuses(base_url, [m.sid for m in held])).values()) == {"canceled"}
    assert sandbox.stats().get("create", 0) == 10
    with pytest.raises(Exception, match="was cancelled"):
        await send_campaign(client, campaign_id, wall=lambda: wall(clock))
    assert sandbox.stats().get("create", 0) == 10
    # Cancelling again (after a cancel cut short) finishes it, and harms nothing.
    again = await cancel_campaign(client, campaign_id)
    assert (again.canceled, again.never_sent, again.failed) == (0, 0, 0)
    with pytest.raises(CancelError, match="no campaign"):
        await cancel_campaign(client, campaign_id + 1000)


async def test_a_stop_during_a_scheduled_campaign_cancels_that_persons_message(
    provider: tuple[SandboxApp, str], client: TwilioClient, clock: FakeClock
) -> None:
    sandbox, base_url = provider
    recipients = phones(6)
    campaign_id = scheduled_campaign(clock, recipients, timedelta(hours=1))
    result = await send_campaign(client, campaign_id, rate=None, wall=lambda: wall(clock))
    assert result.state == CampaignState.SENT and result.submitted == 6
    # Nothing to poll before its time.
    assert all(m.next_poll_at > wall(clock) + timedelta(minutes=59) for m in Message.select())

    stopper = recipients[2]
    # What the sender records on a 21610, or the policy on a STOP: the one home of opt-outs.
    assert opt_out(stopper, source=SOURCE_PROVIDER, reason="replied STOP", actor="provider")
    poller = Poller(client, clock=lambda: wall(clock))
    await poller.poll_once()
    stopped = Message.get((Message.campaign == campaign_id) & (Message.phone == stopper))
    assert (stopped.status, stopped.reason, stopped.provider_status) == (
        Status.FAILED,
        Reason.CANCELED,
        "canceled",
    )
    assert (await provider_statuses(base_url, [stopped.sid]))[stopped.sid] == "canceled"
    assert sandbox.stats()["canceled"] == 1

    # The others go out at their time; the stopped one never does.
    clock.advance(2 * 3600)
    for _ in range(5):
        await Poller(client, clock=lambda: wall(clock)).poll_once(campaign_id)
    others = list(Message.select().where(Message.phone != stopper))
    assert all(m.provider_status not in ("scheduled", "canceled") for m in others)
    assert (await provider_statuses(base_url, [stopped.sid]))[stopped.sid] == "canceled"
    assert sandbox.stats()["canceled"] == 1
    assert_counters_hold(campaign_id)


async def test_without_a_messaging_service_it_waits_in_the_store_and_starts_when_due(
    provider: tuple[SandboxApp, str], client: TwilioClient, clock: FakeClock
) -> None:
    sandbox, _ = provider
    campaign_id = scheduled_campaign(clock, phones(5), timedelta(hours=3), service=None)
    result = await send_campaign(client, campaign_id, rate=None, wall=lambda: wall(clock))
    assert result.state == CampaignState.SCHEDULED and result.submitted == 0
    assert sandbox.stats().get("create", 0) == 0
    assert due_to_start(wall(clock)) == []
    clock.advance(3 * 3600)
    assert due_to_start(wall(clock)) == [campaign_id]

    results = []

    async def start(started: int) -> None:
        results.append(await send_campaign(client, started, rate=None, wall=lambda: wall(clock)))

    due = DueCampaigns(start, clock=lambda: wall(clock))
    assert await due.check() == [campaign_id]
    await due.wait()
    assert [r.state for r in results] == [CampaignState.SENT]
    assert sandbox.stats()["create"] == 5
    assert await due.check() == []


async def test_a_campaign_waiting_in_the_store_cancelled_never_starts(
    provider: tuple[SandboxApp, str], client: TwilioClient, clock: FakeClock
) -> None:
    sandbox, _ = provider
    campaign_id = scheduled_campaign(clock, phones(4), timedelta(minutes=10))
    # Ten minutes is too close for the provider: it waits in the store.
    result = await send_campaign(client, campaign_id, rate=None, wall=lambda: wall(clock))
    assert result.state == CampaignState.SCHEDULED
    cancelled = await cancel_campaign(client, campaign_id)
    assert (cancelled.never_sent, cancelled.canceled) == (4, 0)
    clock.advance(3600)
    assert due_to_start(wall(clock)) == []
    assert sandbox.stats().get("create", 0) == 0
    assert_counters_hold(campaign_id)


async def test_cancel_after_a_sender_died_mid_create_settles_its_creates_and_sends_nothing(
    provider: tuple[SandboxApp, str], client: TwilioClient, clock: FakeClock
) -> None:
    sandbox, base_url = provider
    made, lost, *rest = phones(4)
    campaign_id = scheduled_campaign(clock, [made, lost, *rest], timedelta(hours=2))
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.send_at is not None
    rows = {m.phone: m.id for m in Message.select()}
    # A dead sender's two creates of unknown outcome: one reached the provider, one did not.
    now = wall(clock)
    claim_for_submit(campaign_id, [rows[made], rows[lost]], now, now + timedelta(minutes=1))
    created = await client.create_message(
        made,
        campaign.body,
        messaging_service_sid=SERVICE,
        send_at=campaign.send_at.replace(tzinfo=UTC),
    )
    assert created.status == "scheduled"

    result = await cancel_campaign(client, campaign_id)
    assert (result.canceled, result.never_sent, result.needs_review) == (1, 3, 0)
    adopted = Message.get_by_id(rows[made])
    assert (adopted.sid, adopted.provider_status, adopted.reason) == (
        created.sid,
        "canceled",
        Reason.CANCELED,
    )
    assert (await provider_statuses(base_url, [created.sid]))[created.sid] == "canceled"
    assert sandbox.stats()["create"] == 1  # the cancel created nothing
    assert send_state_counts(campaign_id) == {SendState.SUBMITTED: 1, SendState.SKIPPED: 3}
    assert_counters_hold(campaign_id)
