"""Details' search: the scan runs in a worker, the screen says so, and only the latest one shows.

Speed is the benchmark's (``details_search_s``); these tests assert what the user sees and which
thread does the reading, never how long it takes.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from notify_tui.domain.status import Status, classify_message
from notify_tui.services.runtime import Runtime
from notify_tui.store.models import Message, utcnow
from notify_tui.store.recipients import RecipientFilter, RecipientIndex
from notify_tui.store.updates import StatusUpdate, apply_updates
from notify_tui.ui import messages
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.campaign_reads import load_campaign_overview
from notify_tui.ui.widgets import recipient_table
from notify_tui.ui.widgets.recipient_table import RecipientTable
from tests.ui.details_support import names, ok_cycle, open_details, table
from tests.ui.seed import fixed_clock, wait_until
from tests.ui.shown import notifications


def shown(app: NotifyApp) -> tuple[str, int]:
    """The search the table's rows are of, and how many there are."""
    t = table(app)
    return t.source.filter.search, t.row_count


def summary(app: NotifyApp) -> str:
    return str(app.screen.query_one("#filter-summary").render())


class Gate:
    """Holds every search for ``text`` in its worker until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        real = recipient_table.index_recipients

        def index(campaign_id: int, flt: RecipientFilter, *args: Any, **kwargs: Any) -> Any:
            if flt.search != text:
                return real(campaign_id, flt, *args, **kwargs)
            self.entered.set()
            assert self.release.wait(10), "the test never released the search"
            return real(campaign_id, flt, *args, **kwargs)

        monkeypatch.setattr(recipient_table, "index_recipients", index)


async def test_typing_a_search_shows_the_matches_and_their_count(
    runtime: Runtime, spring: int
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("slash", *"HOPPER")
        await wait_until(pilot, lambda: shown(app) == ("HOPPER", 1))
        await pilot.pause()
        assert names(app) == ["Grace Hopper"]
        assert "415-555-0102" in table(app).render_line(1).text
        assert "1 of 12" in summary(app) and "matching “HOPPER”" in summary(app)
        assert "searching" not in summary(app)

        await pilot.press("ctrl+a", "ctrl+k", *"555-011")  # a number, as people type them
        await wait_until(pilot, lambda: shown(app) == ("555-011", 3))
        assert names(app) == ["Margaret Hamilton", "Dennis Ritchie", "Radia Perlman"]
        await pilot.press("f")  # in the box: a letter of the search, not the Failed key
        await wait_until(pilot, lambda: shown(app) == ("555-011f", 0))
        await wait_until(pilot, lambda: "0 of 12" in summary(app))
        assert "No recipients match." in table(app).render_line(1).text

        await pilot.press("enter", "f")  # in the table: Failed, within the search
        await wait_until(pilot, lambda: table(app).source.filter.status is Status.FAILED)
        assert table(app).row_count == 0
        await pilot.press("c")  # clear filters: every recipient again, at once
        assert shown(app) == ("", 12) and "12 recipients" in summary(app)


async def test_a_search_in_progress_says_so_and_the_screen_keeps_answering(
    runtime: Runtime, spring: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(monkeypatch, "hopper")
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("slash", *"hopper")
        await wait_until(pilot, gate.entered.is_set)
        await wait_until(pilot, lambda: "searching…" in summary(app))
        assert "matching “hopper”" in summary(app)
        # The rows shown before stay, and the keys work while the search runs.
        await pilot.press("enter", "j", "j")
        assert shown(app) == ("", 12)
        assert table(app).current_row.name == "Alan Turing"  # type: ignore[union-attr]
        gate.release.set()
        await wait_until(pilot, lambda: shown(app) == ("hopper", 1))
        assert "searching" not in summary(app) and "1 of 12" in summary(app)
        assert table(app).current_row.name == "Grace Hopper"  # type: ignore[union-attr]


async def test_the_search_reads_the_database_off_the_ui_thread(
    runtime: Runtime, spring: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str, int]] = []

    def record(module: Any, name: str) -> None:
        real = getattr(module, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            search = ""
            for arg in (*args, *kwargs.values()):
                if isinstance(arg, RecipientIndex):
                    arg = arg.filter
                if isinstance(arg, RecipientFilter):
                    search = arg.search
            calls.append((name, search, threading.get_ident()))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, call)

    for module, name in (
        (recipient_table, "index_recipients"),
        (recipient_table, "segment_counts"),
        (recipient_table, "recipients_at"),
        (recipient_table, "indexed_recipients"),
    ):
        record(module, name)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        ui_thread = threading.get_ident()  # the app and this test share the event loop
        await open_details(app, pilot, spring)
        await pilot.press("slash", *"hopper")
        await wait_until(pilot, lambda: shown(app) == ("hopper", 1))
        await pilot.pause()
        assert "415-555-0102" in table(app).render_line(1).text  # drawn from what was read
        searched = [(name, thread) for name, search, thread in calls if search]
    assert {"index_recipients", "indexed_recipients"} <= {name for name, _ in searched}
    assert all(thread != ui_thread for _, thread in searched), searched
    # Without a search too: the count and the rows are read on worker threads.
    assert any(name == "segment_counts" for name, _, _ in calls)
    assert all(thread != ui_thread for _, _, thread in calls), calls


async def test_a_slow_older_search_never_replaces_a_newer_one(
    runtime: Runtime, spring: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(monkeypatch, "ada")
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("slash", *"ada")
        await wait_until(pilot, gate.entered.is_set)
        await pilot.press("ctrl+a", "ctrl+k", *"hopper")
        await wait_until(pilot, lambda: shown(app) == ("hopper", 1))
        gate.release.set()  # the search for "ada" finishes now, after the newer one
        searches = [w for w in app.screen.workers if w.group == recipient_table.SEARCH_GROUP]
        await wait_until(pilot, lambda: not any(w.is_running for w in searches))
        await pilot.pause()  # whatever it posted is handled
        assert shown(app) == ("hopper", 1) and names(app) == ["Grace Hopper"]
        assert "matching “hopper”" in summary(app)


async def test_a_result_for_an_older_search_is_dropped(
    runtime: Runtime, spring: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    found: list[messages.RecipientsFound] = []
    real = RecipientTable.on_recipients_found

    def keep(self: RecipientTable, event: messages.RecipientsFound) -> None:
        found.append(event)
        real(self, event)

    monkeypatch.setattr(RecipientTable, "on_recipients_found", keep)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("slash", *"ada")
        await wait_until(pilot, lambda: shown(app) == ("ada", 1))
        await pilot.press("ctrl+a", "ctrl+k", *"hopper")
        await wait_until(pilot, lambda: shown(app) == ("hopper", 1))
        # The race the worker cannot rule out: a result posted just before a newer search began.
        late = next(event for event in found if event.index.filter.search == "ada")
        table(app).post_message(
            messages.RecipientsFound(late.view, late.index, late.pages, late.keep_cursor)
        )
        await pilot.pause()
        assert shown(app) == ("hopper", 1) and names(app) == ["Grace Hopper"]


async def test_live_changes_read_a_search_again_where_the_user_is(
    runtime: Runtime, spring: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recipient_table, "RESEARCH_EVERY", 0.0)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot, spring)
        await pilot.press("slash", *"liskov", "enter", "u")  # Unknown, and "liskov"
        await wait_until(pilot, lambda: table(app).source.filter.status is Status.UNKNOWN)
        assert names(app) == ["Barbara Liskov"]  # Radia Perlman is Unknown too, but not her
        barbara = Message.get((Message.campaign == spring) & (Message.name == "Barbara Liskov"))
        apply_updates([StatusUpdate(barbara.id, classify_message("delivered"))], utcnow())
        # What the poller would post after that change.
        cycle = ok_cycle()
        state = load_campaign_overview(spring)
        screen.post_message(messages.StatusesResolved(cycle, spring, state))
        await wait_until(pilot, lambda: table(app).row_count == 0)
        assert table(app).source.filter == RecipientFilter(search="liskov", status=Status.UNKNOWN)
        assert "0 of 12" in summary(app) and "Unknown" in summary(app)


async def test_a_failed_search_says_so_and_the_summary_tells_what_is_shown(
    runtime: Runtime, spring: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(recipient_table, "index_recipients", broken)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await open_details(app, pilot, spring)
        await pilot.press("slash", *"hopper")
        await wait_until(pilot, lambda: any("disk I/O error" in n for n in notifications(app)))
        await wait_until(pilot, lambda: "searching" not in summary(app))
        # The table still shows every recipient, and the summary says that, not "of hopper".
        assert shown(app) == ("", 12)
        assert "12 recipients" in summary(app) and "hopper" not in summary(app)


async def test_a_search_by_status_is_read_again_at_most_every_few_seconds(
    runtime: Runtime, spring: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recipient_table, "RESEARCH_EVERY", 60.0)
    scans: list[RecipientFilter] = []
    real = recipient_table.index_recipients

    def counted(campaign_id: int, flt: RecipientFilter, *args: Any, **kwargs: Any) -> Any:
        scans.append(flt)
        return real(campaign_id, flt, *args, **kwargs)

    monkeypatch.setattr(recipient_table, "index_recipients", counted)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot, spring)
        await pilot.press("slash", *"liskov", "enter", "u")
        await wait_until(pilot, lambda: table(app).source.filter.status is Status.UNKNOWN)
        assert len(scans) == 2  # "liskov", then "liskov" among the Unknown
        for _ in range(3):  # three poll cycles in a row move statuses
            state = load_campaign_overview(spring)
            screen.post_message(messages.StatusesResolved(ok_cycle(), spring, state))
            await pilot.pause()
        # Every recipient is tested by each read: one more is due later, none now.
        assert len(scans) == 2
        assert names(app) == ["Barbara Liskov"]
        await pilot.press("a")  # another view: read now, and what was due is dropped
        await wait_until(pilot, lambda: table(app).source.filter.status is None)
        assert table(app)._research is None


async def test_a_search_folds_accents_and_case_both_ways(runtime: Runtime) -> None:
    from tests.ui.seed import Person, seed_campaign

    campaign = seed_campaign(
        "Accents",
        [
            Person("+14155550101", "Siobhán Kelly"),
            Person("+14155550102", "SIOBHAN MOORE"),
            Person("+14155550103", "Zoë Ng"),
        ],
    )
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot, campaign)
        await pilot.press("slash", *"siobhan")
        await wait_until(pilot, lambda: shown(app) == ("siobhan", 2))
        assert sorted(names(app)) == ["SIOBHAN MOORE", "Siobhán Kelly"]
        await pilot.press("ctrl+a", "ctrl+k", *"ZOË")
        await wait_until(pilot, lambda: shown(app) == ("ZOË", 1))
        assert names(app) == ["Zoë Ng"]
