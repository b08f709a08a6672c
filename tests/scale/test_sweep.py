"""Many pending messages: the poller sweeps the provider's listing once, whoever is polling.

Against the in-process sandbox, on both databases: thousands of messages the sandbox holds as
final wait Unknown in the workspace (written in bulk, as ``benchmarks/run.py`` does).
"""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from peewee import fn

from benchmarks.pending import build_pending
from notify_tui.domain.status import Classification, Status, classify_message
from notify_tui.provider import TwilioClient
from notify_tui.provider.sandbox import Faults, SandboxApp, outcome_for
from notify_tui.services.poller import Poller, provider_made_us_wait
from notify_tui.store import polling
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.models import Campaign, Message, SchemaInfo, database, utcnow
from notify_tui.store.sending import NewRecipient, Submitted, add_recipients, record_submitted
from notify_tui.store.updates import AppliedUpdates, StatusUpdate, apply_updates

pytestmark = pytest.mark.usefixtures("workspace")

PENDING = 3500


@pytest.fixture
def pending(tmp_path: Path) -> tuple[int, Path]:
    campaign_id, _ = build_pending(database.obj, tmp_path / "sandbox.db", PENDING)
    return campaign_id, tmp_path / "sandbox.db"


@pytest.fixture
def sandbox_options(pending: tuple[int, Path]) -> dict[str, Any]:
    """The sandbox holds the pending messages, final long ago on the wall clock."""
    return {"state_path": pending[1]}


def assert_resolved_as_the_sandbox_says(campaign_id: int) -> None:
    rows = Message.select(Message.phone, Message.status, Message.error_code, Message.lease_owner)
    for phone, status, code, owner in rows.where(Message.campaign == campaign_id).tuples():
        outcome = outcome_for(phone)
        expected = "delivered" if outcome.final_status == "delivered" else "failed"
        assert (status, code) == (expected, outcome.error_code), phone
        assert owner is None
    counts = dict(
        Message.select(Message.status, fn.COUNT(Message.id))
        .where(Message.campaign == campaign_id)
        .group_by(Message.status)
        .tuples()
    )
    campaign = Campaign.get_by_id(campaign_id)
    assert (campaign.delivered, campaign.failed, campaign.unknown) == (
        counts.get("delivered", 0),
        counts.get("failed", 0),
        counts.get("unknown", 0),
    )
    assert campaign.unknown == 0


def sweep_leases() -> int:
    return int(SchemaInfo.select().where(SchemaInfo.key.startswith("poll-sweep:")).count())


async def test_one_sweep_resolves_thousands_with_one_request_per_page(
    pending: tuple[int, Path], client: TwilioClient, sandbox: SandboxApp
) -> None:
    campaign_id, _ = pending
    poller = Poller(client)
    resolved = 0
    for _ in range(20):
        cycle = await poller.poll_once()
        resolved += cycle.resolved
        if not poller.sweeping:
            break
    assert resolved == PENDING
    assert cycle.pending == 0 and cycle.resolvable == 0
    stats = sandbox.stats()
    assert stats["fetch"] == 0
    assert stats["list"] == math.ceil(PENDING / 1000)
    assert_resolved_as_the_sandbox_says(campaign_id)
    assert sweep_leases() == 0


async def test_three_pollers_read_the_listing_once_between_them(
    pending: tuple[int, Path], client: TwilioClient, sandbox: SandboxApp
) -> None:
    campaign_id, _ = pending
    pollers = [Poller(client, owner=f"poller-{i}") for i in range(3)]
    jobs = [p.run(until_settled=True, idle_sleep=0.05) for p in pollers]
    await asyncio.wait_for(asyncio.gather(*jobs), timeout=60)
    stats = sandbox.stats()
    assert stats["fetch"] == 0
    # One of them swept; the others left that sender alone (at most one page more, read by a
    # poller that claimed its batch at the very moment the first one took the sweep).
    assert math.ceil(PENDING / 1000) <= stats["list"] <= math.ceil(PENDING / 1000) + 1
    assert sum(p.requests for p in pollers) == stats["list"]
    assert_resolved_as_the_sandbox_says(campaign_id)
    assert sweep_leases() == 0


async def test_a_cancelled_sweep_gives_everything_back_and_the_next_carries_on(
    pending: tuple[int, Path], client: TwilioClient, sandbox: SandboxApp
) -> None:
    campaign_id, _ = pending
    poller = Poller(client)
    job = asyncio.ensure_future(poller.run(until_settled=True))
    while not Message.select().where(Message.status != "unknown").count():
        await asyncio.sleep(0.01)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert not poller.sweeping and sweep_leases() == 0
    assert Message.select().where(Message.lease_owner.is_null(False)).count() == 0
    await asyncio.wait_for(Poller(client).run(until_settled=True, idle_sleep=0.05), 60)
    assert_resolved_as_the_sandbox_says(campaign_id)


def test_a_sweep_keeps_other_pollers_off_its_sender() -> None:
    now = utcnow()
    assert polling.take_sweep("a", "+15005550006", lease_for=timedelta(seconds=30), now=now)
    # The same sender, or every sender at once, is taken; another sender is free.
    assert not polling.take_sweep("b", "+15005550006", now=now)
    assert not polling.take_sweep("b", None, now=now)
    assert polling.take_sweep("b", "+15005550007", now=now)
    # Renewing one's own sweep works; a lapsed one is anybody's.
    assert polling.take_sweep("a", "+15005550006", lease_for=timedelta(seconds=30), now=now)
    assert polling.take_sweep("c", "+15005550006", now=now + timedelta(seconds=31))
    polling.end_sweep("a", "+15005550006")  # not a's any more: left alone
    assert not polling.take_sweep("a", "+15005550006", now=now + timedelta(seconds=32))
    polling.end_sweep("c", "+15005550006")
    assert polling.take_sweep("a", "+15005550006", now=now + timedelta(seconds=32))


def test_claims_skip_the_messages_of_a_sender_someone_else_sweeps() -> None:
    now = utcnow()
    swept = _submitted_campaign("+15005550006", 3, start=0, now=now)
    other = _submitted_campaign("+15005550007", 2, start=10, now=now)
    assert polling.take_sweep("sweeper", "+15005550006", now=now)
    claimed = polling.claim_due("other", limit=100, now=now + timedelta(seconds=5))
    assert {t.campaign_id for t in claimed} == {other}
    # The sweeper itself claims its sender's messages.
    mine = polling.claim_due("sweeper", limit=100, now=now + timedelta(seconds=5))
    assert {t.campaign_id for t in mine} == {swept}
    polling.end_sweep("sweeper", "+15005550006")


def test_pending_counts_agree_with_the_counts_they_replace() -> None:
    now = utcnow()
    campaign_id = _submitted_campaign("+15005550006", 6, start=0, now=now)
    ids = [i for (i,) in Message.select(Message.id).where(Message.campaign == campaign_id).tuples()]
    Message.update(provider_status="sent", updated_at=now - timedelta(minutes=5)).where(
        Message.id.in_(ids[:2])
    ).execute()
    Message.update(next_poll_at=None).where(Message.id == ids[5]).execute()
    later = now + timedelta(seconds=1)
    assert polling.pending_counts(later) == (
        polling.pending_count(),
        polling.resolvable_now_count(later),
    )
    assert polling.pending_counts(later, campaign_id) == (5, 3)


def _submitted_campaign(sender: str, count: int, *, start: int, now) -> int:  # type: ignore[no-untyped-def]
    campaign_id = create_campaign(f"From {sender}", "Hello", sender=sender, state="sent")
    phones = [f"+1415555{start + i:04d}" for i in range(count)]
    add_recipients(campaign_id, [NewRecipient(p) for p in phones], now=now)
    ids = dict(
        Message.select(Message.phone, Message.id).where(Message.campaign == campaign_id).tuples()
    )
    Message.update(attempted_at=now).where(Message.campaign == campaign_id).execute()
    record_submitted(
        [
            Submitted(ids[p], f"SM{campaign_id:08d}{i:024x}", "queued", 1, None, now)
            for i, p in enumerate(phones)
        ],
        now,
    )
    return campaign_id


@pytest.mark.parametrize(
    ("elapsed", "cpu", "ahead"),
    [
        (0.300, 0.020, True),  # a real provider: the page took a network round trip
        (0.030, 0.010, True),  # a sandbox in another process, working while we wait
        (0.040, 0.039, False),  # the in-process sandbox: all of it our own work
        (0.050, 0.040, False),  # waited 10 ms, but under half of the work of our own
        (0.061, 0.040, True),  # waited 21 ms: over half of the work of our own
        (0.004, 0.000, False),  # too short a wait to be worth a second page in flight
    ],
)
def test_pages_are_read_ahead_only_when_the_provider_makes_us_wait(
    elapsed: float, cpu: float, ahead: bool
) -> None:
    assert provider_made_us_wait(elapsed, cpu) is ahead


async def test_a_slow_provider_s_next_page_is_asked_for_while_the_last_is_written(
    pending: tuple[int, Path], client: TwilioClient, sandbox: SandboxApp
) -> None:
    asked_by_the_end_of_each_write: list[int] = []

    class Watched(Poller):
        def _apply_listed(self, listed, foreign):  # type: ignore[no-untyped-def]
            applied = super()._apply_listed(listed, foreign)
            asked_by_the_end_of_each_write.append(sandbox.stats()["list"])
            return applied

    sandbox.faults = Faults(latency=0.05)
    poller = Watched(client)
    await asyncio.wait_for(poller.run(until_settled=True, idle_sleep=0.05), timeout=60)
    pages = math.ceil(PENDING / 1000)
    # While page k was written, page k + 1 was already asked for (the last one has no next).
    assert asked_by_the_end_of_each_write[: pages - 1] == list(range(2, pages + 1))
    assert_resolved_as_the_sandbox_says(pending[0])


def test_answers_applied_with_the_rows_claim_listed_read_are_applied_as_without() -> None:
    now = utcnow()
    campaign_id = _submitted_campaign("+15005550006", 4, start=0, now=now)
    sids = [
        s for (s,) in Message.select(Message.sid).where(Message.campaign == campaign_id).tuples()
    ]
    answers = [
        classify_message("delivered"),
        classify_message("undelivered", 30003),
        Classification(Status.UNKNOWN),
    ]

    def applied(pass_rows: bool) -> tuple[AppliedUpdates, list[tuple[object, ...]]]:
        with database.atomic() as transaction:
            listed = polling.claim_listed("me", sids, now)
            updates = [
                StatusUpdate(m.message_id, answers[n % 3], provider_status="x", price=Decimal(-1))
                for n, m in enumerate(listed)
            ]
            rows = {m.message_id: m.current for m in listed} if pass_rows else None
            result = apply_updates(updates, now, current=rows)
            after = list(Message.select().where(Message.campaign == campaign_id).tuples())
            transaction.rollback()
        return result, after

    with_rows = applied(True)
    assert len(with_rows[0].resolutions) == 3 and with_rows[0].campaigns
    assert with_rows == applied(False)
