"""Details: chart, reasons, filters, search, opt-out, export and live resolution."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Static
from textual.worker import WorkerState

from notify_tui.domain.status import ADVICE, Reason, Status
from notify_tui.provider import sandbox_client
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.provider.sandbox.faults import Faults
from notify_tui.services.runtime import Runtime
from notify_tui.store.models import Contact, Message, OptOutEvent
from notify_tui.store.sending import NewRecipient, add_recipients
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.live import PollResult, Scope
from notify_tui.ui.screens.details import DetailsScreen
from notify_tui.ui.widgets.campaign_table import CampaignTable
from notify_tui.ui.widgets.reason_list import ReasonList
from notify_tui.ui.widgets.status_chart import StatusChart
from tests.provider.support import number_with
from tests.ui.details_support import details, names, ok_cycle, open_details, table
from tests.ui.seed import (
    SPRING,
    Person,
    fixed_clock,
    seed_big_campaign,
    seed_campaign,
    send_live,
    wait_until,
)
from tests.ui.shown import notifications


async def test_chart_counts_and_reasons(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        chart = app.screen.query_one(StatusChart)
        assert (chart.data.delivered, chart.data.failed, chart.data.unknown) == (5, 5, 2)
        drawn = chart.render().plain
        assert "Delivered" in drawn and "41.7%" in drawn and "16.7%" in drawn
        assert sum(d + f for _, d, f in chart.data.series) == 10
        reasons = app.screen.query_one(ReasonList).reasons
        assert reasons[0] == (Reason.UNREACHABLE_HANDSET.value, 2)
        assert {r for r, _ in reasons} == {
            Reason.UNREACHABLE_HANDSET.value,
            Reason.LANDLINE.value,
            Reason.CARRIER_VIOLATION.value,
            Reason.HTTP_400.value,
        }
        advice = str(app.screen.query_one("#advice").render())
        assert ADVICE[Reason.UNREACHABLE_HANDSET][:40] in advice.replace("\n", " ")
        assert table(app).row_count == 12


async def test_status_keys(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        expected = {"d": (Status.DELIVERED, 5), "f": (Status.FAILED, 5), "u": (Status.UNKNOWN, 2)}
        for key, (status, n) in expected.items():
            await pilot.press(key)
            # The view is read on a worker: under load it can come after the key's turn.
            await wait_until(
                pilot,
                lambda s=status: table(app).source.filter.status is s and not table(app).reading,
            )
            rows = table(app).source.rows(0, 100)
            assert table(app).row_count == n
            assert {row.status for row in rows} == {status}
        await pilot.press("a")
        await wait_until(pilot, lambda: table(app).row_count == 12 and not table(app).reading)
        assert details(app).filter.status is None


async def test_reason_filter_toggles(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("r", "enter")
        assert details(app).filter.reason == Reason.UNREACHABLE_HANDSET.value
        assert sorted(names(app)) == ["Frances Allen", "Grace Hopper"]
        summary = str(app.screen.query_one("#filter-summary").render())
        assert "Unreachable destination handset" in summary
        await pilot.press("enter")  # again: cleared
        assert details(app).filter.reason is None
        # The count is read on a worker: under load it can come after the key's turn.
        await wait_until(pilot, lambda: table(app).row_count == 12)
        await pilot.press("down", "enter", "c")  # another reason, then "clear filters"
        assert details(app).filter.reason is None
        await wait_until(pilot, lambda: table(app).row_count == 12 and not table(app).reading)


async def test_reason_click_filters(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.click(ReasonList, offset=(5, 0))
        await pilot.pause()
        assert details(app).filter.reason == Reason.UNREACHABLE_HANDSET.value


async def test_search_by_name_and_number(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("slash", *"hopper")
        await wait_until(pilot, lambda: names(app) == ["Grace Hopper"])
        await pilot.press("escape")
        await wait_until(pilot, lambda: table(app).row_count == 12)
        assert app.focused is table(app)
        await pilot.press("slash", *"(415) 555-0103")
        await wait_until(pilot, lambda: names(app) == ["Alan Turing"])
        await pilot.press("enter")
        assert app.focused is table(app)
        assert details(app).filter.search == "(415) 555-0103"


def summary(app: NotifyApp) -> str:
    return str(app.screen.query_one("#filter-summary").render())


def header(app: NotifyApp) -> str:
    return table(app).render_line(0).text


FAILED_FIRST = [
    "Grace Hopper",
    "Edsger Dijkstra",
    "Frances Allen",
    "Dana Whitfield",
    "Margaret Hamilton",
    "Barbara Liskov",
    "Radia Perlman",
    "Ada Lovelace",
    "Alan Turing",
    "Donald Knuth",
    "Ken Thompson",
    "Dennis Ritchie",
]
BY_REASON = [
    "Margaret Hamilton",  # Carrier violation
    "Dana Whitfield",  # HTTP 400 error - Unable to create record (STOP)
    "Edsger Dijkstra",  # Landline or unreachable carrier
    "Grace Hopper",  # Unreachable destination handset
    "Frances Allen",
    "Barbara Liskov",  # Unknown
    "Radia Perlman",
    "Ada Lovelace",  # Delivered
    "Alan Turing",
    "Donald Knuth",
    "Ken Thompson",
    "Dennis Ritchie",
]


async def test_s_cycles_the_orders_a_user_looks_for(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_details(app, pilot, spring)
        sent = [person.name for person in SPRING]
        assert names(app) == sent
        await pilot.press("s")
        await wait_until(pilot, lambda: names(app) == FAILED_FIRST)
        assert "failures first" in summary(app)
        assert "Status ▾" in header(app) and "Name ▾" not in header(app)
        await pilot.press("s")
        await wait_until(pilot, lambda: names(app) == BY_REASON)
        assert "by reason" in summary(app) and "Failed Message Reason ▾" in header(app)
        await pilot.press("s")
        await wait_until(pilot, lambda: "last update first" in summary(app))
        assert "Updated▾" in header(app)  # shown from 96 columns
        rows = table(app).source.rows(0, 12)
        assert [(r.updated_at, r.id) for r in rows] == sorted(
            ((r.updated_at, r.id) for r in rows), reverse=True
        )
        await pilot.press("s")
        await wait_until(pilot, lambda: names(app) == sorted(sent))
        assert "by name" in summary(app) and "Name ▾" in header(app)
        await pilot.press("s")
        await wait_until(pilot, lambda: names(app) == sent)
        assert "first" not in summary(app) and "by " not in summary(app)
        assert "▾" not in header(app)
        # Back the other way, and the order stays through a filter and its clearing.
        await pilot.press("S")
        await wait_until(pilot, lambda: names(app) == sorted(sent))
        await pilot.press("f")
        await wait_until(pilot, lambda: table(app).row_count == 5)
        assert names(app) == sorted(n for n in FAILED_FIRST[:5])
        await pilot.press("c")
        await wait_until(pilot, lambda: table(app).row_count == 12)
        assert names(app) == sorted(sent) and "by name" in summary(app)


async def test_a_search_keeps_the_order(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("s")
        await wait_until(pilot, lambda: names(app) == FAILED_FIRST)
        await pilot.press("slash", *"an", "enter")
        # Of the names with "an": the failures first, then Unknown, then Delivered.
        wanted = [name for name in FAILED_FIRST if "an" in name.lower()]
        await wait_until(pilot, lambda: names(app) == wanted)
        assert "failures first" in summary(app) and "matching “an”" in summary(app)


async def test_opt_out_and_back_in(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("j", "j")
        assert table(app).current_row.name == "Alan Turing"  # type: ignore[union-attr]
        await pilot.press("o")
        await wait_until(pilot, lambda: table(app).current_row.opted_out)  # type: ignore[union-attr]
        assert "opted out" in table(app).render_line(3).text
        contact = Contact.get(Contact.phone == "+14155550103")
        assert contact.opted_out and contact.opt_out_source == "manual"
        event = OptOutEvent.select().where(OptOutEvent.phone == "+14155550103").get()
        assert event.actor == runtime.settings.operator
        assert event.reason == "opted out from Details (Delivered)"
        assert event.campaign_id == spring
        assert table(app).cursor_row == 2

        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await wait_until(pilot, lambda: not table(app).current_row.opted_out)  # type: ignore[union-attr]
        assert not Contact.get(Contact.phone == "+14155550103").opted_out
        events = OptOutEvent.select().where(OptOutEvent.phone == "+14155550103")
        actions = [(e.action, e.reason) for e in events.order_by(OptOutEvent.id)]
        assert actions == [
            ("opt_out", "opted out from Details (Delivered)"),
            ("opt_in", f"opted back in from Details (campaign {spring})"),
        ]

        await pilot.press("o")  # out again, then "no" to opting back in keeps it out
        await wait_until(pilot, lambda: table(app).current_row.opted_out)  # type: ignore[union-attr]
        await pilot.press("o", "n")
        await pilot.pause()
        assert Contact.get(Contact.phone == "+14155550103").opted_out


async def test_stop_cannot_be_undone(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        table(app).move_cursor(7)
        await pilot.pause()
        row = table(app).current_row
        assert row is not None and row.name == "Dana Whitfield" and row.opted_out
        assert "STOP" in table(app).render_line(8).text
        # Filed under "HTTP 400 error", but the advice is its code's, not badly formatted
        # numbers' (issue 14).
        detail = app.screen.query_one("#row-detail", Static).content
        assert isinstance(detail, Text)
        assert "HTTP 400 error - Unable to create record" in detail.plain
        assert "opted out by replying STOP" in detail.plain
        assert ADVICE[Reason.HTTP_400] not in detail.plain
        await pilot.press("o")
        await wait_until(pilot, lambda: any("replied STOP" in n for n in notifications(app)))
        assert not isinstance(app.screen, ConfirmDialog)
        assert Contact.get(Contact.phone == "+15005550004").opted_out


async def test_an_invalid_number_has_nothing_to_opt_out(runtime: Runtime, spring: int) -> None:
    add_recipients(spring, [NewRecipient("555-01", "Typo Tom", invalid_reason="too short")])
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("G")
        assert table(app).current_row.name == "Typo Tom"  # type: ignore[union-attr]
        await pilot.press("o")
        await wait_until(
            pilot, lambda: any("not a valid phone number" in n for n in notifications(app))
        )
        assert (
            OptOutEvent.select().count() == 0
            or not OptOutEvent.select().where(OptOutEvent.phone == "555-01").exists()
        )


async def test_unknown_becomes_delivered_live(runtime: Runtime) -> None:
    people = [Person(number_with("delivered", prefix=f"+120255{i}"), f"Live {i}") for i in "67"]
    campaign_id = await send_live(runtime, "Live one", people)
    app = make_app(runtime, first_run_demo=False)
    async with app.run_test(size=(80, 24)) as pilot:
        campaigns = app.screen.query_one(CampaignTable)
        await wait_until(pilot, lambda: campaigns.current_row is not None)
        await pilot.press("enter")  # from History
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        screen = details(app)
        assert screen.campaign_id == campaign_id
        chart = app.screen.query_one(StatusChart)
        await wait_until(pilot, lambda: chart.data.delivered == 2)
        assert chart.data.unknown == 0
        assert sum(d for _, d, _ in chart.data.series) == 2
        rows = table(app).source.rows(0, 2)
        assert [r.status for r in rows] == [Status.DELIVERED, Status.DELIVERED]
        # The rows are read again on a worker after the chart moved: drawn a moment later.
        await wait_until(pilot, lambda: "Delivered" in table(app).render_line(1).text)
        assert "last checked" in screen.header.render().plain


async def test_live_updates_keep_cursor_and_scroll(runtime: Runtime) -> None:
    people = [Person(f"+1415666{i:04d}", f"Person {i}") for i in range(60)]
    campaign_id = await send_live(runtime, "Sixty", people)
    app = make_app(runtime, first_run_demo=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, campaign_id)
        t = table(app)
        t.move_cursor(40)
        await pilot.pause()
        scroll, cursor = t.scroll_y, t.cursor_row
        assert scroll > 0
        chart = app.screen.query_one(StatusChart)
        await wait_until(pilot, lambda: chart.data.unknown < 55)
        await pilot.pause()
        assert (t.scroll_y, t.cursor_row) == (scroll, cursor)
        worker = app.live.poll_worker
        assert worker is not None and worker.is_running
        assert app.live.scope is not None and app.live.scope.campaign_id == campaign_id


async def test_polling_follows_the_screen_on_top(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, first_run_demo=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.live.poll_worker is not None)
        everything = app.live.poll_worker
        assert everything is not None and app.live.scope == Scope(None)
        screen = await open_details(app, pilot, spring)
        await wait_until(pilot, lambda: everything.state is WorkerState.CANCELLED)
        worker = app.live.poll_worker
        assert worker is not None and worker is not everything
        await wait_until(pilot, lambda: worker.state is WorkerState.RUNNING)
        await pilot.press("escape")
        await wait_until(pilot, lambda: worker.state is WorkerState.CANCELLED)
        assert not [w for w in app.workers if w.node is screen]
        # Back on History, every campaign is followed again, by one worker.
        await wait_until(pilot, lambda: app.live.poll_worker not in (None, worker))
        assert app.live.scope is not None and app.live.scope.campaign_id is None
        assert len([w for w in app.workers if w.group == "poll" and not w.is_finished]) == 1


async def test_provider_trouble_is_one_notification(tmp_path: Path) -> None:
    from notify_tui.config import load_settings

    sandbox = SandboxApp(speed=40.0, seed=7)
    opened = Runtime.open(load_settings())
    runtime = Runtime(opened.settings, opened.database, sandbox_client(sandbox, max_retries=0))
    people = [Person(f"+1415777{i:04d}", f"Person {i}") for i in range(5)]
    campaign_id = await send_live(runtime, "Troubled", people)
    sandbox.faults = Faults(error_rate=1.0)
    app = make_app(runtime, first_run_demo=False)
    try:
        async with app.run_test(notifications=True, size=(80, 24)) as pilot:
            await open_details(app, pilot, campaign_id)
            title = "The provider is not answering"
            await wait_until(pilot, lambda: any(title in n for n in notifications(app)))
            # Every later cycle that fails stays quiet...
            for _ in range(5):
                app.live.statuses_resolved.publish(PollResult(_error_cycle(), campaign_id))  # type: ignore[arg-type]
            await pilot.pause()
            assert sum(title in n for n in notifications(app)) == 1
            # ...until the provider answers again.
            app.live.statuses_resolved.publish(PollResult(ok_cycle(), campaign_id))
            await wait_until(pilot, lambda: any("answers again" in n for n in notifications(app)))
    finally:
        await runtime.aclose()
        sandbox.close()


async def test_a_broken_poll_loop_is_one_notification_and_goes_on(
    runtime: Runtime, spring: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("notify_tui.services.poller.MAX_BACKOFF", 0.01)
    calls = 0

    async def broken(campaign_id: int | None = None) -> object:
        nonlocal calls
        calls += 1
        raise RuntimeError("database is locked")

    app = make_app(runtime, first_run_demo=False)
    monkeypatch.setattr(app.live.poller, "poll_once", broken)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await wait_until(pilot, lambda: calls >= 5)
        paused = [n for n in notifications(app) if "Live updates paused" in n]
        assert len(paused) == 1 and "database is locked" in paused[0]
        assert app.is_running


def _error_cycle() -> object:
    from datetime import datetime

    from notify_tui.services.poller import PollCycle
    from notify_tui.store.updates import AppliedUpdates

    return PollCycle(datetime(2025, 1, 1), 3, AppliedUpdates(), 3, 3, "HTTP 500 (20500)")


async def test_hundred_thousand_recipients_open_at_once(runtime: Runtime) -> None:
    campaign_id = seed_big_campaign(100_000)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        started = time.perf_counter()
        await open_details(app, pilot, campaign_id)
        opened = time.perf_counter() - started
        assert table(app).row_count == 100_000

        def current_name() -> str | None:
            row = table(app).current_row
            return row.name if row is not None else None

        # Each count and chunk is read on a worker: under load it can come after the key's turn.
        await pilot.press("G")
        await wait_until(pilot, lambda: current_name() == "Person 99999")
        await pilot.press("f")
        await wait_until(pilot, lambda: table(app).row_count == 20_000)
        await pilot.press("G")
        await wait_until(pilot, lambda: current_name() == "Person 99998")
    # Measured, not asserted (the benchmark script owns speed): shown with -s.
    print(f"\nDetails of 100,000 recipients opened in {opened * 1000:.0f} ms")


async def test_statuses_are_words_in_theme_colours(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        t = table(app)
        colours = {}
        for y, word in ((2, "Failed"), (3, "Delivered"), (5, "Unknown")):
            segment = next(s for s in t.render_line(y) if s.text.strip() == word)
            assert segment.style is not None and segment.style.color is not None
            colours[word] = segment.style.color
        assert len(set(colours.values())) == 3


async def test_a_campaign_that_is_gone_goes_back_to_history(runtime: Runtime) -> None:
    from notify_tui.ui.screens.history import HistoryScreen

    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await app.push_screen(DetailsScreen(4242))
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await wait_until(pilot, lambda: any("4242" in n for n in notifications(app)))


async def test_the_line_under_the_table_says_why_a_message_is_still_unknown(
    runtime: Runtime,
) -> None:
    campaign_id = seed_campaign(
        "Receipts", [Person("+14155550170", "Ann Sent", "unknown"), Person("+14155550171", "Bo")]
    )
    add_recipients(campaign_id, [NewRecipient("+14155550172", "Cy Pending")])
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(200, 30)) as pilot:
        await open_details(app, pilot, campaign_id)
        said = {}
        for row in range(3):
            table(app).move_cursor(row)
            await pilot.pause()
            current = table(app).current_row
            assert current is not None
            detail = app.screen.query_one("#row-detail", Static).content
            said[current.name] = str(detail)
        assert "sent: the carrier has it, and has sent no delivery receipt yet" in said["Ann Sent"]
        assert "up to 72 h; some never do" in said["Ann Sent"]
        assert "not sent yet: waiting its turn to be submitted" in said["Cy Pending"]
        assert "not sent yet" not in said["Bo"] and "receipt" not in said["Bo"]


async def test_reasons_list_stops_at_its_ends_and_jumps_with_g(
    runtime: Runtime, spring: int
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("r")
        reasons = app.screen.query_one(ReasonList)
        last = len(reasons.reasons) - 1
        assert reasons.highlighted == 0
        await pilot.press("k", "up")  # at the top: stays, no wrap to the last
        assert reasons.highlighted == 0
        await pilot.press("G")
        assert reasons.highlighted == last
        await pilot.press("j", "down")  # at the bottom: stays, no wrap to the first
        assert reasons.highlighted == last
        await pilot.press("g")
        assert reasons.highlighted == 0


async def test_the_cursor_stays_on_its_recipient_when_the_rows_move(
    runtime: Runtime, spring: int
) -> None:
    """In last update first, a recipient that resolves comes to the top: the selected one moves
    down a row, and the cursor with it (else ``o`` would opt out whoever took its place)."""
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("s", "s", "s")
        await wait_until(pilot, lambda: "last update first" in summary(app))
        await wait_until(pilot, lambda: not table(app).reading)
        await pilot.press("j", "j")
        selected = table(app).current_row
        assert selected is not None and table(app).cursor_row == 2
        below = table(app).source.rows(5, 1)[0]
        later = Message.get_by_id(below.id).updated_at + timedelta(hours=1)
        Message.update(updated_at=later).where(Message.id == below.id).execute()
        table(app).refresh_after_updates(statuses_moved=True)
        await wait_until(pilot, lambda: names(app)[0] == below.name)
        await wait_until(pilot, lambda: table(app).cursor_row == 3)
        assert table(app).current_row.id == selected.id  # type: ignore[union-attr]
