"""History: campaigns newest first, live counters, the name filter, Enter to Details."""

from __future__ import annotations

from notify_tui.domain.status import CampaignState
from notify_tui.services.runtime import SANDBOX_FROM, Runtime
from notify_tui.services.sender import SendProgress, prepare_campaign
from notify_tui.store.campaigns import set_state
from notify_tui.store.models import Campaign, database
from notify_tui.store.sending import NewRecipient, count_submitted
from notify_tui.ui.app import make_app
from notify_tui.ui.screens.details import DetailsScreen
from notify_tui.ui.screens.history import HistoryScreen
from notify_tui.ui.widgets.campaign_table import CampaignTable, recipients_cell
from notify_tui.ui.widgets.filter_input import FilterInput
from tests.provider.support import number_with
from tests.ui.seed import (
    Person,
    fixed_clock,
    seed_campaign,
    seed_history,
    send_live,
    wait_for_campaigns,
    wait_until,
)


def table_of(app: object) -> CampaignTable:
    from textual.app import App

    assert isinstance(app, App)
    return app.screen.query_one(CampaignTable)


async def test_campaigns_newest_first_with_counters(runtime: Runtime) -> None:
    seed_history()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_campaigns(pilot)
        table = table_of(app)
        assert isinstance(app.screen, HistoryScreen)
        names = [table.source.rows(0, 10)[i].name for i in range(3)]
        assert names == ["Restock alert", "Spring sale", "Winter newsletter"]
        spring = table.source.rows(1, 1)[0]
        assert (spring.delivered, spring.failed, spring.unknown) == (5, 5, 2)
        line = table.render_line(2).text  # header, Restock alert, then Spring sale
        assert "Spring sale" in line
        assert " 5 " in line and "41.7%" in line


async def test_sending_campaign_shows_submitted_of_recipients(runtime: Runtime) -> None:
    ids = seed_history()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_campaigns(pilot)
        restock = table_of(app).current_row
        assert restock is not None and restock.id == ids["Restock alert"]
        assert recipients_cell(restock) == "25/40"
        line = table_of(app).render_line(1).text
        assert "sending…" in line and "25/40" in line


async def test_enter_opens_details_and_escape_comes_back(runtime: Runtime) -> None:
    ids = seed_history()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_campaigns(pilot)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        assert app.screen.campaign_id == ids["Spring sale"]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        assert table_of(app).cursor_row == 1  # where the user left it


async def test_filter_by_name(runtime: Runtime) -> None:
    seed_history()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_campaigns(pilot)
        await pilot.press("slash", *"SPRING")
        await wait_until(pilot, lambda: table_of(app).row_count == 1)
        assert table_of(app).current_row.name == "Spring sale"  # type: ignore[union-attr]
        await pilot.press("enter")  # back to the table, filter kept
        assert app.focused is table_of(app)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        await pilot.press("escape", "slash", "escape")  # Escape in the box clears it
        await wait_until(pilot, lambda: table_of(app).row_count == 3)
        assert app.focused is table_of(app)


async def test_ten_thousand_campaigns(runtime: Runtime) -> None:
    rows = [
        {"name": f"Campaign {i:05d}", "body": "Hello", "state": "sent", "recipients": 10}
        for i in range(10_000)
    ]
    with database.atomic():
        for start in range(0, len(rows), 500):
            Campaign.insert_many(rows[start : start + 500]).execute()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_campaigns(pilot)
        table = table_of(app)
        assert table.row_count == 10_000
        assert table.current_row.name == "Campaign 09999"  # type: ignore[union-attr]
        await pilot.press("G")
        assert table.current_row.name == "Campaign 00000"  # type: ignore[union-attr]


async def test_counters_update_live_and_keep_the_cursor(runtime: Runtime) -> None:
    seed_history()
    people = [Person(number_with("delivered", prefix=f"+120255{i}"), f"Live {i}") for i in "67"]
    await send_live(runtime, "Live one", people)
    app = make_app(runtime, first_run_demo=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_campaigns(pilot)
        table = table_of(app)
        await pilot.press("down")
        assert table.current_row.name == "Restock alert"  # type: ignore[union-attr]

        def delivered() -> bool:
            live = table.source.rows(0, 1)[0]
            return live.name == "Live one" and live.delivered == 2

        await wait_until(pilot, delivered)
        await wait_until(pilot, lambda: "Live one" in table.render_line(1).text)
        assert table.cursor_row == 1
        assert table.current_row.name == "Restock alert"  # type: ignore[union-attr]


async def test_a_sending_campaigns_percent_and_fraction_count_the_same_messages(
    runtime: Runtime,
) -> None:
    # Six valid numbers and three invalid ones: the invalid are recipients, never sent.
    people = [NewRecipient(f"+1415555010{i}", f"P{i}") for i in range(6)]
    people += [
        NewRecipient(f"bad{i}", f"B{i}", invalid_reason="not a phone number") for i in range(3)
    ]
    campaign_id = prepare_campaign("CSV", "Hi", people, sender=SANDBOX_FROM).campaign_id
    set_state(campaign_id, CampaignState.SENDING)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        # What the app's sender reports after three creates (issue 14: "sending 50% 3/9").
        count_submitted(campaign_id, 3)
        app.live.send_progress[campaign_id] = SendProgress(campaign_id, 3, 0, 6, 1.0)
        app.live.sends_changed.publish(campaign_id)
        await wait_until(pilot, lambda: "sending 50%" in table_of(app).render_line(1).text)
        line = table_of(app).render_line(1).text
        assert "3/6" in line and "3/9" not in line, line
        count_submitted(campaign_id, 1)
        app.live.send_progress[campaign_id] = SendProgress(campaign_id, 4, 1, 6, 1.0)
        app.live.sends_changed.publish(campaign_id)
        await wait_until(pilot, lambda: "sending 83%" in table_of(app).render_line(1).text)
        assert "5/6" in table_of(app).render_line(1).text


async def test_escape_in_the_table_clears_the_filter(runtime: Runtime) -> None:
    seed_history()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_campaigns(pilot)
        screen = app.screen
        assert screen.check_action("clear_filter", ()) is False  # nothing to clear: not offered
        await pilot.press("slash", *"spring", "enter")  # back to the table, filter kept
        await wait_until(pilot, lambda: table_of(app).row_count == 1)
        assert app.focused is table_of(app)
        assert screen.check_action("clear_filter", ()) is True
        await pilot.press("escape")
        await wait_until(pilot, lambda: table_of(app).row_count == 3)
        assert app.screen is screen and app.focused is table_of(app)
        assert screen.query_one("#history-filter", FilterInput).value == ""


def test_a_page_of_history_costs_the_same_few_statements_however_many_campaigns_it_holds(
    sync_runtime: Runtime,
) -> None:
    # Each statement is a round trip to a PostgreSQL across a network: counting each campaign's
    # alerts on its own made opening History 2,600 statements.
    from peewee import Database

    from notify_tui.ui.widgets.campaign_table import CampaignSource

    def statements_to_read(rows: int) -> int:
        issued: list[str] = []
        execute = Database.execute_sql

        def counting(db: Database, sql: str, params: object = None) -> object:
            issued.append(sql)
            return execute(db, sql, params)

        Database.execute_sql = counting  # type: ignore[method-assign,assignment]
        try:
            source = CampaignSource()
            source.count()
            assert len(source.rows(0, 50)) == rows
        finally:
            Database.execute_sql = execute  # type: ignore[method-assign]
        return len(issued)

    def failing(n: int) -> list[Person]:
        # Each campaign has failures (the only ones with alerts to count).
        return [
            Person(f"+1415556{n:02d}{i:02d}", f"P{i}", 30003 if i % 2 else 30006) for i in range(4)
        ]

    seed_campaign("Sale 1", failing(1))
    few = statements_to_read(1)
    for n in range(2, 13):
        seed_campaign(f"Sale {n}", failing(n))
    assert statements_to_read(12) == few
