"""Details' alert banner: what was seen and what to do; ``x`` (or a click) shows the recipients
it is about, ``w`` tells every alert in full."""

from __future__ import annotations

from textual.widgets import Button, Static

from notify_tui.domain.alerts import AlertKind
from notify_tui.services.runtime import Runtime
from notify_tui.ui.app import make_app
from notify_tui.ui.dialogs.alerts import AlertsDialog
from notify_tui.ui.widgets.alert_banner import AlertBanner
from notify_tui.ui.widgets.campaign_table import CampaignTable
from tests.ui.details_support import names, open_details, table
from tests.ui.seed import Person, fixed_clock, seed_campaign, wait_for_campaigns, wait_until
from tests.ui.shown import lines_of, notifications

FILTERED = [
    *[Person(f"+1415555{i:04d}", f"Reader {i}") for i in range(400, 420)],
    Person("+14155550420", "Filtered One", 30007),
    Person("+14155550421", "Filtered Two", 30007),
    Person("+14155550422", "Off Phone", 30003),
]
"""Two carrier violations in 23 messages: well above the 1% carriers tolerate."""

CLEAN = [Person(f"+1415555{i:04d}", f"Reader {i}") for i in range(500, 510)]


async def test_banner_says_what_was_seen_and_x_shows_the_rows(runtime: Runtime) -> None:
    campaign = seed_campaign("Promo", FILTERED)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot, campaign)
        banner = screen.query_one(AlertBanner)
        assert banner.display
        assert [a.kind for a in banner.alerts] == [AlertKind.CARRIER_VIOLATION]
        first, second = lines_of(banner)
        assert first.startswith("⚠ Carriers are filtering this campaign: 2 of 23")
        assert second.startswith("x show them · w why, what to do · Check the sender's A2P")
        assert len(first.rstrip()) <= 80
        await pilot.press("x")
        await wait_until(pilot, lambda: table(app).row_count == 2 and not table(app).reading)
        assert sorted(names(app)) == ["Filtered One", "Filtered Two"]
        summary = str(screen.query_one("#filter-summary", Static).render())
        assert "2 of 23" in summary and "code 30007" in summary
        await pilot.press("a")  # every status again, and no alert's codes
        await wait_until(pilot, lambda: table(app).row_count == 23)


async def test_w_tells_why_and_what_to_do_and_its_button_filters(runtime: Runtime) -> None:
    campaign = seed_campaign("Promo", FILTERED)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, campaign)
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, AlertsDialog))
        dialog = app.screen
        text = " ".join(str(s.render()) for s in dialog.query(".alert-text").results(Static))
        assert "Seen: 2 of 23 messages" in text
        assert "Why: Carriers blocked the content or the sender" in text
        assert "What to do: Check the sender's A2P 10DLC" in text
        button = dialog.query_one("#alert-0", Button)
        assert str(button.label) == "Show these 2 recipients"
        await pilot.click(button)
        await wait_until(pilot, lambda: not isinstance(app.screen, AlertsDialog))
        await wait_until(pilot, lambda: table(app).row_count == 2 and not table(app).reading)


async def test_no_alert_no_banner_and_the_keys_say_why(runtime: Runtime) -> None:
    campaign = seed_campaign("Clean", CLEAN)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await open_details(app, pilot, campaign)
        assert not screen.query_one(AlertBanner).display
        await pilot.press("x")
        await wait_until(pilot, lambda: bool(notifications(app)))
        assert notifications(app) == [
            "Alerts: Nothing about this campaign needs acting on: no alert."
        ]
        assert table(app).row_count == 10


async def test_history_marks_the_campaigns_with_alerts(runtime: Runtime) -> None:
    seed_campaign("Promo", FILTERED)
    seed_campaign("Clean", CLEAN)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_campaigns(pilot)
        rows = lines_of(app.screen.query_one(CampaignTable))[1:3]
        assert rows[0].startswith(" Clean ")
        assert rows[1].startswith(" ⚠ Promo ")
        title = str(app.screen.query_one("#history-title", Static).render())
        assert "⚠ alerts" in title


async def test_the_alert_gives_way_to_the_advice_while_going_through_reasons(
    runtime: Runtime,
) -> None:
    campaign = seed_campaign("Promo", FILTERED)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot, campaign)
        banner = screen.query_one(AlertBanner)
        advice = screen.query_one("#advice", Static)
        top = banner.region.y
        assert banner.display and not advice.display
        await pilot.press("r")
        await pilot.pause()
        assert advice.display and not banner.display
        assert advice.region.y == top  # the same two lines: the table does not move
        assert "Carrier violation:" in str(advice.render())
        await pilot.press("r")
        await pilot.pause()
        assert banner.display and not advice.display
