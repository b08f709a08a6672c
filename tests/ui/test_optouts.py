"""Opt-outs: every opted-out number, filtered by source and searched; undo except after STOP."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from notify_tui.services.runtime import Runtime
from notify_tui.store.models import Contact, OptOutEvent
from notify_tui.store.optouts import SOURCE_MANUAL, opt_out
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.screens.optouts import OptOutsScreen
from notify_tui.ui.widgets.optout_table import OptOutTable
from tests.ui.seed import (
    HOSTILE_NAMES,
    SPRING,
    Person,
    fixed_clock,
    seed_campaign,
    seed_optouts,
    wait_until,
)
from tests.ui.shown import notifications


@pytest.fixture
def seeded(runtime: Runtime) -> None:
    seed_campaign("Spring sale", SPRING)  # Dana Whitfield replied STOP
    seed_optouts()  # Alan Turing by hand, Edsger Dijkstra by the policy


def table(app: NotifyApp) -> OptOutTable:
    return app.screen.query_one(OptOutTable)


def names(app: NotifyApp) -> list[str]:
    source = table(app).source
    return [r.name for r in source.rows(0, source.count())]


async def open_optouts(app: NotifyApp, pilot: Pilot) -> OptOutsScreen:
    await pilot.press("O")
    await wait_until(pilot, lambda: isinstance(app.screen, OptOutsScreen))
    screen = app.screen
    assert isinstance(screen, OptOutsScreen)
    await wait_until(pilot, lambda: screen.loaded)
    return screen


@pytest.mark.usefixtures("seeded")
async def test_every_opt_out_with_when_why_who_and_source(runtime: Runtime) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 24)) as pilot:
        await open_optouts(app, pilot)
        assert names(app) == ["Alan Turing", "Edsger Dijkstra", "Dana Whitfield"]  # newest first
        lines = [table(app).render_line(y).text for y in range(1, 4)]
        assert "manual" in lines[0] and "ann" in lines[0] and "Mar 04 10:30" in lines[0]
        assert "policy" in lines[1] and "not SMS-capable" in lines[1]
        assert "STOP" in lines[2] and "replied STOP (21610)" in lines[2]
        detail = str(app.screen.query_one("#optout-detail").render())
        assert "+1 415-555-0103 (Alan Turing) · manual · Mar 04 10:30 · by ann" in detail
        assert "Opt-outs · 3 · every source" in str(app.screen.query_one("#optouts-title").render())


@pytest.mark.usefixtures("seeded")
async def test_filter_by_source_and_search(runtime: Runtime) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_optouts(app, pilot)
        await pilot.press("m")
        await wait_until(pilot, lambda: names(app) == ["Alan Turing"])
        await pilot.press("p")
        await wait_until(pilot, lambda: names(app) == ["Edsger Dijkstra"])
        await pilot.press("s")
        await wait_until(pilot, lambda: names(app) == ["Dana Whitfield"])
        title = str(app.screen.query_one("#optouts-title").render())
        assert "1 of 3 · STOP" in title
        await pilot.press("a")
        await wait_until(pilot, lambda: len(names(app)) == 3)
        await pilot.press("slash", *"dijkstra")
        await wait_until(pilot, lambda: names(app) == ["Edsger Dijkstra"])
        # "N of TOTAL" counts of every opt-out, searched or filtered alike (issue 14: it said
        # "1 of 1" for a search and "1 of 3" for a source).
        await wait_until(
            pilot, lambda: "1 of 3" in str(app.screen.query_one("#optouts-title").render())
        )
        title = str(app.screen.query_one("#optouts-title").render())
        assert "Opt-outs · 1 of 3 · every source · matching “dijkstra”" in title
        table(app).focus()
        await pilot.press("s")
        await wait_until(pilot, lambda: names(app) == [])
        assert "0 of 3 · STOP" in str(app.screen.query_one("#optouts-title").render())
        await pilot.press("a")
        await wait_until(pilot, lambda: names(app) == ["Edsger Dijkstra"])
        app.screen.query_one("#optouts-search").focus()
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(names(app)) == 3)
        assert app.focused is table(app)


@pytest.mark.usefixtures("seeded")
async def test_undo_an_opt_out(runtime: Runtime) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_optouts(app, pilot)
        await pilot.press("o")  # Alan Turing, opted out by hand
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Alan Turing" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("n")
        await pilot.pause()
        assert Contact.get(Contact.phone == "+14155550103").opted_out
        await pilot.press("o", "y")
        await wait_until(pilot, lambda: names(app) == ["Edsger Dijkstra", "Dana Whitfield"])
        assert not Contact.get(Contact.phone == "+14155550103").opted_out
        event = (
            OptOutEvent.select()
            .where(OptOutEvent.phone == "+14155550103")
            .order_by(OptOutEvent.id.desc())
            .get()
        )
        assert (event.action, event.actor, event.reason) == (
            "opt_in",
            runtime.settings.operator,
            "opted back in from Opt-outs",
        )


@pytest.mark.usefixtures("seeded")
async def test_stop_is_refused_with_the_reason(runtime: Runtime) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await open_optouts(app, pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: names(app) == ["Dana Whitfield"])
        await pilot.press("o")
        await wait_until(pilot, lambda: any("Can't opt back in" in n for n in notifications(app)))
        refusal = next(n for n in notifications(app) if "Can't opt back in" in n)
        assert "replied STOP" in refusal and "Only they can opt back in" in refusal
        assert not isinstance(app.screen, ConfirmDialog)
        assert Contact.get(Contact.phone == "+15005550004").opted_out
        assert names(app) == ["Dana Whitfield"]


async def test_hostile_names_reasons_and_actors_show_literally(runtime: Runtime) -> None:
    people = [Person(f"+1415555{i:04d}", name) for i, name in enumerate(HOSTILE_NAMES)]
    seed_campaign("Hostile", people)
    for person in people:
        opt_out(
            person.phone,
            source=SOURCE_MANUAL,
            reason="[@click=app.quit]why \x1b[2J",
            actor="[bold]mallory",
        )
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(160, 24)) as pilot:
        await open_optouts(app, pilot)
        lines = [table(app).render_line(y).text for y in range(1, 5)]
        for name in ("[@click=app.quit]x", "Bob [/] Smith", "[bold]x", "␛[31mred␛[0m␛]0;pwned␇"):
            assert any(name in line for line in lines), name
        assert all("[@click=app.quit]why ␛[2J" in line for line in lines)
        assert all("[bold]mallory" in line for line in lines)
        detail = str(app.screen.query_one("#optout-detail").render())
        assert "by [bold]mallory" in detail and "[@click=app.quit]why ␛[2J" in detail
        for row in range(4):
            await pilot.click(OptOutTable, offset=(20, 1 + row))
            await pilot.pause()
        await pilot.click("#optout-detail", offset=(30, 0))
        await pilot.pause()
        assert app.is_running


async def test_thousands_of_opt_outs_are_read_a_page_at_a_time(runtime: Runtime) -> None:
    from notify_tui.store.optouts import OptOutRequest, opt_out_many
    from notify_tui.ui.widgets.virtual_table import CHUNK_SIZE

    phones = [f"+1415556{n:04d}" for n in range(3 * CHUNK_SIZE)]
    for start in range(0, len(phones), 100):  # in batches: each one a bit newer than the last
        opt_out_many(
            [OptOutRequest(p, SOURCE_MANUAL, "asked", "ann") for p in phones[start : start + 100]]
        )
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 24)) as pilot:
        screen = await open_optouts(app, pilot)
        assert len(table(app).source.first) == CHUNK_SIZE  # only the first page was read
        title = str(screen.query_one("#optouts-title").render())
        assert f"Opt-outs · {len(phones):,} · every source" in title
        await pilot.press("G")
        await pilot.pause()
        last = table(app).current_row
        assert last is not None and last.phone in phones[:100]  # the oldest batch comes last
        assert table(app).cursor_row == len(phones) - 1


async def test_scrolling_on_reads_each_page_after_the_last_so_a_new_opt_out_shifts_nothing(
    runtime: Runtime,
) -> None:
    from notify_tui.store.optouts import OptOutRequest, opt_out_many
    from notify_tui.ui.widgets.virtual_table import CHUNK_SIZE

    phones = [f"+1415556{n:04d}" for n in range(3 * CHUNK_SIZE)]
    opt_out_many([OptOutRequest(p, SOURCE_MANUAL, "asked", "ann") for p in phones])
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 24)) as pilot:
        await open_optouts(app, pilot)
        pages = table(app).source
        shown = [r.phone for r in pages.rows(0, CHUNK_SIZE)]
        shown += [r.phone for r in pages.rows(CHUNK_SIZE, CHUNK_SIZE)]
        # Newer than every row: read by offset, the next page would start one row early.
        opt_out("+14155559999", source=SOURCE_MANUAL, reason="asked", actor="bob")
        shown += [r.phone for r in pages.rows(2 * CHUNK_SIZE, CHUNK_SIZE)]
        assert sorted(shown) == sorted(phones)
