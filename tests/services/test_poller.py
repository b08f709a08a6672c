"""The poller against the in-process sandbox provider: what the store holds afterwards.

The sandbox runs on the test's clock (``clock``): moving it on lets the messages' timelines
pass, so no test waits for them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from notify_tui.domain.status import Reason
from notify_tui.provider import TwilioClient
from notify_tui.provider.sandbox import Faults, SandboxApp, outcome_for
from notify_tui.services.poller import Poller
from notify_tui.store.campaigns import create_campaign, get_campaign
from notify_tui.store.models import Message, utcnow
from notify_tui.store.sending import NewRecipient, add_recipients, count_submitted
from notify_tui.store.updates import StatusUpdate, apply_updates
from tests.invariants import assert_counters_hold
from tests.provider.support import FakeClock, accepted_numbers

SENDER = "+15005550006"

pytestmark = pytest.mark.usefixtures("workspace")


FINAL = 10.0
"""Seconds of the sandbox's time after which every message has reached its final status."""


def numbers(n: int, start: int = 0) -> list[str]:
    """Numbers whose sandbox outcome is not a refusal at create."""
    return accepted_numbers(n, start=start)


async def sent_campaign(client: TwilioClient, phones: list[str]) -> int:
    """A campaign whose messages were submitted to the sandbox and recorded as the sender does."""
    campaign_id = create_campaign("Poll me", "Hello", sender=SENDER)
    add_recipients(campaign_id, [NewRecipient(p) for p in phones])
    rows = list(Message.select(Message.id, Message.phone).where(Message.campaign == campaign_id))
    now = utcnow()
    updates = []
    for row in rows:
        answer = await client.create_message(row.phone, "Hello", from_=SENDER)
        Message.update(attempted_at=now).where(Message.id == row.id).execute()
        updates.append(
            StatusUpdate(
                row.id,
                answer.classify(),
                provider_status=answer.status,
                sid=answer.sid,
                send_state="submitted",
                next_poll_at=now,
            )
        )
    apply_updates(updates)
    count_submitted(campaign_id, len(updates))
    return campaign_id


async def settle(poller: Poller, campaign_id: int, cycles: int = 10) -> None:
    for _ in range(cycles):
        cycle = await poller.poll_once(campaign_id)
        if cycle.resolvable == 0:
            return
    raise AssertionError("the campaign did not settle")


async def test_fetches_few_and_resolves_each_as_the_provider_says(
    client: TwilioClient, sandbox: SandboxApp, clock: FakeClock
) -> None:
    phones = numbers(12)
    campaign_id = await sent_campaign(client, phones)
    clock.advance(FINAL)
    poller = Poller(client, clock=utcnow)
    await settle(poller, campaign_id)
    for message in Message.select().where(Message.campaign == campaign_id):
        outcome = outcome_for(message.phone)
        expected = {"delivered": "delivered", "sent": "unknown"}.get(outcome.final_status, "failed")
        assert message.status == expected, message.phone
        if expected == "failed":
            assert message.error_code == outcome.error_code
            assert message.reason is not None
        if expected == "delivered":
            assert message.price is not None and message.price < 0
    assert_counters_hold(campaign_id)
    stats = sandbox.stats()
    assert stats["list"] == 0 and stats["fetch"] >= 12
    summary = get_campaign(campaign_id)
    assert summary is not None and summary.last_checked_at is not None
    assert summary.cost > Decimal(0)


async def test_many_pending_are_listed_by_page_not_fetched(
    client: TwilioClient, sandbox: SandboxApp, clock: FakeClock
) -> None:
    phones = numbers(400)
    campaign_id = await sent_campaign(client, phones)
    clock.advance(FINAL)
    poller = Poller(client, fetch_threshold=50)
    cycle = await poller.poll_once(campaign_id)
    assert cycle.checked == 400
    never_final = sum(outcome_for(p).final_status == "sent" for p in phones)
    assert cycle.resolved == 400 - never_final
    stats = sandbox.stats()
    assert stats["fetch"] == 0
    assert 1 <= stats["list"] <= 2
    assert_counters_hold(campaign_id)


async def test_lost_messages_become_http_404(client: TwilioClient, sandbox: SandboxApp) -> None:
    sandbox.faults = Faults(lost_rate=1.0)
    campaign_id = await sent_campaign(client, numbers(3))
    sandbox.faults = Faults()
    poller = Poller(client)
    await poller.poll_once(campaign_id)
    reasons = {m.reason for m in Message.select().where(Message.campaign == campaign_id)}
    assert reasons == {Reason.HTTP_404.value}
    assert_counters_hold(campaign_id)


async def test_provider_trouble_is_reported_and_nothing_is_lost(
    client: TwilioClient, sandbox: SandboxApp, clock: FakeClock
) -> None:
    campaign_id = await sent_campaign(client, numbers(5))
    clock.advance(FINAL)
    sandbox.faults = Faults(error_rate=1.0)
    poller = Poller(client)
    cycle = await poller.poll_once(campaign_id)
    assert cycle.error is not None and cycle.resolved == 0
    pending = Message.select().where(
        (Message.campaign == campaign_id) & (Message.status == "unknown")
    )
    assert pending.count() == 5
    # Each waits before the next try instead of hammering a failing provider.
    assert all(m.next_poll_at >= utcnow() + timedelta(seconds=20) for m in pending)
    assert all(m.lease_owner is None for m in pending)
    sandbox.faults = Faults()
    later = utcnow() + timedelta(minutes=1)
    recovered = Poller(client, clock=lambda: later)
    cycle = await recovered.poll_once(campaign_id)
    assert cycle.error is None and cycle.checked == 5
    assert_counters_hold(campaign_id)


async def test_two_pollers_never_ask_twice_about_one_message(
    client: TwilioClient, sandbox: SandboxApp, clock: FakeClock
) -> None:
    campaign_id = await sent_campaign(client, numbers(40))
    clock.advance(FINAL)
    first, second = Poller(client, batch=25), Poller(client, batch=25)
    cycles = await asyncio.gather(first.poll_once(campaign_id), second.poll_once(campaign_id))
    assert sum(c.checked for c in cycles) == 40
    assert sandbox.stats()["fetch"] == 40


async def test_messages_stop_polling_after_the_window(
    client: TwilioClient, sandbox: SandboxApp
) -> None:
    campaign_id = await sent_campaign(client, numbers(2))
    Message.update(attempted_at=utcnow() - timedelta(hours=80)).where(
        Message.campaign == campaign_id
    ).execute()
    poller = Poller(client)
    cycle = await poller.poll_once(campaign_id)
    assert cycle.checked == 0 and cycle.pending == 0
    notes = {m.note for m in Message.select().where(Message.campaign == campaign_id)}
    assert notes == {"no delivery receipt from the carrier"}


async def test_run_hands_a_broken_cycle_over_and_goes_on(
    client: TwilioClient, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("notify_tui.services.poller.MAX_BACKOFF", 0.0)
    campaign_id = await sent_campaign(client, numbers(3))
    clock.advance(FINAL)
    poller = Poller(client)
    real = poller.poll_once
    broken = 3

    async def flaky(campaign: int | None = None) -> object:
        nonlocal broken
        if broken:
            broken -= 1
            raise RuntimeError("database is locked")
        return await real(campaign)

    monkeypatch.setattr(poller, "poll_once", flaky)
    errors: list[str] = []
    started: list[int] = []
    await asyncio.wait_for(
        poller.run(
            campaign_id,
            until_settled=True,
            on_error=lambda exc: errors.append(str(exc)),
            before_cycle=lambda: started.append(1),
            idle_sleep=0.05,
        ),
        timeout=60,
    )
    assert errors == ["database is locked"] * 3
    assert len(started) > 3
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.unknown == 0


async def test_run_without_on_error_stops_at_a_broken_cycle(
    client: TwilioClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    poller = Poller(client)

    async def broken(campaign: int | None = None) -> object:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(poller, "poll_once", broken)
    with pytest.raises(RuntimeError, match="locked"):
        await poller.run()


def test_backoff_doubles_up_to_its_ceiling() -> None:
    from notify_tui.services.poller import MAX_BACKOFF, backoff

    assert [backoff(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert backoff(30) == MAX_BACKOFF


@pytest.mark.parametrize("pending", [3, 80], ids=["fetched", "swept"])
async def test_cancelled_while_leasing_gives_the_leases_back(
    client: TwilioClient, monkeypatch: pytest.MonkeyPatch, pending: int
) -> None:
    """A signal can cancel a cycle while the store call that leases runs on its thread; the
    thread still commits, so the poller waits for it and gives back what it took (a stopped
    `poll` left 395 of 400 messages leased to a process that was gone)."""
    import threading

    from notify_tui.store import polling

    campaign_id = await sent_campaign(client, numbers(pending))
    started, go_on = threading.Event(), threading.Event()
    claim = polling.claim_due

    def slow_claim(*args: object, **kwargs: object) -> list[polling.PollTask]:
        started.set()
        go_on.wait(10)
        return claim(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(polling, "claim_due", slow_claim)
    poller = Poller(client, fetch_threshold=50)
    cycle = asyncio.ensure_future(poller.poll_once(campaign_id))
    await asyncio.to_thread(started.wait, 10)
    cycle.cancel()
    await asyncio.sleep(0)
    go_on.set()
    with pytest.raises(asyncio.CancelledError):
        await cycle
    assert Message.select().where(Message.lease_owner.is_null(False)).count() == 0
    # The sweep it took is given up too: another poller may read that sender's listing.
    assert polling.take_sweep("another poller", SENDER)
