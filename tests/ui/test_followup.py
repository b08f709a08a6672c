"""Follow-ups from Details: ``F`` shows who would get the message again and what it costs, the
message can be edited, ``ctrl+r`` sends it through the normal sender; History shows it under its
campaign, and Details of the original says what it recovered."""

from __future__ import annotations

from textual.widgets import Static, TextArea

from notify_tui.domain.status import Classification, SendState, Status, classify_message
from notify_tui.services.followup import plan_followup, record_followup
from notify_tui.services.runtime import Runtime
from notify_tui.store.campaigns import get_campaign, set_state
from notify_tui.store.followups import followups_of
from notify_tui.store.models import Message
from notify_tui.store.updates import StatusUpdate, apply_updates
from notify_tui.ui.app import make_app
from notify_tui.ui.dialogs.followup import FollowupDialog
from notify_tui.ui.screens.details import DetailsScreen
from notify_tui.ui.screens.history import HistoryScreen
from notify_tui.ui.widgets.campaign_header import CampaignHeader
from notify_tui.ui.widgets.campaign_table import CampaignTable
from tests.ui.details_support import open_details
from tests.ui.seed import (
    SENT_AT,
    SPRING,
    fixed_clock,
    seed_campaign,
    wait_for_campaigns,
    wait_until,
)
from tests.ui.shown import lines_of, notifications

AGAIN = "Last chance: 20% off ends today. Reply STOP to opt out."


def dialog_text(app: object, selector: str) -> str:
    from textual.app import App

    assert isinstance(app, App)
    return str(app.screen.query_one(selector, Static).render())


async def test_f_shows_who_and_the_cost_and_sends_the_edited_message(
    runtime: Runtime, spring: int
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(app.screen, FollowupDialog))
        dialog = app.screen
        assert isinstance(dialog, FollowupDialog)
        await wait_until(pilot, lambda: dialog.plan is not None)
        who = dialog_text(app, "#followup-who")
        # SPRING: two unreachable handsets; the rest delivered, unknown, a landline, a carrier
        # violation and a STOP, which no follow-up may reach.
        assert "2 recipients failed for a cause that may pass" in who
        assert "2 × 30003" in who
        assert "5 delivered" in who and "2 still unknown" in who
        assert "for 2 messages" in dialog_text(app, "#followup-cost")
        area = dialog.query_one("#followup-body", TextArea)
        area.text = AGAIN
        await wait_until(pilot, lambda: dialog.plan is not None and dialog.plan.plan.body == AGAIN)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        await wait_until(pilot, lambda: any("History shows it" in n for n in notifications(app)))
    ids = followups_of(spring)
    assert len(ids) == 1
    summary = get_campaign(ids[0])
    assert summary is not None and summary.body == AGAIN and summary.recipients == 2
    assert summary.followup_of == spring
    phones = {
        p for (p,) in Message.select(Message.phone).where(Message.campaign == ids[0]).tuples()
    }
    assert phones == {"+14155550102", "+14155550107"}


async def test_history_shows_a_followup_under_its_campaign_and_details_what_it_recovered(
    runtime: Runtime,
) -> None:
    spring = seed_campaign("Spring sale", SPRING)
    seed_campaign("Newer one", SPRING[:3], sent_at=SENT_AT.replace(day=5))
    followup = record_followup(plan_followup(spring)).campaign_id
    set_state(followup, "sending", now=SENT_AT.replace(day=6))
    ids = [i for (i,) in Message.select(Message.id).where(Message.campaign == followup).tuples()]
    apply_updates(
        [
            StatusUpdate(
                ids[0], Classification(Status.UNKNOWN), sid="SMf1", send_state=SendState.SUBMITTED
            ),
            StatusUpdate(
                ids[1], Classification(Status.UNKNOWN), sid="SMf2", send_state=SendState.SUBMITTED
            ),
        ]
    )
    apply_updates(
        [StatusUpdate(ids[0], classify_message("delivered"), provider_status="delivered")]
    )
    set_state(followup, "sent", now=SENT_AT.replace(day=6))
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_campaigns(pilot)
        assert isinstance(app.screen, HistoryScreen)
        rows = [line.strip() for line in lines_of(app.screen.query_one(CampaignTable))[1:4]]
        assert rows[0].startswith("Newer one")
        assert "Spring sale" in rows[1] and "↳" not in rows[1]
        assert rows[2].startswith("↳") and "Follow-up: Spring sale" in rows[2]
        await open_details(app, pilot, spring)
        header = app.screen.query_one(CampaignHeader)
        await wait_until(pilot, lambda: "recovered" in lines_of(header)[1])
        assert "follow-up recovered 1 of 2 (1 still unknown)" in lines_of(header)[1]


async def test_f_says_why_when_nobody_could_get_a_followup(runtime: Runtime) -> None:
    campaign = seed_campaign("All landlines", [p for p in SPRING if p.fate in (30006, "delivered")])
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_details(app, pilot, campaign)
        await pilot.press("F")
        await wait_until(pilot, lambda: bool(notifications(app)))
        assert not isinstance(app.screen, FollowupDialog)
        assert "failed for a cause that may pass" in notifications(app)[0]
        assert notifications(app)[0].startswith("Follow up: No recipient of this campaign")


async def test_the_followup_dialog_fits_60x20(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(60, 20)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(app.screen, FollowupDialog))
        dialog = app.screen
        assert isinstance(dialog, FollowupDialog)
        await wait_until(pilot, lambda: dialog.plan is not None)
        await pilot.pause()
        for widget in ("#followup-send", "#followup-cancel", "#followup-body", "#followup-cost"):
            region = dialog.query_one(widget).region
            assert region.height and region.y + region.height <= 20, widget
