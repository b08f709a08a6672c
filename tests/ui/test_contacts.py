"""Contacts: search, each contact's delivery history, and opting out from the list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.pilot import Pilot

from notify_tui.services.runtime import Runtime
from notify_tui.store.models import Contact, OptOutEvent
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.screens.contacts import ContactsScreen
from notify_tui.ui.screens.details import DetailsScreen
from notify_tui.ui.widgets.contact_table import ContactTable
from notify_tui.ui.widgets.delivery_history import DeliveryHistoryTable
from tests.ui.seed import (
    HOSTILE_NAMES,
    SENT_AT,
    SPRING,
    Person,
    fixed_clock,
    seed_campaign,
    wait_until,
)
from tests.ui.shown import notifications


@pytest.fixture
def campaigns() -> dict[str, int]:
    winter = seed_campaign(
        "Winter newsletter",
        [Person("+14155550102", "Grace Hopper"), Person("+14155550101", "Ada Lovelace")],
        sent_at=SENT_AT - timedelta(days=30),
    )
    spring = seed_campaign("Spring sale", SPRING)
    return {"winter": winter, "spring": spring}


def contacts(app: NotifyApp) -> ContactTable:
    return app.screen.query_one(ContactTable)


def history(app: NotifyApp) -> DeliveryHistoryTable:
    return app.screen.query_one(DeliveryHistoryTable)


def names(app: NotifyApp) -> list[str]:
    table = contacts(app)
    return [c.name for c in table.source.rows(0, table.row_count)]


def history_lines(app: NotifyApp) -> list[str]:
    table = history(app)
    return [table.render_line(y).text for y in range(1, 1 + table.row_count)]


async def open_contacts(app: NotifyApp, pilot: Pilot) -> ContactsScreen:
    await pilot.press("c")
    await wait_until(pilot, lambda: isinstance(app.screen, ContactsScreen))
    screen = app.screen
    assert isinstance(screen, ContactsScreen)
    return screen


async def test_search_by_name_and_number(runtime: Runtime, campaigns: dict[str, int]) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_contacts(app, pilot)
        assert contacts(app).row_count == 12
        assert "Contacts · 12" in str(app.screen.query_one("#contacts-title").render())
        await pilot.press("slash", *"hopper")
        await wait_until(pilot, lambda: names(app) == ["Grace Hopper"])
        assert "1 of 12 match “hopper”" in str(app.screen.query_one("#contacts-title").render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: contacts(app).row_count == 12)
        assert app.focused is contacts(app)
        await pilot.press("slash", *"(415) 555-0103")
        await wait_until(pilot, lambda: names(app) == ["Alan Turing"])
        await pilot.press("enter")
        assert app.focused is contacts(app)


async def test_delivery_history_of_the_selected_contact(
    runtime: Runtime, campaigns: dict[str, int]
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 30)) as pilot:
        screen = await open_contacts(app, pilot)
        assert contacts(app).current_row.name == "Grace Hopper"  # type: ignore[union-attr]
        await wait_until(pilot, lambda: screen.history_phone == "+14155550102")
        lines = history_lines(app)
        assert len(lines) == 2  # newest campaign first, one line per campaign
        assert "Spring sale" in lines[0] and "Failed" in lines[0]
        assert "Unreachable destination handset" in lines[0]
        assert "Winter newsletter" in lines[1] and "Delivered" in lines[1]
        title = str(app.screen.query_one("#delivery-title").render())
        assert "Delivery history of +1 415-555-0102 (Grace Hopper)" in title

        await pilot.press("j", "j")  # Alan Turing: only in the spring sale
        await wait_until(pilot, lambda: screen.history_phone == "+14155550103")
        assert len(history_lines(app)) == 1 and "Delivered" in history_lines(app)[0]

        await pilot.press("enter")  # into the history, then Enter opens that campaign
        assert app.focused is history(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        assert app.screen.campaign_id == campaigns["spring"]  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)


async def test_opt_out_and_back_in_from_contacts(
    runtime: Runtime, campaigns: dict[str, int]
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_contacts(app, pilot)
        await pilot.press("j")  # Ada Lovelace
        assert contacts(app).current_row.name == "Ada Lovelace"  # type: ignore[union-attr]
        await pilot.press("o")
        await wait_until(pilot, lambda: contacts(app).current_row.opted_out)  # type: ignore[union-attr]
        assert "manual" in contacts(app).render_line(2).text
        event = OptOutEvent.get(OptOutEvent.phone == "+14155550101")
        assert (event.source, event.actor, event.reason) == (
            "manual",
            runtime.settings.operator,
            "opted out from Contacts",
        )
        # The delivery history's title is read again on a worker after the opt-out.
        await wait_until(
            pilot,
            lambda: "opted out (manual)" in str(screen.query_one("#delivery-title").render()),
        )

        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not contacts(app).current_row.opted_out)  # type: ignore[union-attr]
        assert not Contact.get(Contact.phone == "+14155550101").opted_out


async def test_stop_cannot_be_undone_from_contacts(
    runtime: Runtime, campaigns: dict[str, int]
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await open_contacts(app, pilot)
        await pilot.press("slash", *"Dana", "enter")
        await wait_until(pilot, lambda: names(app) == ["Dana Whitfield"])
        assert "STOP" in contacts(app).render_line(1).text
        await pilot.press("o")
        await wait_until(pilot, lambda: any("replied STOP" in n for n in notifications(app)))
        assert not isinstance(app.screen, ConfirmDialog)
        assert Contact.get(Contact.phone == "+15005550004").opted_out


async def test_hostile_names_show_literally_and_do_nothing(runtime: Runtime) -> None:
    people = [Person(f"+1415555{i:04d}", name, 30003) for i, name in enumerate(HOSTILE_NAMES)]
    seed_campaign("[bold]Camp[/bold] \x1b[2J", people)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(130, 30)) as pilot:
        screen = await open_contacts(app, pilot)
        lines = [contacts(app).render_line(y).text for y in range(1, 5)]
        assert any("[@click=app.quit]x" in line for line in lines)
        assert any("Bob [/] Smith" in line for line in lines)
        assert any("␛[31mred␛[0m␛]0;pwned␇" in line for line in lines)
        assert not any("\x1b" in line for line in lines)
        await wait_until(pilot, lambda: screen.history_phone is not None)
        assert "[bold]Camp[/bold] ␛[2J" in history_lines(app)[0]
        assert "[@click=app.quit]x" in str(screen.query_one("#delivery-title").render())
        for row in range(4):
            await pilot.click(ContactTable, offset=(20, 1 + row))
            await pilot.pause()
        await pilot.click("#delivery-title", offset=(40, 0))
        await pilot.press("o")
        await wait_until(
            pilot, lambda: any(n.startswith("Opt-out: Opted out +1") for n in notifications(app))
        )
        assert app.is_running
