"""Every provider answer is checked against its question (issue 12, items 1, 2, 3 and 10).

The sender and the poller run against the in-process sandbox behind ``tests.misbehaving``, on
both databases. An answer that is not about what was asked, or holds values the API never sends,
is never applied and never reaches the opt-out policy: it is recorded, counted, and the run goes
on. The sandbox runs on a clock moved only by the tests.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from peewee import fn

from notify_tui.domain.faults import FaultKind
from notify_tui.domain.optout_policy import OptOutPolicy
from notify_tui.provider import TwilioClient, sandbox_client
from notify_tui.provider.sandbox import SandboxApp, outcome_for
from notify_tui.services.optout_policy import apply_to_updates
from notify_tui.services.poller import Poller
from notify_tui.services.schedule import cancel_messages
from notify_tui.services.sender import prepare_campaign, resume_campaign, send_campaign
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.models import Campaign, Contact, Message, OptOutEvent, ProviderFault
from notify_tui.store.sending import NewRecipient, add_recipients, send_state_counts
from notify_tui.store.updates import AppliedUpdates
from tests.misbehaving import FOREIGN_SID, FOREIGN_TO, Misbehaving

pytestmark = pytest.mark.usefixtures("workspace")

SERVICE = "MG" + "ab" * 16

SENDER = "+15005550006"
BODY = "Answers are checked"


class Clock:
    """The sandbox's and the poller's time: starts now, moves only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC).replace(tzinfo=None)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(clock: Clock) -> Iterator[Misbehaving]:
    sandbox = SandboxApp(seed=12, clock=clock.time)
    yield Misbehaving(sandbox)
    sandbox.close()


@pytest.fixture
async def client(provider: Misbehaving) -> AsyncIterator[TwilioClient]:
    async with sandbox_client(provider, max_retries=1, backoff_base=0.0) as c:  # type: ignore[arg-type]
        yield c


def numbers(n: int, start: int = 0) -> list[str]:
    """Numbers the sandbox accepts, that end delivered or failed (never only "sent")."""
    found: list[str] = []
    i = start
    while len(found) < n:
        phone = f"+1415555{i:04d}"
        if outcome_for(phone).final_status in ("delivered", "undelivered", "failed"):
            found.append(phone)
        i += 1
    return found


def expected(phone: str) -> str:
    return "delivered" if outcome_for(phone).final_status == "delivered" else "failed"


def prepare(phones: list[str]) -> int:
    return prepare_campaign(
        "Checked", BODY, [NewRecipient(p) for p in phones], sender=SENDER
    ).campaign_id


async def send(client: TwilioClient, campaign_id: int, resume: bool = False) -> object:
    job = resume_campaign if resume else send_campaign
    return await job(client, campaign_id, settle=0.0, retry_base=0.0)


async def provider_counts(client: TwilioClient, phones: list[str]) -> Counter[str]:
    """How many messages the sandbox holds for each number (its own records)."""
    counts: Counter[str] = Counter()
    for phone in phones:
        async for page in client.list_messages(to=phone, page_size=1000):
            counts[phone] += sum(1 for m in page if m.body == BODY)
    return counts


def statuses(campaign_id: int) -> dict[str, str]:
    return dict(
        Message.select(Message.phone, Message.status)
        .where(Message.campaign == campaign_id)
        .tuples()
    )


def faults(kind: FaultKind | None = None) -> list[ProviderFault]:
    select = ProviderFault.select().order_by(ProviderFault.id)
    if kind is not None:
        select = select.where(ProviderFault.kind == kind.value)
    return list(select)


def assert_counters_match_rows(campaign_id: int) -> None:
    campaign = Campaign.get_by_id(campaign_id)
    counts = dict(
        Message.select(Message.status, fn.COUNT(Message.id))
        .where(Message.campaign == campaign_id)
        .group_by(Message.status)
        .tuples()
    )
    assert (campaign.delivered, campaign.failed, campaign.unknown) == (
        counts.get("delivered", 0),
        counts.get("failed", 0),
        counts.get("unknown", 0),
    )
    assert campaign.delivered + campaign.failed + campaign.unknown == campaign.recipients


def assert_nobody_opted_out() -> None:
    assert Contact.select().where(Contact.opted_out).count() == 0
    assert OptOutEvent.select().count() == 0


async def poll(client: TwilioClient, clock: Clock, campaign_id: int, cycles: int = 1) -> Poller:
    """Poll as ``notify-tui poll`` does: the opt-out policy judges whatever resolved."""
    policy = OptOutPolicy()

    async def judge(applied: AppliedUpdates) -> None:
        apply_to_updates(applied, policy)

    poller = Poller(client, clock=clock.utcnow, on_applied=judge)
    for _ in range(cycles):
        clock.advance(120)
        await poller.poll_once(campaign_id)
    return poller


# -- creates ------------------------------------------------------------------------------------


async def test_a_repeated_sid_keeps_the_batch_and_the_campaign_settles(
    client: TwilioClient, provider: Misbehaving
) -> None:
    phones = numbers(12)
    campaign_id = prepare(phones)
    provider.modes["repeat_sid"] = 3

    result = await send(client, campaign_id)

    repeated = provider.done["repeat_sid"]
    assert repeated >= 3
    assert result.state == "sent"  # type: ignore[attr-defined]
    assert send_state_counts(campaign_id) == {"submitted": 12}
    # Each recipient's row holds the SID the sandbox really gave its message: one each.
    assert await provider_counts(client, phones) == Counter({p: 1 for p in phones})
    sids = [s for (s,) in Message.select(Message.sid).tuples()]
    assert len(set(sids)) == 12
    assert set(sids) == set(provider.created_sids)
    recorded = faults(FaultKind.REPEATED_SID)
    # Each repeated SID, and the answer that named it first when it was not written yet: which
    # of the two is right is found by looking both up.
    assert repeated <= len(recorded) <= 2 * repeated
    assert all(f.message_id is not None and f.campaign_id == campaign_id for f in recorded)
    assert result.faults == {"repeated sid": len(recorded)}  # type: ignore[attr-defined]
    assert_counters_match_rows(campaign_id)

    again = await send(client, campaign_id, resume=True)
    assert again.state == "sent" and again.fault_count == 0  # type: ignore[attr-defined]
    assert await provider_counts(client, phones) == Counter({p: 1 for p in phones})


@pytest.mark.parametrize("mode", ["foreign_to", "foreign_account"])
async def test_a_create_answered_about_someone_else_is_looked_up_not_linked(
    client: TwilioClient, provider: Misbehaving, mode: str
) -> None:
    phones = numbers(8)
    campaign_id = prepare(phones)
    provider.modes[mode] = 2

    result = await send(client, campaign_id)

    assert result.state == "sent"  # type: ignore[attr-defined]
    assert provider.done[mode] >= 4
    kind = FaultKind.FOREIGN_TO if mode == "foreign_to" else FaultKind.FOREIGN_ACCOUNT
    assert len(faults(kind)) == provider.done[mode]
    # The message the create made was found by the lookup: linked, and never sent twice.
    assert await provider_counts(client, phones) == Counter({p: 1 for p in phones})
    assert set(s for (s,) in Message.select(Message.sid).tuples()) == set(provider.created_sids)
    assert result.linked == provider.done[mode]  # type: ignore[attr-defined]


async def test_create_values_outside_the_api_are_faults_and_never_stored(
    client: TwilioClient, provider: Misbehaving, clock: Clock
) -> None:
    phones = numbers(6)
    campaign_id = prepare(phones)
    provider.modes["garbage_create"] = 1

    result = await send(client, campaign_id)

    assert result.state == "sent"  # type: ignore[attr-defined]
    rows = list(Message.select().where(Message.campaign == campaign_id))
    for row in rows:
        assert row.send_state == "submitted" and row.sid
        assert row.status == "unknown"
        assert row.num_segments is None and row.price is None and row.error_code is None
        assert row.provider_status is None
        assert row.note and "provider fault" in row.note
    assert Campaign.get_by_id(campaign_id).cost == 0
    answered = {f.answered for f in faults(FaultKind.BAD_VALUE)}
    assert any("99999999999999999999" in a for a in answered)
    assert any("3000000000" in a for a in answered)
    assert any("-1e20" in a for a in answered)
    assert any("inbound" in a for a in answered)
    assert result.fault_count == len(faults())  # type: ignore[attr-defined]

    # A sound answer later resolves them as the provider says.
    provider.modes.clear()
    clock.advance(600)
    await poll(client, clock, campaign_id)
    assert statuses(campaign_id) == {p: expected(p) for p in phones}
    assert_counters_match_rows(campaign_id)


# -- fetches ------------------------------------------------------------------------------------


async def test_a_fetch_answered_about_another_message_is_never_applied(
    client: TwilioClient, provider: Misbehaving, clock: Clock
) -> None:
    phones = numbers(5)
    campaign_id = prepare(phones)
    await send(client, campaign_id)
    provider.modes["foreign_fetch"] = 1

    await poll(client, clock, campaign_id)

    assert set(statuses(campaign_id).values()) == {"unknown"}
    assert_nobody_opted_out()
    recorded = faults(FaultKind.FOREIGN_SID)
    assert len(recorded) == 5
    asked = {f.asked for f in recorded}
    assert asked == {f"sid {s}" for (s,) in Message.select(Message.sid).tuples()}
    assert all(FOREIGN_SID in f.answered and FOREIGN_TO in f.answered for f in recorded)
    assert all(f.operation == "fetch" and f.message_id for f in recorded)
    assert Message.select().where(Message.error_code.is_null(False)).count() == 0

    provider.modes.clear()
    await poll(client, clock, campaign_id)
    assert statuses(campaign_id) == {p: expected(p) for p in phones}
    assert_counters_match_rows(campaign_id)


@pytest.mark.parametrize("mode", ["garbage_fetch", "delivered_with_error"])
async def test_fetched_values_outside_the_api_are_faults_not_reasons(
    client: TwilioClient, provider: Misbehaving, clock: Clock, mode: str
) -> None:
    phones = numbers(4)
    campaign_id = prepare(phones)
    await send(client, campaign_id)
    provider.modes[mode] = 1

    await poll(client, clock, campaign_id)

    rows = list(Message.select().where(Message.campaign == campaign_id))
    assert {r.status for r in rows} == {"unknown"}
    assert all(r.reason is None and r.error_code is None for r in rows)
    assert all(r.note and r.note.startswith("provider fault") for r in rows)
    assert all(r.next_poll_at is not None for r in rows), "asked again later"
    assert len(faults(FaultKind.BAD_VALUE)) >= 4
    assert_nobody_opted_out()
    assert_counters_match_rows(campaign_id)


# -- list pages ---------------------------------------------------------------------------------


async def test_a_list_page_outside_the_question_is_never_applied(
    client: TwilioClient, provider: Misbehaving, clock: Clock
) -> None:
    phones = numbers(60)
    campaign_id = prepare(phones)
    await send(client, campaign_id)
    provider.modes["foreign_page"] = 1

    poller = await poll(client, clock, campaign_id, cycles=2)

    assert poller.requests < 60, "listed, not fetched"
    assert set(statuses(campaign_id).values()) == {"unknown"}
    assert_nobody_opted_out()
    kinds = Counter(f.kind for f in faults())
    assert kinds["foreign sender"] >= 1
    assert kinds["foreign account"] >= 1
    assert kinds["foreign to"] >= 60
    assert_counters_match_rows(campaign_id)


async def test_a_page_into_another_account_is_not_followed(
    client: TwilioClient, provider: Misbehaving, clock: Clock
) -> None:
    phones = numbers(60)
    campaign_id = prepare(phones)
    await send(client, campaign_id)
    provider.modes["page_into_other_account"] = 1
    poller = Poller(client, clock=clock.utcnow)
    clock.advance(120)
    cycle = await poller.poll_once(campaign_id)
    errors = [cycle.error]
    while poller.sweeping:
        cycle = await poller.poll_once(campaign_id)
        errors.append(cycle.error)
    assert provider.done["page_into_other_account"] >= 1
    page_faults = faults(FaultKind.FOREIGN_PAGE)
    assert len(page_faults) == 1
    foreign = "/2010-04-01/Accounts/AC" + "f" * 32 + "/Messages.json"
    assert foreign in page_faults[0].answered
    assert any(e and foreign in e for e in errors), errors
    # The first page was ours and is applied; nothing from the other account is.
    assert_counters_match_rows(campaign_id)


async def test_a_lookup_that_lists_other_peoples_messages_never_resends(
    client: TwilioClient, provider: Misbehaving
) -> None:
    """Creates answered about someone else are looked up; while the listings are foreign too
    the lookup can't tell, so nothing is resent: the rows stay attempting, and a resume with a
    sound provider links each to the message its create made."""
    phones = numbers(6)
    campaign_id = prepare(phones)
    provider.modes.update(foreign_to=2, garbled_to=1)

    result = await send(client, campaign_id)

    assert result.state == "interrupted"  # type: ignore[attr-defined]
    assert result.resent == 0  # type: ignore[attr-defined]
    waiting = send_state_counts(campaign_id).get("attempting", 0)
    assert waiting == provider.done["foreign_to"] >= 3
    assert faults(FaultKind.FOREIGN_TO), "the foreign listings are recorded"
    provider.modes.clear()
    assert await provider_counts(client, phones) == Counter({p: 1 for p in phones})

    again = await send(client, campaign_id, resume=True)
    assert again.state == "sent" and again.linked == waiting  # type: ignore[attr-defined]
    assert await provider_counts(client, phones) == Counter({p: 1 for p in phones})
    assert set(s for (s,) in Message.select(Message.sid).tuples()) == set(provider.created_sids)
    assert_counters_match_rows(campaign_id)


async def test_a_cancel_answered_from_another_account_is_never_applied(
    provider: Misbehaving, client: TwilioClient, clock: Clock
) -> None:
    """The answer to a cancel is checked as a fetch's is (the client checks its SID): from
    another account, it is a recorded fault and the cancel counts as failed (it can be run
    again); its "delivered" is never applied."""
    campaign_id = create_campaign("Later", "Hi", messaging_service_sid=SERVICE, state="sent")
    (phone,) = numbers(1)
    add_recipients(campaign_id, [NewRecipient(phone)])
    message_id = Message.get(Message.campaign == campaign_id).id
    send_at = datetime.fromtimestamp(clock.now + 3600, UTC)
    held = await client.create_message(phone, "Hi", messaging_service_sid=SERVICE, send_at=send_at)
    assert held.sid is not None and held.status == "scheduled"

    async def call(function: Any, *args: Any) -> Any:
        return function(*args)

    provider.modes["foreign_cancel"] = 1
    canceled, gone, failed, _ = await cancel_messages(client, [(message_id, held.sid)], call)
    assert (canceled, gone, failed) == (0, 0, 1) and provider.done["foreign_cancel"] == 1
    row = Message.get_by_id(message_id)
    assert row.provider_status is None and row.status == "unknown"
    (fault,) = ProviderFault.select()
    assert (fault.kind, fault.operation) == (FaultKind.FOREIGN_ACCOUNT, "cancel")
    assert fault.message_id == message_id
