"""One pace per sender: campaigns sending from one number share its rate; different senders
keep their own. Time is a fake clock that each sleep moves on (sleeps return at once), shared by
the runs, their sender's pace and the sandbox, whose own records say when each create arrived.
A sleep may move it while another run waits for the database, so creates can only come later
than their slot: the tests check that none came sooner. Across processes:
``tests/hardening/test_sender_pace_processes.py``."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterable
from datetime import UTC

import httpx
import pytest

from notify_tui.commands.send import ProgressLine
from notify_tui.provider import TwilioClient
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.sender import SendProgress, SendResult, prepare_campaign, send_campaign
from notify_tui.store.pacing import HORIZON, SlotClaim, claim_slots, hold_sender, sender_paces
from tests.provider.support import START, FakeClock
from tests.services.test_sender import client_for, numbers, recipients

SENDER = "+15005550006"
OTHER = "+15005550007"
SERVICE = "MG" + "a1" * 16
BODY = "Spring sale: 20% off today only"


class PaceClock(FakeClock):
    """The fake clock, with the sleep that moves it: to the sleeper's own end, never back."""

    async def sleep(self, seconds: float) -> None:
        self.advance(max(seconds, 0.0))
        await asyncio.sleep(0)


def campaign(phones: list[str], name: str, sender: str | None = SENDER, **kw: str) -> int:
    return prepare_campaign(name, BODY, recipients(phones), sender=sender, **kw).campaign_id


async def send_all(
    client: TwilioClient,
    clock: PaceClock,
    campaign_ids: Iterable[int],
    rate: float | None = 1,
    progress: dict[int, list[SendProgress]] | None = None,
) -> list[SendResult]:
    """Send the campaigns at once, on the fake clock."""
    progress = {} if progress is None else progress
    return await asyncio.gather(
        *(
            send_campaign(
                client,
                campaign_id,
                rate=rate,
                concurrency=2,
                clock=clock,
                sleep=clock.sleep,
                pace_clock=clock,
                on_progress=progress.setdefault(campaign_id, []).append,
                retry_base=0.001,
            )
            for campaign_id in campaign_ids
        )
    )


async def arrivals(
    client: TwilioClient, sender: str | None = None, to: str | None = None
) -> list[float]:
    """Seconds after START at which the sandbox created each message (from ``sender``), sorted:
    the sandbox's own records, listed through its API (whole seconds: test at 1 a second)."""
    times: list[float] = []
    async for page in client.list_messages(from_=sender, to=to, page_size=1000):
        for message in page:
            assert message.date_created is not None
            times.append(message.date_created.astimezone(UTC).timestamp() - START)
    return sorted(times)


def paced(times: list[float], rate: float) -> bool:
    """No faster than ``rate`` from the start: by any moment t, at most ``rate * t + 1``."""
    return all(at >= k / rate for k, at in enumerate(times))


@pytest.mark.usefixtures("workspace")
async def test_two_campaigns_from_one_number_send_one_message_a_second_between_them() -> None:
    clock = PaceClock()
    first = campaign(numbers(6), "First")
    second = campaign(numbers(6, 100), "Second")

    async with client_for(SandboxApp(seed=1, clock=clock)) as client:
        results = await send_all(client, clock, [first, second])
        times = await arrivals(client, SENDER)

    assert [r.state for r in results] == ["sent", "sent"]
    assert len(times) == 12
    assert paced(times, 1), times


@pytest.mark.usefixtures("workspace")
async def test_different_senders_each_keep_their_own_pace() -> None:
    clock = PaceClock()
    first = campaign(numbers(6), "First")
    second = campaign(numbers(6, 100), "Second", sender=OTHER)

    async with client_for(SandboxApp(seed=2, clock=clock)) as client:
        progress: dict[int, list[SendProgress]] = {}
        await send_all(client, clock, [first, second], progress=progress)
        mine, theirs = await arrivals(client, SENDER), await arrivals(client, OTHER)

    assert len(mine) == len(theirs) == 6
    assert paced(mine, 1) and paced(theirs, 1)
    assert not paced(sorted(mine + theirs), 1)  # side by side, not on one pace between them
    assert not any(e.sharing_with for events in progress.values() for e in events)


@pytest.mark.usefixtures("workspace")
async def test_campaigns_of_one_messaging_service_share_its_pace() -> None:
    clock = PaceClock()
    first = campaign(numbers(4), "First", sender=None, messaging_service_sid=SERVICE)
    second = campaign(numbers(4, 100), "Second", sender=None, messaging_service_sid=SERVICE)

    async with client_for(SandboxApp(seed=3, clock=clock)) as client:
        await send_all(client, clock, [first, second])
        times = await arrivals(client)  # the service picks the number: all there are

    assert len(times) == 8
    assert paced(times, 1), times


class TakingTurns(httpx.AsyncBaseTransport):
    """The sandbox, with the creates of two campaigns (by number) let through in turn, so that
    they send side by side however fast the fake clock runs for either."""

    def __init__(self, app: SandboxApp, groups: tuple[list[str], list[str]]) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.groups = groups
        self.left = [len(g) for g in groups]
        self.turn = 0
        self.changed = asyncio.Condition()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return await self.inner.handle_async_request(request)
        to = dict(httpx.QueryParams((await request.aread()).decode()))["To"]
        mine = 0 if to in self.groups[0] else 1
        async with self.changed:
            await self.changed.wait_for(lambda: self.turn == mine or not self.left[1 - mine])
        try:
            return await self.inner.handle_async_request(request)
        finally:
            async with self.changed:
                self.left[mine] -= 1
                self.turn = 1 - mine
                self.changed.notify_all()


@pytest.mark.usefixtures("workspace")
async def test_the_progress_of_each_says_which_campaign_shares_its_number() -> None:
    clock = PaceClock()
    first_phones, second_phones = numbers(5), numbers(5, 100)
    first = campaign(first_phones, "First")
    second = campaign(second_phones, "Second")
    transport = TakingTurns(SandboxApp(seed=4, clock=clock), (first_phones, second_phones))

    progress: dict[int, list[SendProgress]] = {}
    async with client_for(transport.inner.app, transport) as client:  # type: ignore[arg-type]
        await send_all(client, clock, [first, second], progress=progress)

    assert {e.sender for events in progress.values() for e in events} == {SENDER}
    assert second in {e.sharing_with for e in progress[first]}
    assert first in {e.sharing_with for e in progress[second]}
    assert progress[first][-1].sharing_with is progress[second][-1].sharing_with is None  # done

    # What `send` prints of them, the events of the second campaign as they came.
    out = io.StringIO()
    shown = ProgressLine(out)
    for event in progress[second]:
        shown(event)
    lines = out.getvalue().splitlines()
    said = f"waiting: {SENDER} is also sending campaign {first}"
    assert lines.count(said) == 1  # said once, when it starts
    assert "msg/s" in lines[-1] and "waiting" not in lines[-1]  # not once done


@pytest.mark.usefixtures("workspace")
async def test_a_campaign_alone_on_its_number_shares_it_with_nobody() -> None:
    clock = PaceClock()
    only = campaign(numbers(4), "Only")
    progress: dict[int, list[SendProgress]] = {}
    async with client_for(SandboxApp(seed=5, clock=clock)) as client:
        await send_all(client, clock, [only], progress=progress)
        times = await arrivals(client, SENDER)
    assert paced(times, 1)
    assert all(e.sharing_with is None and e.sender == SENDER for e in progress[only])


class BusyOnce(httpx.AsyncBaseTransport):
    """The sandbox, except that the first create to ``busy`` is answered 429, Retry-After 5."""

    def __init__(self, app: SandboxApp, busy: str, clock: FakeClock) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.busy = busy
        self.clock = clock
        self.refused_at: float | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and self.refused_at is None:
            form = dict(httpx.QueryParams((await request.aread()).decode()))
            if form.get("To") == self.busy:
                self.refused_at = self.clock() - START
                return httpx.Response(
                    429,
                    headers={"Retry-After": "5"},
                    json={"code": 20429, "message": "Too Many Requests", "status": 429},
                )
        return await self.inner.handle_async_request(request)


@pytest.mark.usefixtures("workspace")
async def test_a_429_holds_the_number_for_every_campaign_sending_from_it() -> None:
    clock = PaceClock()
    first_phones, second_phones = numbers(3), numbers(3, 100)
    first = campaign(first_phones, "First")
    second = campaign(second_phones, "Second")
    transport = BusyOnce(SandboxApp(seed=6, clock=clock), first_phones[0], clock)

    # The client's own retries stay on: the run must not leave the 429 to them.
    async with client_for(transport.inner.app, transport) as client:  # type: ignore[arg-type]
        sending = asyncio.ensure_future(send_all(client, clock, [first]))
        for _ in range(500):  # until the provider's 429 holds the number
            if sender_paces().get(SENDER, (0, 0))[1]:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the 429 did not hold the number")
        results = [*await send_all(client, clock, [second]), *await sending]
        by_number = {p: await arrivals(client, SENDER, to=p) for p in first_phones + second_phones}

    assert [r.state for r in results] == ["sent", "sent"]
    assert transport.refused_at is not None
    held_until = transport.refused_at + 5
    assert all(t >= held_until for p in second_phones for t in by_number[p]), by_number
    assert by_number[first_phones[0]][0] >= held_until  # the refused one, sent again after


# -- the store's slots, on both databases -----------------------------------------------------


@pytest.mark.usefixtures("workspace")
def test_claims_take_turns_on_one_sender_and_never_on_another() -> None:
    assert claim_slots(SENDER, 1, 1, 1.0, now=100.0).wait == 0
    second = claim_slots(SENDER, 2, 1, 1.0, now=100.0)
    assert (second.wait, second.behind) == (1.0, 1)
    third = claim_slots(SENDER, 1, 3, 0.5, now=100.5)
    assert (third.wait, third.behind) == (1.5, 2)  # after campaign 2's slot at 101
    assert claim_slots(OTHER, 3, 1, 1.0, now=100.5).wait == 0  # its own pace
    # Later, when every slot claimed has passed, the sender is free and nobody is ahead.
    later = claim_slots(SENDER, 2, 1, 1.0, now=200.0)
    assert (later.wait, later.behind) == (0, None)


@pytest.mark.usefixtures("workspace")
def test_a_hold_delays_every_claim_and_no_limit_waits_for_holds_only() -> None:
    claim_slots(SENDER, 1, 1, 1.0, now=100.0)
    hold_sender(SENDER, 1, 30.0, now=100.0)
    held = claim_slots(SENDER, 2, 1, 1.0, now=101.0)
    assert (held.wait, held.behind) == (29.0, 1)
    unpaced = claim_slots(SENDER, 3, 500, 0.0, now=101.0)
    assert (unpaced.wait, unpaced.behind) == (29.0, 2)  # the last to use it
    assert claim_slots(SENDER, 3, 500, 0.0, now=131.0).wait == 0
    assert claim_slots(OTHER, 3, 500, 0.0, now=101.0).wait == 0


@pytest.mark.usefixtures("workspace")
def test_claims_on_the_database_clock_are_spaced_too() -> None:
    first = claim_slots(SENDER, 1, 1, 5.0)
    second = claim_slots(SENDER, 2, 1, 5.0)
    assert first.wait == 0
    assert 4.0 < second.wait <= 5.0


@pytest.mark.usefixtures("workspace")
def test_turns_or_a_hold_far_ahead_are_stale_and_do_not_stop_the_sender() -> None:
    # Claimed on a clock an hour and more ahead (the system clock went back since, say).
    claim_slots(SENDER, 1, 1, 1.0, now=100.0 + 2 * HORIZON)
    hold_sender(OTHER, 1, 30.0, now=100.0 + 2 * HORIZON)
    assert claim_slots(SENDER, 2, 1, 1.0, now=100.0) == SlotClaim(0, None)
    assert claim_slots(OTHER, 2, 1, 1.0, now=100.0) == SlotClaim(0, None)
    assert claim_slots(OTHER, 2, 10, 0.0, now=100.0) == SlotClaim(0, None)
    # A hold of its own is honoured again from now on.
    hold_sender(OTHER, 1, 30.0, now=100.0)
    assert claim_slots(OTHER, 2, 10, 0.0, now=100.0) == SlotClaim(30.0, 1)
