"""Unknown, told apart (issue 14: 12): the chart shows the messages not sent yet apart from
those waiting for a receipt, and after the receipt window those with no receipt apart from
both; Details' header, History and ``campaigns --json`` count sending the same way, without the
invalid numbers."""

from __future__ import annotations

from datetime import datetime, timedelta

from notify_tui.commands.campaigns import campaign_json
from notify_tui.domain.status import Classification, SendState, Status
from notify_tui.services.runtime import Runtime
from notify_tui.store.campaigns import create_campaign, get_campaign, set_state
from notify_tui.store.models import Message
from notify_tui.store.polling import expire_old
from notify_tui.store.sending import NewRecipient, add_recipients, count_submitted
from notify_tui.store.updates import StatusUpdate, apply_updates
from notify_tui.store.waiting import waiting_of_one
from notify_tui.ui.app import make_app
from notify_tui.ui.widgets.campaign_header import CampaignHeader
from notify_tui.ui.widgets.campaign_table import CampaignTable
from notify_tui.ui.widgets.status_chart import ChartData, StatusChart
from tests.ui.details_support import open_details
from tests.ui.seed import NOW, wait_for_campaigns, wait_until


def fixed_clock() -> datetime:
    return NOW


def half_sent(valid: int, invalid: int, submit: int, at: datetime) -> int:
    """A campaign of ``valid`` good and ``invalid`` bad numbers, ``submit`` of them sent at
    ``at``, left interrupted."""
    campaign_id = create_campaign("Half sent", "Hello!", sender="+15005550006")
    recipients = [NewRecipient(f"+1415555{i:04d}", f"Person {i}") for i in range(valid)]
    recipients += [NewRecipient(f"0{i}", invalid_reason="too short") for i in range(invalid)]
    add_recipients(campaign_id, recipients, now=at)
    set_state(campaign_id, "sending", now=at)
    ids = [
        m.id
        for m in Message.select(Message.id)
        .where((Message.campaign == campaign_id) & (Message.send_state == SendState.PENDING))
        .order_by(Message.id)
    ][:submit]
    apply_updates(
        [
            StatusUpdate(
                i,
                Classification(Status.UNKNOWN),
                provider_status="sent",
                sid=f"SM{i:032x}",
                send_state=SendState.SUBMITTED,
                next_poll_at=at + timedelta(seconds=2),
            )
            for i in ids
        ],
        now=at,
    )
    Message.update(attempted_at=at).where(Message.id.in_(ids)).execute()
    count_submitted(campaign_id, len(ids))
    set_state(campaign_id, "interrupted", now=at)
    return campaign_id


async def test_not_sent_yet_and_waiting_for_a_receipt_are_told_apart(runtime: Runtime) -> None:
    campaign_id = half_sent(valid=6, invalid=3, submit=3, at=NOW - timedelta(minutes=5))
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    app.offer_resume = False
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_campaigns(pilot)
        # History: 3 of the 6 to send, not 3 of 9.
        table = app.screen.query_one(CampaignTable)
        await wait_until(pilot, lambda: "3/6" in table.render_line(1).text)
        await open_details(app, pilot, campaign_id)
        header = app.screen.query_one(CampaignHeader)
        await wait_until(pilot, lambda: "Interrupted: 3 of 6 sent" in header.render().plain)
        chart = app.screen.query_one(StatusChart).render().plain.splitlines()
        rows = {line[:13].strip(): line[13:].split()[-2:] for line in chart[:4]}
        assert rows["Failed"] == ["3", "33.3%"]  # the invalid numbers
        assert rows["Unknown"] == ["3", "33.3%"]  # sent, waiting for a receipt
        assert rows["Not sent yet"] == ["3", "33.3%"]
        assert not any(line.startswith("No receipt") for line in chart)
    campaign = get_campaign(campaign_id)
    assert campaign is not None
    shown = campaign_json(campaign, waiting=waiting_of_one(campaign))
    assert (shown["sent"], shown["to_send"], shown["invalid"]) == (3, 6, 3)
    assert (shown["not_sent_yet"], shown["awaiting_receipt"], shown["no_receipt"]) == (3, 3, 0)


async def test_after_the_receipt_window_no_receipt_is_apart_from_both(runtime: Runtime) -> None:
    sent_at = NOW - timedelta(days=4)
    campaign_id = half_sent(valid=6, invalid=0, submit=4, at=sent_at)
    expire_old(now=NOW)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    app.offer_resume = False
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for_campaigns(pilot)
        await open_details(app, pilot, campaign_id)
        chart = app.screen.query_one(StatusChart)
        await wait_until(pilot, lambda: "No receipt" in chart.render().plain)
        lines = chart.render().plain.splitlines()
        rows = {line[:13].strip(): line[13:].split()[-2:] for line in lines[:5]}
        assert rows["Unknown"] == ["0", "0.0%"]
        assert rows["Not sent yet"] == ["2", "33.3%"]
        assert rows["No receipt"] == ["4", "66.7%"]
        # The sparkline stays below the bars when the chart has room for it.
        assert lines[5].startswith("Resolved")


async def test_on_a_short_chart_the_bars_come_before_the_sparkline() -> None:
    from textual.app import App, ComposeResult

    class ChartApp(App[None]):
        def compose(self) -> ComposeResult:
            yield StatusChart()

    data = ChartData(delivered=5, failed=1, unknown=4, not_sent=2, no_receipt=1, since=NOW)
    app = ChartApp()
    async with app.run_test(size=(60, 10)) as pilot:
        chart = app.query_one(StatusChart)
        chart.update(data)
        await pilot.pause()
        labels = [line[:13].strip() for line in chart.render().plain.splitlines()]
    # Five rows (the chart's height): every bar, and the sparkline in what is left.
    assert labels == ["Delivered", "Failed", "Unknown", "Not sent yet", "No receipt"]
    assert data.awaiting_receipt == 1
