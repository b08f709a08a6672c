"""Sending from the app: resuming an interrupted campaign, and quitting while sending."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.pilot import Pilot

from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.runtime import SANDBOX_FROM, Runtime
from notify_tui.services.sender import prepare_campaign, resume_campaign
from notify_tui.store.campaigns import get_campaign, set_state
from notify_tui.store.sending import NewRecipient, send_state_counts
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.screens.details import DetailsScreen
from notify_tui.ui.screens.history import HistoryScreen
from notify_tui.ui.widgets.campaign_table import CampaignTable
from tests.ui.seed import PRICE, SPRING, fixed_clock, seed_campaign, wait_for_campaigns, wait_until
from tests.ui.shown import notifications


def record(name: str, size: int) -> int:
    """A campaign recorded with ``size`` recipients, none of them sent yet."""
    prepared = prepare_campaign(
        name,
        "Hello from the resume test",
        [NewRecipient(f"+1415888{i:04d}", f"Person {i}") for i in range(size)],
        sender=SANDBOX_FROM,
        price_per_segment=PRICE,
    )
    return prepared.campaign_id


def table(app: NotifyApp) -> CampaignTable:
    return app.screen.query_one(CampaignTable)


@pytest.fixture
def fast(runtime: Runtime) -> Runtime:
    runtime.settings = replace(runtime.settings, send_rate=0.0)  # no limit
    return runtime


async def press_resume(app: NotifyApp, pilot: Pilot) -> ConfirmDialog:
    await wait_for_campaigns(pilot)
    await pilot.press("R")
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
    dialog = app.screen
    assert isinstance(dialog, ConfirmDialog)
    return dialog


async def test_resume_an_interrupted_campaign(fast: Runtime, sandbox: SandboxApp) -> None:
    campaign_id = record("Half sent", 8)
    set_state(campaign_id, "sending")
    set_state(campaign_id, "interrupted")
    app = make_app(fast, poll=False, first_run_demo=False, clock=fixed_clock)
    app.offer_resume = False  # the key, not the offer at start (tested below)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await wait_for_campaigns(pilot)
        assert "interrupted" in table(app).render_line(1).text
        dialog = await press_resume(app, pilot)
        question = str(dialog.query_one("#confirm-question").render())
        assert "Half sent" in question and "8 messages left" in question
        await pilot.press("y")
        await wait_until(pilot, lambda: get_campaign(campaign_id).state == "sent")  # type: ignore[union-attr]
        await wait_until(pilot, lambda: "interrupted" not in table(app).render_line(1).text)
        assert any("Campaign sent" in n for n in notifications(app))
    assert send_state_counts(campaign_id) == {"submitted": 8}
    assert sandbox.stats()["create"] == 8


async def test_resume_is_only_for_campaigns_with_something_left(fast: Runtime) -> None:
    seed_campaign("Spring sale", SPRING)  # sent completely
    app = make_app(fast, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await wait_for_campaigns(pilot)
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert screen.check_action("resume", ()) is False  # not offered in the footer
        footer = [b.binding.description for b in screen.active_bindings.values() if b.binding.show]
        assert "Resume" not in footer
        await pilot.press("R")
        await pilot.pause()
        assert app.screen is screen
        # The key is not silent: it says why it does nothing (issue 14: 5).
        told = notifications
        await wait_until(pilot, lambda: any("nothing left to send" in n for n in told(app)))


async def test_a_campaign_being_sent_here_is_not_resumed_twice(
    runtime: Runtime, sandbox: SandboxApp
) -> None:
    runtime.settings = replace(runtime.settings, send_rate=2.0)
    campaign_id = record("Slow one", 20)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.start_sending(campaign_id, "Slow one")
        await wait_until(pilot, lambda: "sending" in table(app).render_line(1).text)
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert screen.check_action("resume", ()) is False
        assert not app.start_sending(campaign_id, "Slow one")
        await pilot.press("ctrl+q", "y")
    assert sandbox.stats()["create"] < 20


async def test_quitting_while_sending_asks_then_leaves_it_resumable(
    runtime: Runtime, sandbox: SandboxApp
) -> None:
    runtime.settings = replace(runtime.settings, send_rate=4.0)
    campaign_id = record("Interrupted by quit", 30)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        app.start_sending(campaign_id, "Interrupted by quit")
        await wait_until(pilot, lambda: get_campaign(campaign_id).submitted >= 1)  # type: ignore[union-attr]
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")  # keep sending
        await pilot.pause()
        assert app.is_running and app.live.is_sending(campaign_id)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running)
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == "interrupted"
    counts = send_state_counts(campaign_id)
    assert counts.get("pending", 0) > 0
    # A create in flight when the sender stopped stays "attempting": it may have reached the
    # provider, so only a resume's lookup may decide. Everything else was settled.
    assert counts["submitted"] + counts.get("attempting", 0) >= sandbox.stats()["created"]
    assert counts["submitted"] <= sandbox.stats()["created"]
    result = await resume_campaign(runtime.client, campaign_id)
    assert result.state == "sent"
    # Nobody got the campaign twice: one create per recipient the sandbox did not refuse.
    counts = send_state_counts(campaign_id)
    assert counts["submitted"] == sandbox.stats()["created"]
    assert "attempting" not in counts and "pending" not in counts


async def test_quitting_when_nothing_is_sent_does_not_ask(fast: Runtime) -> None:
    app = make_app(fast, poll=False, first_run_demo=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


async def test_details_follows_a_campaign_being_sent(runtime: Runtime, sandbox: SandboxApp) -> None:
    from notify_tui.ui.screens.details import DetailsScreen
    from notify_tui.ui.widgets.campaign_header import CampaignHeader

    runtime.settings = replace(runtime.settings, send_rate=8.0)
    campaign_id = record("Followed", 12)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(DetailsScreen(campaign_id))
        await pilot.pause()
        header = app.screen.query_one(CampaignHeader)
        app.start_sending(campaign_id, "Followed")
        await wait_until(pilot, lambda: "Sending: " in header.render().plain)
        assert "of 12 sent" in header.render().plain
        await wait_until(pilot, lambda: "Sent " in header.render().plain.splitlines()[1])
        assert isinstance(app.screen, DetailsScreen)


async def test_two_campaigns_from_one_number_say_they_share_it(
    runtime: Runtime, sandbox: SandboxApp
) -> None:
    runtime.settings = replace(runtime.settings, send_rate=2.0)
    first = record("First of two", 20)
    second = prepare_campaign(
        "Second of two",
        "Hello again",
        [NewRecipient(f"+1415777{i:04d}", f"Person {i}") for i in range(20)],
        sender=SANDBOX_FROM,
    ).campaign_id
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 24)) as pilot:
        app.start_sending(first, "First of two")
        app.start_sending(second, "Second of two")
        rows = lambda: [table(app).render_line(y).text for y in (1, 2)]  # noqa: E731
        await wait_until(pilot, lambda: any("shared" in row for row in rows()))
        await pilot.press("enter")  # Details of the newest: the second
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        screen = app.screen
        assert isinstance(screen, DetailsScreen) and screen.campaign_id == second
        await wait_until(
            pilot, lambda: f"is also sending campaign {first}" in screen.header.render().plain
        )
        assert "waiting: +1 500-555-0006" in screen.header.render().plain
        await pilot.press("ctrl+q", "y")


async def test_on_start_an_interrupted_campaign_is_offered_for_resuming_never_resumed_silently(
    fast: Runtime, sandbox: SandboxApp
) -> None:
    campaign_id = record("Stopped by quit", 5)
    set_state(campaign_id, "sending")
    set_state(campaign_id, "interrupted")
    app = make_app(fast, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        question = str(app.screen.query_one("#confirm-question").render())
        assert "Stopped by quit" in question and "5 messages left" in question
        assert "never resumes by itself" in question
        await pilot.press("n")  # not now: it stays interrupted, and nothing was sent
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await wait_for_campaigns(pilot)
        assert "interrupted" in table(app).render_line(1).text
        # Asked once per start: coming back to History does not ask again.
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == "interrupted"
    assert sandbox.stats().get("create", 0) == 0
    # The help of Ctrl+Q says what really happens (issue 14: it said sending resumes).
    quit_binding = next(b for b in app.BINDINGS if getattr(b, "id", None) == "app.quit")
    assert "never resumed by itself" in str(getattr(quit_binding, "tooltip", ""))


async def test_details_of_an_interrupted_campaign_offers_to_resume_it(
    fast: Runtime, sandbox: SandboxApp
) -> None:
    """Details said "Interrupted: 3 of 8 submitted" with no key to act (issue 14: 23)."""
    from tests.ui.details_support import open_details

    campaign_id = record("Half sent", 8)
    set_state(campaign_id, "sending")
    set_state(campaign_id, "interrupted")
    app = make_app(fast, poll=False, first_run_demo=False, clock=fixed_clock)
    app.offer_resume = False
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        screen = await open_details(app, pilot, campaign_id)
        await wait_until(pilot, lambda: screen.check_action("resume", ()) is True)
        footer = [b.binding.description for b in screen.active_bindings.values() if b.binding.show]
        assert "Resume" in footer
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        question = str(app.screen.query_one("#confirm-question").render())
        assert "Half sent" in question and "8 messages left" in question
        await pilot.press("y")
        await wait_until(pilot, lambda: get_campaign(campaign_id).state == "sent")  # type: ignore[union-attr]
        # Sent: the key is no longer offered, and says why when pressed.
        await wait_until(pilot, lambda: screen.check_action("resume", ()) is False)
        await pilot.press("R")
        await wait_until(pilot, lambda: any("nothing left" in n for n in notifications(app)))
        assert app.screen is screen
    assert send_state_counts(campaign_id) == {"submitted": 8}
    assert sandbox.stats()["create"] == 8
