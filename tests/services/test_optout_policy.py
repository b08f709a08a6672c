"""The opt-out policy end to end: campaigns sent through the sandbox, resolved by the poller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest

from notify_tui.config import load_settings
from notify_tui.domain.optout_policy import OptOutPolicy
from notify_tui.provider import sandbox_client
from notify_tui.provider.sandbox import SandboxApp, outcome_for
from notify_tui.services.optout_policy import apply_to_history, ensure_applied
from notify_tui.services.runtime import Runtime
from notify_tui.services.sender import prepare_campaign, send_campaign
from notify_tui.store import optouts, suggestions
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.models import Contact, OptOutEvent, database, utcnow
from notify_tui.store.sending import NewRecipient
from tests.provider.support import FakeClock

pytestmark = pytest.mark.usefixtures("workspace")


def numbers_with(code: int | None, count: int, status: str | None = None) -> list[str]:
    found = []
    for area in (415, 212, 312, 617, 206, 303):
        for i in range(10000):
            phone = f"+1{area}555{i:04d}"
            outcome = outcome_for(phone)
            if outcome_for(phone, earlier=1) != outcome:
                continue  # its failure passes on the next message: not one that keeps failing
            if outcome.error_code == code and (status is None or outcome.final_status == status):
                found.append(phone)
                if len(found) == count:
                    return found
    raise AssertionError(f"not enough numbers ending with {code}")


async def send_and_resolve(runtime: Runtime, clock: FakeClock, name: str, phones: list[str]) -> int:
    prepared = prepare_campaign(
        name,
        "Hello",
        [NewRecipient(p, f"Person {p[-4:]}") for p in phones],
        sender="+15005550006",
        price_per_segment=Decimal("0.0079"),
    )
    await send_campaign(runtime.client, prepared.campaign_id)
    later = lambda: utcnow() + timedelta(minutes=2)  # noqa: E731  every message is due and final
    poller = runtime.make_poller(clock=later)
    clock.advance(10)  # every message reaches its final status at the sandbox
    while (await poller.poll_once(prepared.campaign_id)).checked:
        pass
    return prepared.campaign_id


@pytest.fixture
async def runtime(sandbox: SandboxApp) -> AsyncIterator[Runtime]:
    """The open workspace, with the shared sandbox (on the test's clock) as its provider."""
    rt = Runtime(load_settings(), database.obj, sandbox_client(sandbox))
    yield rt
    await rt.client.aclose()


async def test_landlines_opt_out_at_once_and_repeat_failures_are_suggested(
    runtime: Runtime, clock: FakeClock
) -> None:
    landlines = numbers_with(30006, 3)
    unreachable = numbers_with(30003, 2)
    unknown = numbers_with(30005, 2)
    fine = numbers_with(None, 5, status="delivered")
    everyone = landlines + unreachable + unknown + fine
    first = await send_and_resolve(runtime, clock, "First", everyone)
    assert optouts.opted_out_phones(everyone) == set(landlines)
    events = OptOutEvent.select().where(OptOutEvent.phone == landlines[0])
    (event,) = events
    assert (event.source, event.actor, event.campaign_id, event.code) == (
        "policy",
        "policy",
        first,
        30006,
    )
    assert '"rule": "immediate"' in event.evidence
    assert suggestions.pending() == []  # one failure is not yet a pattern

    second = await send_and_resolve(runtime, clock, "Second", everyone)
    campaign = get_campaign(second)
    assert campaign is not None and campaign.skipped_opted_out == 3
    assert campaign.money_saved == 3 * Decimal("0.0079")
    pending = suggestions.pending(second)
    assert {s.phone for s in pending} == set(unreachable + unknown)
    assert all(s.rule == "repeat" and not s.held for s in pending)
    assert {tuple(f.values()) for f in pending[0].evidence["failures"]} == {  # type: ignore[union-attr]
        (first, pending[0].code),
        (second, pending[0].code),
    }
    assert suggestions.pending_counts([first, second]) == {second: 4}

    # Accept two, dismiss the rest: only the accepted ones are opted out.
    accepted = suggestions.accept([pending[0].id, pending[1].id], actor="ann")
    assert accepted == 2
    assert suggestions.dismiss([s.id for s in pending[2:]], actor="ann") == 2
    assert optouts.opted_out_phones(unreachable + unknown) == {pending[0].phone, pending[1].phone}
    assert suggestions.pending() == []

    # Idempotent: judging all history again changes nothing.
    again = apply_to_history(OptOutPolicy())
    assert not again.opted_out
    assert Contact.select().where(Contact.opted_out).count() == 5


async def test_a_mass_automatic_opt_out_is_held_for_review(
    runtime: Runtime, clock: FakeClock
) -> None:
    landlines = numbers_with(30006, 55)
    fine = numbers_with(None, 45, status="delivered")
    campaign_id = await send_and_resolve(runtime, clock, "Outage?", landlines + fine)
    assert optouts.opted_out_phones(landlines) == set()
    held = suggestions.pending(campaign_id)
    assert len(held) == 55 and all(s.held for s in held)
    assert "held for review" in held[0].reason
    suggestions.accept([s.id for s in held], actor="ann")
    assert optouts.opted_out_phones(landlines) == set(landlines)


async def test_stop_at_create_opts_out_with_provider_source_and_cannot_be_undone(
    runtime: Runtime, clock: FakeClock
) -> None:
    await send_and_resolve(
        runtime, clock, "Promo", ["+15005550004", *numbers_with(None, 2, "delivered")]
    )
    (record,) = optouts.list_optouts()
    assert (record.phone, record.source) == ("+15005550004", "provider")
    with pytest.raises(optouts.OptInRefused):
        optouts.opt_in("+15005550004", actor="ann")


async def test_a_changed_policy_re_judges_history_once(runtime: Runtime, clock: FakeClock) -> None:
    repeaters = numbers_with(30003, 2)
    await send_and_resolve(runtime, clock, "One", repeaters)
    await send_and_resolve(runtime, clock, "Two", repeaters)
    assert ensure_applied(OptOutPolicy()) is not None
    assert ensure_applied(OptOutPolicy()) is None
    assert optouts.opted_out_phones(repeaters) == set()
    from notify_tui.domain.optout_policy import RuleMode

    outcome = ensure_applied(OptOutPolicy(repeat_mode=RuleMode.AUTO))
    assert outcome is not None and sorted(outcome.opted_out) == sorted(repeaters)
    assert optouts.opted_out_phones(repeaters) == set(repeaters)


async def test_the_runtimes_policy_hook_judges_refusals_at_send_time(runtime: Runtime) -> None:
    # The hook every sender and poller is given (the app's, `send`'s, the demo's, `poll`'s).
    landline = numbers_with(21614, 1, status="refused")
    fine = numbers_with(None, 2, status="delivered")
    prepared = prepare_campaign(
        "Refusals",
        "Hello",
        [NewRecipient(p) for p in landline + fine],
        sender="+15005550006",
    )
    await send_campaign(runtime.client, prepared.campaign_id, on_applied=runtime.policy_hook())
    assert optouts.opted_out_phones(landline + fine) == set(landline)
    (event,) = OptOutEvent.select().where(OptOutEvent.phone == landline[0])
    assert (event.source, event.code, event.campaign_id) == ("policy", 21614, prepared.campaign_id)
