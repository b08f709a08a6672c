"""Planning and sending campaigns against the in-process sandbox provider."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from notify_tui.config import load_settings
from notify_tui.domain.status import Reason
from notify_tui.provider import (
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AUTH_TOKEN,
    AuthenticationError,
    ProviderConfig,
    TwilioClient,
    sandbox_client,
)
from notify_tui.provider.client import SANDBOX_BASE_URL
from notify_tui.provider.sandbox import Faults, SandboxApp, outcome_for
from notify_tui.services.optout_policy import apply_to_updates
from notify_tui.services.sender import (
    SendError,
    SendProgress,
    plan_campaign,
    prepare_campaign,
    resume_campaign,
    send_campaign,
)
from notify_tui.store import optouts
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.models import Campaign, Contact, Message, OptOutEvent
from notify_tui.store.sending import NewRecipient, claim_for_submit, send_state_counts
from notify_tui.store.updates import AppliedUpdates
from tests.invariants import assert_counters_hold

SENDER = "+15005550006"
BODY = "Spring sale: 20% off today only"

STOP = "+15005550004"
INVALID_AT_PROVIDER = "+15005550001"
NO_PERMISSION = "+15005550003"
LANDLINE = "+15005550009"


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+1415{start + i:07d}" for i in range(count)]


def recipients(phones: list[str]) -> list[NewRecipient]:
    return [NewRecipient(p, f"Person {i}") for i, p in enumerate(phones)]


def prepare(phones: list[str], body: str = BODY, name: str = "Spring") -> int:
    return prepare_campaign(name, body, recipients(phones), sender=SENDER).campaign_id


def client_for(
    app: SandboxApp, transport: httpx.AsyncBaseTransport | None = None, **kw: Any
) -> TwilioClient:
    if transport is None:
        return sandbox_client(app, backoff_base=0.01, **kw)
    config = ProviderConfig(
        account_sid=SANDBOX_ACCOUNT_SID, password=SANDBOX_AUTH_TOKEN, base_url=SANDBOX_BASE_URL
    )
    return TwilioClient(config, transport, backoff_base=0.01, **kw)


async def provider_counts(client: TwilioClient, phones: list[str]) -> Counter[str]:
    """How many messages the sandbox holds for each number: its own records, listed by To."""
    counts: Counter[str] = Counter()
    for phone in phones:
        async for page in client.list_messages(to=phone, page_size=1000):
            counts[phone] += len(page)
    return counts


def states(campaign_id: int) -> dict[str, int]:
    return send_state_counts(campaign_id)


async def assert_each_sent_exactly_once(client: TwilioClient, campaign_id: int) -> None:
    rows = list(
        Message.select(Message.phone, Message.send_state, Message.sid)
        .where(Message.campaign == campaign_id)
        .tuples()
    )
    counts = await provider_counts(client, [phone for phone, _, _ in rows])
    for phone, send_state, sid in rows:
        expected = 1 if send_state == "submitted" else 0
        assert counts[phone] == expected, (phone, send_state)
        assert (sid is not None) == (send_state == "submitted")


# -- planning -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("sqlite_workspace")
def test_plan_counts_what_will_be_sent_skipped_and_what_it_costs() -> None:
    optouts.opt_out("+14155550002", source="manual", reason="asked", actor="me")
    audience = [
        NewRecipient("+14155550001", "Ann"),
        NewRecipient("+14155550002", "Bob (opted out)"),
        NewRecipient("(415) 555-0003", "Cy, national format"),
        NewRecipient("+14155550001", "Ann again"),
        NewRecipient("12", "Bad", invalid_reason="too short"),
        NewRecipient("nonsense", "Worse"),
    ]

    plan = plan_campaign(
        "Spring", "Olá 👋 " * 20, audience, sender=SENDER, price_per_segment=Decimal("0.01")
    )

    assert (plan.to_send, plan.skipped_opted_out, plan.invalid, plan.duplicates) == (2, 1, 2, 1)
    assert plan.encoding == "UCS-2"
    assert plan.segments == 3
    assert plan.estimated_cost == Decimal("0.06")
    assert plan.money_saved == Decimal("0.03")
    text = "\n".join(plan.summary_lines())
    assert "2 to send, 1 skipped (opted out), 2 invalid" in text
    assert "Estimated cost: ≈ $0.06 (6 segments at $0.0100)" in text
    assert [r.phone for r in plan.recipients][:3] == [
        "+14155550001",
        "+14155550002",
        "+14155550003",
    ]
    assert Campaign.select().count() == 0


@pytest.mark.usefixtures("sqlite_workspace")
@pytest.mark.parametrize(
    ("name", "body", "sender", "message"),
    [
        ("", "Hi", SENDER, "needs a name"),
        ("Spring", "  ", SENDER, "message is empty"),
        ("Spring", "x" * 1601, SENDER, "1,601 characters"),
        ("Spring", "Hi", None, "no sender"),
    ],
)
def test_plan_refuses_what_cannot_be_sent(
    name: str, body: str, sender: str | None, message: str
) -> None:
    with pytest.raises(SendError, match=message):
        plan_campaign(name, body, [NewRecipient("+14155550001")], sender=sender)


@pytest.mark.usefixtures("sqlite_workspace")
def test_prepare_records_every_recipient_before_anything_is_sent() -> None:
    prepared = prepare_campaign(
        "Spring",
        BODY,
        [NewRecipient("+14155550001", "Ann"), NewRecipient("oops", "Bad", "not a phone number")],
        sender=SENDER,
    )

    campaign = get_campaign(prepared.campaign_id)
    assert campaign is not None and campaign.state == "draft"
    assert (campaign.recipients, campaign.unknown, campaign.failed) == (2, 1, 1)
    assert states(prepared.campaign_id) == {"pending": 1, "invalid": 1}
    bad = Message.get(Message.phone == "oops")
    assert (bad.status, bad.reason, bad.sid, bad.price) == (
        "failed",
        Reason.INVALID_NUMBER.value,
        None,
        None,
    )


# -- sending ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("workspace")
async def test_send_submits_everyone_once_and_records_refusals_with_their_reason() -> None:
    phones = [*numbers(150), STOP, INVALID_AT_PROVIDER, NO_PERMISSION, LANDLINE]
    prepared = prepare_campaign(
        "Spring",
        BODY,
        [*recipients(phones), NewRecipient("bad", "", "not a phone number")],
        sender=SENDER,
    )
    campaign_id = prepared.campaign_id
    app = SandboxApp(seed=1)

    async with client_for(app) as client:
        result = await send_campaign(client, campaign_id)
        await assert_each_sent_exactly_once(client, campaign_id)

    assert result.state == "sent" and result.remaining == 0
    assert result.submitted + result.refused == result.total == len(phones)
    assert app.stats()["create"] == len(phones)
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == "sent"
    assert_counters_hold(campaign_id)

    reasons = dict(
        Message.select(Message.phone, Message.reason)
        .where(Message.send_state == "refused")
        .tuples()
    )
    assert reasons[STOP] == Reason.HTTP_400.value
    assert reasons[INVALID_AT_PROVIDER] == Reason.INVALID_NUMBER.value
    assert reasons[NO_PERMISSION] == Reason.HTTP_400.value
    assert reasons[LANDLINE] == Reason.LANDLINE.value
    stop = Message.get(Message.phone == STOP)
    assert stop.error_code == 21610 and stop.detail.startswith("21610 · ")
    # The provider's own words, without the request line the client adds to its errors.
    assert stop.error_message == "Attempt to send to unsubscribed recipient"

    contact = Contact.get(Contact.phone == STOP)
    assert contact.opted_out
    assert (contact.opt_out_source, contact.opt_out_reason) == ("provider", "replied STOP (21610)")
    event = OptOutEvent.get(OptOutEvent.phone == STOP)
    assert (event.source, event.code, event.campaign_id) == ("provider", 21610, campaign_id)
    # Other refusals are not the person's choice: no automatic opt-out here.
    assert not Contact.get(Contact.phone == NO_PERMISSION).opted_out

    submitted = Message.select().where(Message.send_state == "submitted")
    for message in submitted:
        assert message.sid.startswith("SM") and message.provider_status == "queued"
        assert message.next_poll_at is not None and message.attempted_at is not None
        assert message.num_segments == 1
    bad = Message.get(Message.phone == "bad")
    assert (bad.send_state, bad.reason) == ("invalid", Reason.INVALID_NUMBER.value)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_a_number_opted_out_after_preparing_is_not_sent() -> None:
    phones = numbers(20)
    campaign_id = prepare(phones)
    optouts.opt_out(phones[7], source="manual", reason="asked by phone", actor="ann")
    events: list[SendProgress] = []
    app = SandboxApp(seed=2)

    async with client_for(app) as client:
        result = await send_campaign(client, campaign_id, on_progress=events.append)
        counts = await provider_counts(client, phones)

    assert counts[phones[7]] == 0
    assert result.skipped_opted_out == 1 and result.total == 19
    assert events[-1].skipped_opted_out == 1
    campaign = get_campaign(campaign_id)
    assert campaign is not None
    assert (campaign.recipients, campaign.skipped_opted_out, campaign.state) == (19, 1, "sent")
    assert_counters_hold(campaign_id)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_lost_answers_are_found_by_lookup_not_resent() -> None:
    phones = numbers(120)
    campaign_id = prepare(phones)
    app = SandboxApp(seed=3, faults=Faults(lost_answer_rate=0.3))

    async with client_for(app) as client:
        result = await send_campaign(client, campaign_id, settle=0.0)
        app.faults = Faults()
        await assert_each_sent_exactly_once(client, campaign_id)

    stats = app.stats()
    assert stats["lost_answers"] > 10
    assert result.linked == stats["lost_answers"]
    assert result.resent == 0
    assert stats["create"] == len(phones)
    assert result.state == "sent"
    assert_counters_hold(campaign_id)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_dropped_creates_are_looked_up_then_sent_once() -> None:
    phones = numbers(120)
    campaign_id = prepare(phones)
    app = SandboxApp(seed=4, faults=Faults(drop_rate=0.2, lost_answer_rate=0.1))

    async with client_for(app) as client:
        result = await send_campaign(client, campaign_id, settle=0.0)
        app.faults = Faults()
        await assert_each_sent_exactly_once(client, campaign_id)

    assert result.state == "sent"
    assert result.resent > 5 and result.linked > 5
    assert_counters_hold(campaign_id)


class FlakyTransport(httpx.AsyncBaseTransport):
    """Wraps the sandbox's ASGI transport and fails some creates the way networks do."""

    def __init__(self, app: SandboxApp, plan: Callable[[str, int], str | None]) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.plan = plan
        self.attempts: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            to = dict(httpx.QueryParams(request.content.decode()))["To"]
            self.attempts[to] += 1
            action = self.plan(to, self.attempts[to])
            if action == "timeout-before-arrival":
                raise httpx.ReadTimeout("timed out", request=request)
            if action == "timeout-after-create":
                await self.inner.handle_async_request(request)
                raise httpx.ReadTimeout("timed out", request=request)
            if action == "refused-connection":
                raise httpx.ConnectError("connection refused", request=request)
            if action == "busy":
                return httpx.Response(
                    429,
                    json={"code": 20429, "message": "Too Many Requests", "status": 429},
                    headers={"Retry-After": "0.01"},
                )
        return await self.inner.handle_async_request(request)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_timeouts_and_refused_connections_never_send_twice() -> None:
    phones = numbers(60)
    campaign_id = prepare(phones)
    index = {p: i for i, p in enumerate(phones)}

    def plan(to: str, attempt: int) -> str | None:
        if attempt > 1:
            return None
        i = index[to]
        return {
            0: "timeout-after-create",
            1: "timeout-before-arrival",
            2: "refused-connection",
        }.get(i % 5)

    app = SandboxApp(seed=5)
    transport = FlakyTransport(app, plan)
    async with client_for(app, transport, max_retries=0) as client:
        result = await send_campaign(client, campaign_id, settle=0.0, retry_base=0.01)
        await assert_each_sent_exactly_once(client, campaign_id)

    refused_at_create = {p for p in phones if outcome_for(p).final_status == "refused"}
    lost_answers = {p for i, p in enumerate(phones) if i % 5 == 0} - refused_at_create
    never_arrived = {p for i, p in enumerate(phones) if i % 5 == 1} | (
        {p for i, p in enumerate(phones) if i % 5 == 0} & refused_at_create
    )
    assert result.state == "sent"
    assert app.stats()["created"] == result.submitted == len(phones) - len(refused_at_create)
    assert (result.linked, result.resent) == (len(lost_answers), len(never_arrived))
    assert_counters_hold(campaign_id)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_a_busy_provider_is_retried_later_and_a_stubborn_one_leaves_it_resumable() -> None:
    phones = numbers(30)
    campaign_id = prepare(phones)
    stubborn = phones[4]
    index = {p: i for i, p in enumerate(phones)}

    def plan(to: str, attempt: int) -> str | None:
        if to == stubborn:
            return "busy"
        return "busy" if attempt == 1 and index[to] % 3 == 0 else None

    app = SandboxApp(seed=6)
    transport = FlakyTransport(app, plan)
    async with client_for(app, transport, max_retries=0) as client:
        first = await send_campaign(client, campaign_id, retry_base=0.001)
        assert first.state == "interrupted" and first.remaining == 1
        assert states(campaign_id)["pending"] == 1
        campaign = get_campaign(campaign_id)
        assert campaign is not None and campaign.state == "interrupted"

        transport.plan = lambda to, attempt: None
        second = await resume_campaign(client, campaign_id)
        await assert_each_sent_exactly_once(client, campaign_id)

    assert second.state == "sent" and second.remaining == 0
    assert transport.attempts[stubborn] == 9  # eight refused in the first run, one in the resume
    assert_counters_hold(campaign_id)


class RecordingClient(TwilioClient):
    """A sandbox client that notes when each create starts."""

    def __init__(self, app: SandboxApp, clock: Callable[[], float]) -> None:
        config = ProviderConfig(
            account_sid=SANDBOX_ACCOUNT_SID, password=SANDBOX_AUTH_TOKEN, base_url=SANDBOX_BASE_URL
        )
        super().__init__(config, httpx.ASGITransport(app=app))
        self.clock = clock
        self.started: list[float] = []

    async def create_message(self, to: str, body: str, **kwargs: Any) -> Any:
        self.started.append(self.clock())
        return await super().create_message(to, body, **kwargs)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_creates_are_paced_at_the_configured_rate() -> None:
    campaign_id = prepare(numbers(20))
    now = [1000.0]

    async def fake_sleep(seconds: float) -> None:
        now[0] += max(seconds, 0.0)
        await asyncio.sleep(0)

    client = RecordingClient(SandboxApp(seed=7), lambda: now[0])
    async with client:
        result = await send_campaign(
            client,
            campaign_id,
            rate=10,
            concurrency=1,
            clock=lambda: now[0],
            sleep=fake_sleep,
            pace_clock=lambda: now[0],
        )

    assert result.state == "sent"
    gaps = [b - a for a, b in zip(client.started, client.started[1:], strict=False)]
    assert len(gaps) == 19
    assert all(gap == pytest.approx(0.1) for gap in gaps)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_progress_events_are_few_and_end_with_the_totals() -> None:
    campaign_id = prepare([*numbers(400), STOP])
    events: list[SendProgress] = []

    async with client_for(SandboxApp(seed=8, faults=Faults(latency=0.002))) as client:
        result = await send_campaign(client, campaign_id, rate=500, on_progress=events.append)

    assert events[0].submitted == 0 and events[0].total == 401
    last = events[-1]
    assert last.done and last.submitted + last.refused == last.total == 401
    assert last.refused >= 1 and last.remaining == 0
    assert len(events) <= result.elapsed / 0.25 + 4
    assert any(e.rate > 0 for e in events)
    assert [e.submitted for e in events] == sorted(e.submitted for e in events)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_cancelling_leaves_the_campaign_interrupted_and_resume_sends_the_rest_once() -> None:
    phones = numbers(600)
    campaign_id = prepare(phones)
    app = SandboxApp(seed=9, faults=Faults(latency=0.005))
    seen: list[SendProgress] = []

    async with client_for(app) as client:
        task = asyncio.create_task(
            send_campaign(client, campaign_id, rate=400, on_progress=seen.append)
        )
        for _ in range(500):
            await asyncio.sleep(0.01)
            if seen and seen[-1].submitted >= 100:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        campaign = get_campaign(campaign_id)
        assert campaign is not None and campaign.state == "interrupted"
        counts = states(campaign_id)
        assert counts.get("pending", 0) > 100
        # Only creates in flight when cancelled may have reached the provider.
        assert counts.get("attempting", 0) <= 16
        assert_counters_hold(campaign_id)

        app.faults = Faults()
        result = await resume_campaign(client, campaign_id, settle=0.0)
        await assert_each_sent_exactly_once(client, campaign_id)

    assert result.state == "sent"
    assert result.submitted + result.refused == len(phones)
    assert app.stats()["created"] == result.submitted
    assert_counters_hold(campaign_id)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_resume_links_creates_a_crash_left_attempting_and_resends_only_the_missing() -> None:
    phones = numbers(10)
    campaign_id = prepare(phones)
    ids = [m.id for m in Message.select(Message.id).order_by(Message.id)]
    # A crashed run: six creates marked attempting, three of them reached the provider.
    claim_for_submit(campaign_id, ids[:6])
    app = SandboxApp(seed=10)
    async with client_for(app) as client:
        for phone in phones[:3]:
            await client.create_message(phone, BODY, from_=SENDER)

        result = await resume_campaign(client, campaign_id, settle=0.0)
        await assert_each_sent_exactly_once(client, campaign_id)

    assert result.state == "sent"
    assert (result.linked, result.resent) == (3, 3)
    assert app.stats()["create"] == 10


@pytest.mark.usefixtures("sqlite_workspace")
async def test_a_lookup_never_links_a_message_another_campaign_owns() -> None:
    phone = "+14155550123"
    app = SandboxApp(seed=11)
    async with client_for(app) as client:
        first = prepare([phone], name="First")
        await send_campaign(client, first)
        first_sid = Message.get(Message.campaign == first).sid

        second = prepare([phone], name="Second")
        claim_for_submit(second, [Message.get(Message.campaign == second).id])
        result = await resume_campaign(client, second, settle=0.0)

    second_sid = Message.get(Message.campaign == second).sid
    assert result.resent == 1 and result.linked == 0
    assert second_sid is not None and second_sid != first_sid
    assert app.stats()["created"] == 2


@pytest.mark.usefixtures("workspace")
async def test_only_one_sender_works_a_campaign_at_a_time() -> None:
    campaign_id = prepare(numbers(50))
    async with client_for(SandboxApp(seed=12, faults=Faults(latency=0.002))) as client:
        outcomes = await asyncio.gather(
            send_campaign(client, campaign_id),
            send_campaign(client, campaign_id),
            return_exceptions=True,
        )
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(errors) == 1 and isinstance(errors[0], SendError)
        assert "another process" in str(errors[0])
        await assert_each_sent_exactly_once(client, campaign_id)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_wrong_credentials_stop_the_run_and_leave_it_resumable() -> None:
    campaign_id = prepare(numbers(30))
    app = SandboxApp(seed=13, auth_token="right")
    async with sandbox_client(app, auth_token="wrong") as client:
        with pytest.raises(AuthenticationError):
            await send_campaign(client, campaign_id)

    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == "interrupted"
    counts = states(campaign_id)
    assert counts.get("submitted", 0) == 0
    assert counts.get("pending", 0) + counts.get("attempting", 0) == 30
    assert app.stats()["created"] == 0


@pytest.mark.usefixtures("sqlite_workspace")
async def test_unknown_campaign_is_a_send_error() -> None:
    async with client_for(SandboxApp()) as client:
        with pytest.raises(SendError, match="no campaign 404"):
            await send_campaign(client, 404)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_resuming_a_sent_campaign_sends_nothing() -> None:
    campaign_id = prepare(numbers(5))
    app = SandboxApp(seed=14)
    async with client_for(app) as client:
        await send_campaign(client, campaign_id)
        again = await resume_campaign(client, campaign_id)
    assert again.state == "sent" and again.remaining == 0
    assert app.stats()["create"] == 5


@pytest.mark.usefixtures("sqlite_workspace")
async def test_refusals_reach_the_opt_out_policy_hook() -> None:
    campaign_id = prepare([*numbers(8), LANDLINE, STOP])
    policy = load_settings().policy
    seen: list[str] = []

    async def apply_policy(applied: AppliedUpdates) -> None:
        seen.extend(r.phone for r in applied.resolutions)
        await asyncio.to_thread(apply_to_updates, applied, policy)

    async with client_for(SandboxApp(seed=15)) as client:
        await send_campaign(client, campaign_id, on_applied=apply_policy)

    assert {LANDLINE, STOP} <= set(seen)
    landline = Contact.get(Contact.phone == LANDLINE)
    assert landline.opted_out and landline.opt_out_source == "policy"
    stop = Contact.get(Contact.phone == STOP)
    assert stop.opted_out and stop.opt_out_source == "provider"
