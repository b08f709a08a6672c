"""Details shows how many recipients need review and settles one with ``v`` (issue 12, item 9)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from textual.widgets import OptionList

from notify_tui.domain.status import SendState
from notify_tui.services.runtime import Runtime
from notify_tui.services.sender import prepare_campaign, resume_campaign
from notify_tui.store.models import Campaign, Message, utcnow
from notify_tui.store.sending import NewRecipient, claim_for_submit
from notify_tui.ui.app import make_app
from notify_tui.ui.dialogs.review import ReviewDialog
from notify_tui.ui.screens.details import DetailsScreen
from tests.ui.seed import fixed_clock, seed_history, wait_for_campaigns, wait_until

SENDER = "+15005550006"
BODY = "Spring sale"
PHONE = "+14155550123"


async def needs_review(runtime: Runtime) -> tuple[int, str]:
    """A campaign whose one create (outcome unknown) met another sender's message to the same
    number, just outside its window: it needs review. Answers the campaign and that sid."""
    campaign_id = prepare_campaign("Spring", BODY, [NewRecipient(PHONE)], sender=SENDER).campaign_id
    now = utcnow()
    message_id = Message.get(Message.campaign == campaign_id).id
    claim_for_submit(
        campaign_id, [message_id], now - timedelta(seconds=60), now - timedelta(seconds=40)
    )
    other = await runtime.client.create_message(PHONE, BODY, from_=SENDER)
    result = await resume_campaign(runtime.client, campaign_id, settle=0.0)
    assert result.needs_review == 1 and other.sid is not None
    return campaign_id, other.sid


async def test_details_counts_shows_and_settles_a_recipient_that_needs_review(
    runtime: Runtime,
) -> None:
    campaign_id, other_sid = await needs_review(runtime)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_campaigns(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        screen = app.screen
        assert isinstance(screen, DetailsScreen)
        await wait_until(pilot, lambda: screen.header.needs_review == 1)
        assert "1 need review (v)" in screen.header.render().plain
        await wait_until(pilot, lambda: "needs review" in screen.table.render_line(1).text)

        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewDialog))
        choices = app.screen.query_one(OptionList)
        choices.focus()
        choices.highlighted = 0
        assert other_sid in str(choices.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: Message.get(Message.campaign == campaign_id).send_state == SendState.SUBMITTED,
        )
        assert Message.get(Message.campaign == campaign_id).sid == other_sid
        await wait_until(pilot, lambda: screen.header.needs_review == 0)


async def test_while_sending_details_shows_the_cost_so_far_beside_the_estimate(
    runtime: Runtime,
) -> None:
    """Issue 14, item 10: the actual cost grows as messages resolve; the estimate is beside it."""
    ids = seed_history()
    Campaign.update(price_per_segment=Decimal("0.0158")).where(
        Campaign.id == ids["Restock alert"]
    ).execute()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_campaigns(pilot)
        await pilot.press("enter")  # the newest: Restock alert, being sent
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        screen = app.screen
        assert isinstance(screen, DetailsScreen)
        await wait_until(pilot, lambda: screen.header.campaign is not None)
        # 40 recipients, 1 segment, at $0.0158: ≈ $0.6320 (under a dollar: four decimals).
        assert "cost $0.00 of ≈ $0.6320" in screen.header.render().plain
