"""notify-tui's benchmark: how the app copes with a million recipients and many pending messages.

Usage::

    .venv/bin/python benchmarks/run.py            # the full run (about five minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # a small run, for a CI smoke test (~20 s)

It builds its own workspaces in a temporary directory (nothing of the user's is read or
written), measures each figure in a fresh process, and prints progress on stderr and, as its
last line on stdout, one JSON object:

``details_open_s``
    Details of a campaign of ``--recipients`` recipients (1,000,000), from pushing the screen to
    its first full frame (chart, reasons and the table's rows), headless ``run_test`` at 120x40.
``details_end_s``
    Moving the cursor from the first to the last row of that campaign (``End``), to the frame
    that shows it.
``details_sort_s`` and ``details_sort_end_s``
    Pressing ``s`` in Details of that campaign, to the frame with the first rows of the next
    order (failures first, by reason, last update first, by name, send order), and ``End`` in
    it, to the frame with its last row: the slowest order of each.
``details_search_s``
    Searching that campaign: in Details' search box a steady typist (a key every 0.1 s) types
    "olivia", pauses 0.4 s (its search starts), then types " smith" while it runs; the time from
    the last key to the frame that shows the rows of "olivia smith" (5,968 of them), debounce
    (0.2 s) included.
``details_search_key_s`` and ``details_search_stall_s``
    Meanwhile, the longest any key took to show in the box (from when it was due), and the
    longest the UI's event loop could not run (how late a 5 ms sleep woke up).
``rss_mb``
    Peak resident memory of that process with the million-recipient campaign open, before the
    search (``search_rss_mb``: after it).
``details_scroll_stall_s`` and ``details_update_frame_s``
    Details of that campaign with live updates on (the app's poller and the in-process
    sandbox): the longest the event loop could not run (how late a 5 ms sleep woke up) while
    PageDown, sent every 20 ms as a key repeat would, paged through 20,000 rows; then, with the
    Unknown recipients shown (``u``), one of them delivered, written as the poller writes it,
    from the poll cycle's report to the frame without it.
``details_cursor_bytes``, ``details_cursor_first_bytes`` and ``details_cursor_bytes_80x24``
    Bytes written to a real pseudo-terminal by one cursor step (``j``) that does not scroll, in
    Details of that campaign at 200x50 (the most of five steps, and the first step alone) and at
    80x24, the app run with ``run_pty_app`` (live updates off, so only the step writes):
    ``--only cursor``.
``report_s``
    ``notify-tui report``'s work on the million-recipient campaign in a fresh process (the
    workspace open): reading its report (``services.report.campaign_report``: its row, its
    insights tallies, its sender's history, its follow-ups) and writing it as JSON.
``details_breakdown_s`` and ``breakdown_read_s``
    In Details of that campaign (open, its rows shown), from pressing ``b`` to the frame that
    shows its recipients by country; and how long reading the tallies that panel draws takes
    (``store.insights.snapshot``, cold, in that process: what Details' worker adds when it
    opens and after every status change). ``insights_rss_mb``: that process's peak memory.
``history_open_s``
    History with ``--campaigns`` campaigns (10,000), from pushing the screen to its first frame.
``history_sort_s``
    In that History, from pressing ``s`` to the frame that shows the next order's first
    campaigns, for each order but the default: the slowest of the four.
``startup_s``
    From process start to History's first frame, ``python -m notify_tui`` in a real
    pseudo-terminal on the prepared workspace (``NOTIFY_DATA_DIR``; no first-run demo).
``stock_datatable_100k_s``
    The stock Textual ``DataTable`` given ``--datatable-rows`` rows (100,000) of the same
    recipients (already read), from pushing its screen to its first frame: the baseline.
``send_rate``
    Messages per second submitted by ``send_campaign`` to the in-process sandbox, no rate limit
    (``--sends`` messages, 20,000).
``record_s`` and ``record_rate``
    Recording a campaign of ``--recipients`` named recipients (new contacts) into an empty
    workspace with the app's own ``add_recipients``: what every insert-time index costs.
``resolve_rate`` and ``requests_per_1000_resolved``
    Unknown-to-final resolutions per second by ``Poller.poll_once`` loops against the in-process
    sandbox, ``--pending`` (100,000) messages pending in the million-recipient workspace, every
    one final at the sandbox; and the provider requests it took per thousand resolved.
``resolve_rate_with_policy``
    The same with the poller ``notify-tui poll`` and the app run (``Runtime.make_poller``),
    which also applies the opt-out policy to every resolution.

Each figure is the median of ``--runs`` runs (3; the resolve figures of ``--heavy-runs``, 3).
``--db-latency MS`` makes every SQL statement of the measured app wait MS milliseconds first
(a database on another host); the figures are then of that. ``--database-url
postgresql://...`` builds the workspaces on that PostgreSQL database instead of SQLite, each
in a schema of its own named after the work directory (dropped at the end unless
``--workdir`` keeps them), and measures every figure there; the resolve figures' workspace then
holds only the pending messages (a copy of the big campaign per run would take longer than the
run). Flags: ``--quick`` (100,000
recipients, 1,000 campaigns, 10,000 pending, 2,000 sends, 10,000 DataTable rows, one run
each), ``--runs N``, ``--heavy-runs N``, ``--recipients N``, ``--campaigns N``, ``--pending N``,
``--sends N``, ``--datatable-rows N``, ``--only NAME,...`` (details, insights, cursor, history,
startup, datatable, send, resolve, resolve_policy, push, record), ``--workdir DIR``
(build there and keep it: a later run with the same sizes reuses the workspaces).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MEASUREMENTS = (
    "details",
    "insights",
    "cursor",
    "history",
    "startup",
    "datatable",
    "send",
    "resolve",
    "resolve_policy",
    "push",
    "record",
)
CURSOR_SIZES = ((200, 50), (80, 24))
"""Terminal sizes of ``details_cursor_bytes`` (columns, rows)."""
SCROLL_ROWS = 20_000
"""Rows ``details_scroll_stall_s`` pages through with PageDown."""
SIZE = (120, 40)
"""Terminal columns and rows of every UI measurement."""
SEARCH_FIRST, SEARCH_REST = "olivia", " smith"
"""What ``details_search_s`` types into Details' search box, in two bursts."""
TIMEOUT = 300.0
"""No single measurement may take longer than this (seconds)."""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


DATABASE_URL: str | None = None
"""``--database-url``: the PostgreSQL database whose schemas hold the workspaces, or None for
SQLite files in the work directory."""


ON_DATABASE = ("big", "send", "resolve", "resolve_policy", "record")
"""The workspaces ``--database-url`` puts on PostgreSQL (``push`` makes its own on both)."""


WORKDIR = Path()
"""The run's work directory (``--workdir`` or a temporary one): it names the run's schemas."""


def workspace_url(name: str) -> str | None:
    """The URL of the workspace ``name`` on PostgreSQL (None on SQLite)."""
    if DATABASE_URL is None or name not in ON_DATABASE:
        return None
    from benchmarks.postgres import schema_name, schema_url

    return schema_url(DATABASE_URL, schema_name(WORKDIR, name))


def new_workspace(name: str, data_dir: Path) -> str | None:
    """An empty workspace ``name``: a fresh folder, and on PostgreSQL a fresh schema."""
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    if DATABASE_URL is None:
        return None
    from benchmarks.postgres import create_schema

    return create_schema(DATABASE_URL, data_dir.parent, name)


def clean_environment(data_dir: Path) -> dict[str, str]:
    """This process's environment without the user's notify-tui settings, on ``data_dir`` (and
    with ``--database-url``, on the schema of the workspace the folder is named after)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "TWILIO_"))}
    env["NOTIFY_DATA_DIR"] = str(data_dir)
    url = workspace_url(data_dir.name)
    if url is not None:
        env["NOTIFY_DATABASE_URL"] = url
    env["NOTIFY_CONFIG"] = str(data_dir / "no-config.toml")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


# -- building -------------------------------------------------------------------------------------


def build(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The workspaces every measurement uses, built once per set of sizes."""
    from benchmarks.postgres import schema_exists
    from benchmarks.workspace import build_big_campaign, build_many_campaigns, open_db, settle

    sizes = {"recipients": args.recipients, "campaigns": args.campaigns, "pending": args.pending}
    if DATABASE_URL is not None:
        sizes["database"] = DATABASE_URL
    manifest_path = workdir / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("sizes") == sizes and (
            DATABASE_URL is None or schema_exists(DATABASE_URL, workdir, "big")
        ):
            log(f"reusing the workspaces in {workdir}")
            return dict(manifest)
    for name in ("big", "pending-template"):
        shutil.rmtree(workdir / name, ignore_errors=True)
    where = "PostgreSQL" if DATABASE_URL else "SQLite"
    log(f"building {args.campaigns:,} campaigns, one of {args.recipients:,} recipients ({where})")
    started = time.perf_counter()
    db = open_db(workdir / "big", new_workspace("big", workdir / "big"))
    build_many_campaigns(db, args.campaigns - 1, newest_ago=timedelta(hours=2))
    big_id = build_big_campaign(db, args.recipients, sent_ago=timedelta(days=4))
    settle(db)
    db.close()
    log(f"  built in {time.perf_counter() - started:.0f} s")
    manifest = {"sizes": sizes, "big_campaign": big_id}
    manifest_path.write_text(json.dumps(manifest))
    return manifest


def build_resolve_postgres(data_dir: Path, pending: int) -> None:
    """On PostgreSQL, each resolve run's workspace: ``pending`` messages that wait, Unknown, for
    the sandbox's answer, in a schema of their own (without the big campaign: copying a schema
    of a million rows would take longer than the run; the poller reads only what is pending)."""
    from benchmarks.pending import build_pending
    from benchmarks.workspace import open_db, settle

    log(f"  adding {pending:,} pending messages, real in the sandbox, on PostgreSQL")
    db = open_db(data_dir, new_workspace(data_dir.name, data_dir))
    build_pending(db, data_dir / "sandbox.db", pending)
    settle(db)
    db.close()


def build_resolve(workdir: Path, pending: int) -> Path:
    """The big workspace plus ``pending`` messages that wait, Unknown, for the sandbox's answer
    (a template: each run works on a copy)."""
    from benchmarks.pending import build_pending
    from notify_tui.store.db import open_workspace

    target = workdir / "pending-template"
    if (target / "ready").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copy(workdir / "big" / "workspace.db", target / "workspace.db")
    log(f"adding {pending:,} pending messages, real in the sandbox, to a copy")
    started = time.perf_counter()
    db = open_workspace(None, target / "workspace.db")
    build_pending(db, target / "sandbox.db", pending)
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    (target / "ready").write_text("")
    log(f"  added in {time.perf_counter() - started:.0f} s")
    return target


# -- workers: one measurement each, in a process of its own ---------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory. ``VmHWM`` on Linux: ``ru_maxrss`` would count the
    memory of the parent this process was forked from (Linux keeps it across ``exec``)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Frames:
    """The frames an app displays (headless: rendered, then not written), each with the time and
    what ``probe`` said of its screen at that moment."""

    def __init__(self, app: Any, probe: Callable[[Any], Any] = lambda screen: None) -> None:
        self.app = app
        self.probe = probe
        self.shown: list[tuple[float, Any, Any]] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None:
                # What a terminal driver would do with the frame: its escape sequences.
                renderable.render_segments(app.console)
                try:
                    probed = self.probe(screen)
                except Exception:  # a screen still being put together: nothing to tell yet
                    probed = None
                self.shown.append((time.perf_counter(), screen, probed))

        app._display = display

    async def wait(self, after: int, done: Callable[[Any, Any], bool]) -> float:
        """When the first frame from index ``after`` on showed ``done(screen, probed)``."""
        deadline = time.perf_counter() + TIMEOUT
        while time.perf_counter() < deadline:
            for moment, screen, probed in self.shown[after:]:
                if done(screen, probed):
                    return moment
            await asyncio.sleep(0.001)
        raise TimeoutError("no such frame")


def _app(data_dir: Path):  # type: ignore[no-untyped-def]
    from notify_tui.config import load_settings
    from notify_tui.services.runtime import Runtime
    from notify_tui.ui.app import make_app

    runtime = Runtime.open(load_settings())
    return runtime, make_app(runtime, poll=False, first_run_demo=False)


async def work_details(data_dir: Path, manifest: dict[str, Any]) -> dict[str, float]:
    from textual import events

    from notify_tui.store.recipients import RecipientFilter, Sort, count_recipients
    from notify_tui.ui.screens.details import DetailsScreen
    from notify_tui.ui.screens.history import HistoryScreen
    from notify_tui.ui.widgets.filter_input import FilterInput
    from notify_tui.ui.widgets.recipient_table import RecipientTable

    def table_state(screen: Any) -> tuple[int, int, str, str, Sort, bool] | None:
        """(rows, cursor row, search the rows are of, search box, order of the rows, whether
        rows are still being read) as the frame shows them."""
        if not isinstance(screen, DetailsScreen):
            return None
        table = screen.query_one(RecipientTable)
        typed = screen.query_one(FilterInput).value
        flt = table.source.filter
        return table.row_count, table.cursor_row, flt.search, typed, flt.sort, table.reading

    runtime, app = _app(data_dir)
    frames = Frames(app, table_state)
    campaign_id = int(manifest["big_campaign"])
    # How late the event loop runs a 5 ms sleep: anything the UI thread does in one go (a query
    # on it, a long render) shows up as one late wake-up.
    wakeups: list[tuple[float, float]] = []

    async def watch_loop() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            wakeups.append((now, now - last - 0.005))
            last = now

    try:
        async with app.run_test(size=SIZE) as pilot:
            await frames.wait(0, lambda s, _: isinstance(s, HistoryScreen))
            await pilot.pause()
            mark = len(frames.shown)
            started = time.perf_counter()
            app.push_screen(DetailsScreen(campaign_id))
            opened = await frames.wait(mark, lambda _, state: state is not None and state[0] > 0)
            await pilot.pause()
            screen = app.screen
            rows = screen.query_one(RecipientTable).row_count
            mark = len(frames.shown)
            started_end = time.perf_counter()
            await pilot.press("end")
            ended = await frames.wait(
                mark, lambda s, state: s is screen and state[:2] == (rows, rows - 1)
            )
            await pilot.pause()
            rss = peak_rss_mb()
            # Every other order (``s`` cycles them, and back to send order): its first rows,
            # then its last.
            sort_s = sort_end_s = 0.0
            for sort in [*list(Sort)[1:], Sort.SENT]:
                mark = len(frames.shown)
                pressed = time.perf_counter()
                await pilot.press("s")
                shown = await frames.wait(
                    mark,
                    lambda s, state, sort=sort: (
                        s is screen and state[4:] == (sort, False) and state[1] == 0
                    ),
                )
                sort_s = max(sort_s, shown - pressed)
                await pilot.pause()
                mark = len(frames.shown)
                pressed = time.perf_counter()
                await pilot.press("end")
                shown = await frames.wait(
                    mark,
                    lambda s, state: s is screen and state[1] == rows - 1 and not state[5],
                )
                sort_end_s = max(sort_end_s, shown - pressed)
                await pilot.pause()
            # Search: type the first word, pause long enough for its search to start, type the
            # rest while it runs, and wait for the frame with the rows of the whole text.
            await pilot.press("slash")
            await pilot.pause()
            mark = len(frames.shown)
            watcher = asyncio.create_task(watch_loop())
            watched_from = time.perf_counter()
            # A steady typist: each key reaches the driver when it is due, as a terminal's would
            # (``pilot.press`` would wait for the whole process, worker threads too, to idle),
            # and its latency counts from then: a key the app could not take is a late key.
            keys: list[tuple[float, str]] = []
            due = time.perf_counter()
            typed = ""
            for word, pause in ((SEARCH_FIRST, 0.4), (SEARCH_REST, 0.0)):
                for char in word:
                    typed += char
                    keys.append((due, typed))
                    await asyncio.sleep(max(due - time.perf_counter(), 0))
                    key = events.Key("space" if char == " " else char, char)
                    key.set_sender(app)
                    app._driver.send_message(key)
                    due += 0.1
                due += pause
            typed_at = keys[-1][0]
            found = await frames.wait(mark, lambda s, state: s is screen and state[2] == typed)
            # The loop's turn that drew that frame ends after it: wait for the wake-up that
            # measures it too.
            while not wakeups or wakeups[-1][0] <= found:
                await asyncio.sleep(0.005)
            watcher.cancel()
            search_rows = screen.query_one(RecipientTable).row_count
            search_rss = peak_rss_mb()  # before the check below, which reads a lot
            expected = count_recipients(campaign_id, RecipientFilter(search=typed))
            if search_rows != expected:
                raise RuntimeError(f"the search showed {search_rows} rows, not {expected}")
            # A key is shown by the first frame with it in the box (keys that came in together
            # are drawn together).
            key_latency = max(
                next(
                    m
                    for m, s, state in frames.shown[mark:]
                    if s is screen and state[3].startswith(text)
                )
                - at
                for at, text in keys
            )
            # A wake-up at ``at`` ends a stall of ``gap`` that began at ``at - gap``.
            stall = max(
                (gap for at, gap in wakeups if at >= watched_from and at - gap <= found),
                default=0.0,
            )
            await pilot.pause()
    finally:
        await runtime.aclose()
    return {
        "details_open_s": opened - started,
        "details_end_s": ended - started_end,
        "details_sort_s": sort_s,
        "details_sort_end_s": sort_end_s,
        "details_search_s": found - typed_at,
        "details_search_key_s": key_latency,
        "details_search_stall_s": stall,
        "rss_mb": rss,
        "search_rss_mb": search_rss,
        "details_rows": rows,
        "details_search_rows": search_rows,
    }


async def work_details_live(data_dir: Path, manifest: dict[str, Any]) -> dict[str, float]:
    """Details of the big campaign with live updates on: the longest the UI cannot run while
    PageDown pages through ``SCROLL_ROWS`` rows, and one status change to the frame showing it."""
    from textual import events

    from notify_tui.config import load_settings
    from notify_tui.domain.status import Status, classify_message
    from notify_tui.services.poller import PollCycle
    from notify_tui.services.runtime import Runtime
    from notify_tui.store.models import utcnow
    from notify_tui.store.updates import StatusUpdate, apply_updates
    from notify_tui.ui.app import make_app
    from notify_tui.ui.campaign_reads import load_campaign_overview
    from notify_tui.ui.live import PollResult
    from notify_tui.ui.screens.details import DetailsScreen
    from notify_tui.ui.screens.history import HistoryScreen
    from notify_tui.ui.widgets.recipient_table import RecipientTable

    def cursor_row(screen: Any) -> Any:
        """(cursor row, the status of the first row on screen, or None while it is read)."""
        if not isinstance(screen, DetailsScreen):
            return None
        table = screen.query_one(RecipientTable)
        top = table.rows_in_view.start
        row = table._get_row(top)
        return table.cursor_row, top, getattr(row, "status", None), table.row_count

    runtime = Runtime.open(load_settings())
    app = make_app(runtime, poll=True, first_run_demo=False)
    frames = Frames(app, cursor_row)
    campaign_id = int(manifest["big_campaign"])
    wakeups: list[tuple[float, float]] = []

    async def watch_loop() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            wakeups.append((now, now - last - 0.005))
            last = now

    try:
        async with app.run_test(size=SIZE) as pilot:
            await frames.wait(0, lambda s, _: isinstance(s, HistoryScreen))
            app.push_screen(DetailsScreen(campaign_id))
            await frames.wait(0, lambda _, state: state is not None and state[2] is not None)
            screen = app.screen
            table = screen.query_one(RecipientTable)
            await pilot.pause()
            # PageDown as a key repeat would send it (every 20 ms) until SCROLL_ROWS are passed.
            watcher = asyncio.create_task(watch_loop())
            started = time.perf_counter()
            # A small campaign (--quick, the test's run) ends before SCROLL_ROWS: to its last row.
            goal = min(SCROLL_ROWS, table.row_count - 1)
            while table.cursor_row < goal:
                key = events.Key("pagedown", None)
                key.set_sender(app)
                app._driver.send_message(key)
                await asyncio.sleep(0.02)
                if time.perf_counter() - started > TIMEOUT:
                    raise TimeoutError("paging down took too long")
            mark = len(frames.shown)
            await frames.wait(mark, lambda s, state: s is screen and state[2] is not None)
            ended = time.perf_counter()
            watcher.cancel()
            gaps = sorted((gap for at, gap in wakeups if started <= at <= ended), reverse=True)
            stall = gaps[0] if gaps else 0.0
            log(f"  paging down: the longest stalls {', '.join(f'{g:.3f}' for g in gaps[:5])} s")
            # One live change: the Unknown messages shown (``u``), the first of them delivered,
            # written as the poller writes it, and the poll cycle that did it reported; until
            # the frame without it.
            await pilot.press("u")
            deadline = time.perf_counter() + TIMEOUT
            while table.source.filter.status is not Status.UNKNOWN or table.reading:
                if time.perf_counter() > deadline:
                    raise TimeoutError("the Unknown recipients were not shown")
                await asyncio.sleep(0.01)
            await pilot.pause()
            unknown = table.row_count
            row = table._get_row(table.rows_in_view.start)
            assert not isinstance(row, Enum) and row.status is Status.UNKNOWN
            update = StatusUpdate(row.id, classify_message("delivered"))
            applied = await asyncio.to_thread(apply_updates, [update], utcnow())
            cycle = PollCycle(utcnow(), 1, applied, unknown - 1, 1)
            state = await asyncio.to_thread(load_campaign_overview, campaign_id)
            mark = len(frames.shown)
            changed_at = time.perf_counter()
            app.live.statuses_resolved.publish(PollResult(cycle, campaign_id, state))
            shown_at = await frames.wait(
                mark, lambda s, state: s is screen and state[3] == unknown - 1
            )
            await pilot.pause()
    finally:
        await runtime.aclose()
    return {"details_scroll_stall_s": stall, "details_update_frame_s": shown_at - changed_at}


async def work_insights(data_dir: Path, manifest: dict[str, Any]) -> dict[str, float]:
    """``report_s``, ``breakdown_read_s`` and ``details_breakdown_s`` (see the docstring)."""
    from notify_tui.domain.insights import Dimension
    from notify_tui.services.report import campaign_report
    from notify_tui.store.insights import snapshot
    from notify_tui.ui.screens.details import DetailsScreen
    from notify_tui.ui.screens.history import HistoryScreen
    from notify_tui.ui.widgets.breakdown_panel import BreakdownPanel
    from notify_tui.ui.widgets.recipient_table import RecipientTable

    campaign_id = int(manifest["big_campaign"])

    def panel_state(screen: Any) -> tuple[int, Dimension, int] | None:
        """(the table's rows, the panel's dimension, the groups it shows)."""
        if not isinstance(screen, DetailsScreen):
            return None
        panel = screen.query_one(BreakdownPanel)
        groups = panel.table.row_count if panel.table.display else 0
        return screen.query_one(RecipientTable).row_count, panel.dimension, groups

    runtime, app = _app(data_dir)
    try:
        started = time.perf_counter()
        report = campaign_report(campaign_id)
        text = json.dumps(report.to_json())
        report_s = time.perf_counter() - started
        if not text or report.campaign.recipients <= 0:
            raise RuntimeError("an empty report")
        started = time.perf_counter()
        countries = snapshot(campaign_id).breakdown(Dimension.COUNTRY)
        read_s = time.perf_counter() - started
        frames = Frames(app, panel_state)
        async with app.run_test(size=SIZE) as pilot:
            await frames.wait(0, lambda s, _: isinstance(s, HistoryScreen))
            await pilot.pause()
            mark = len(frames.shown)
            app.push_screen(DetailsScreen(campaign_id))
            await frames.wait(mark, lambda _, state: state is not None and state[0] > 0)
            await pilot.pause()
            screen = app.screen
            mark = len(frames.shown)
            pressed = time.perf_counter()
            await pilot.press("b")
            shown = await frames.wait(
                mark,
                lambda s, state: (
                    s is screen and state[1] is Dimension.COUNTRY and state[2] == len(countries)
                ),
            )
            await pilot.pause()
            rss = peak_rss_mb()
    finally:
        await runtime.aclose()
    return {
        "report_s": report_s,
        "breakdown_read_s": read_s,
        "details_breakdown_s": shown - pressed,
        "insights_rss_mb": rss,
    }


async def work_history(data_dir: Path, manifest: dict[str, Any]) -> dict[str, float]:
    from notify_tui.domain.campaign_sort import CampaignSort
    from notify_tui.ui.screens.history import HistoryScreen
    from notify_tui.ui.widgets.campaign_table import CampaignTable

    def rows(screen: Any) -> int:
        return screen.query_one(CampaignTable).row_count if isinstance(screen, HistoryScreen) else 0

    def sorted_by(screen: Any) -> tuple[CampaignSort, int] | None:
        if not isinstance(screen, HistoryScreen):
            return None
        table = screen.query_one(CampaignTable)
        # The order's first rows drawn: its count and chunk read, the cursor on its first one.
        if table.reading or table.current_row is None:
            return None
        return table.source.sort, table.current_row.id

    runtime, app = _app(data_dir)
    frames = Frames(app, rows)
    sorts: dict[str, float] = {}
    try:
        async with app.run_test(size=SIZE) as pilot:
            await frames.wait(0, lambda s, _: isinstance(s, HistoryScreen))
            await pilot.pause()
            first = app.screen
            mark = len(frames.shown)
            started = time.perf_counter()
            app.push_screen(HistoryScreen())
            opened = await frames.wait(mark, lambda s, shown: s is not first and bool(shown))
            campaigns = app.screen.query_one(CampaignTable).row_count
            await pilot.pause()
            frames.probe = sorted_by
            for sort in list(CampaignSort)[1:]:
                mark = len(frames.shown)
                pressed = time.perf_counter()
                await pilot.press("s")
                shown = await frames.wait(
                    mark, lambda _, probed, sort=sort: bool(probed) and probed[0] is sort
                )
                sorts[sort.value] = shown - pressed
                await pilot.pause()
    finally:
        await runtime.aclose()
    return {
        "history_open_s": opened - started,
        "history_campaigns": campaigns,
        # From pressing s to the frame showing the next order's first campaigns: the slowest.
        "history_sort_s": max(sorts.values()),
    }


async def work_datatable(data_dir: Path, manifest: dict[str, Any], rows: int) -> dict[str, float]:
    from textual.app import App, ComposeResult
    from textual.screen import Screen
    from textual.widgets import DataTable

    from notify_tui.store.db import open_workspace
    from notify_tui.store.recipients import RecipientFilter, recipients_at

    db = open_workspace(os.environ.get("NOTIFY_DATABASE_URL"), data_dir / "workspace.db")
    campaign_id = int(manifest["big_campaign"])
    data = [
        (r.phone, r.name, r.status.label, r.reason or "", r.detail or "", f"{r.updated_at:%H:%M}")
        for offset in range(0, rows, 5000)
        for r in recipients_at(campaign_id, RecipientFilter(), offset, min(5000, rows - offset))
    ]
    db.close()

    class TableScreen(Screen[None]):
        def compose(self) -> ComposeResult:
            yield DataTable(cursor_type="row")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_columns("Number", "Name", "Status", "Failed Message Reason", "Detail", "At")
            table.add_rows(data)

    class Baseline(App[None]):
        pass

    def table_rows(screen: Any) -> int:
        return screen.query_one(DataTable).row_count if isinstance(screen, TableScreen) else 0

    app = Baseline()
    frames = Frames(app, table_rows)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        mark = len(frames.shown)
        started = time.perf_counter()
        app.push_screen(TableScreen())
        opened = await frames.wait(mark, lambda _, shown: shown == rows)
        await pilot.pause()
    return {"stock_datatable_100k_s": opened - started, "datatable_rows": len(data)}


async def work_send(data_dir: Path, manifest: dict[str, Any], sends: int) -> dict[str, float]:
    from benchmarks.pending import BODY, SENDER, final_numbers
    from notify_tui.domain.status import CampaignState
    from notify_tui.provider import sandbox_client
    from notify_tui.provider.sandbox import SandboxApp
    from notify_tui.services.sender import prepare_campaign, send_campaign
    from notify_tui.store.db import open_workspace
    from notify_tui.store.sending import NewRecipient

    db = open_workspace(os.environ.get("NOTIFY_DATABASE_URL"), data_dir / "workspace.db")
    recipients = [NewRecipient(p) for p in final_numbers(sends)]
    prepared = prepare_campaign("Send benchmark", BODY, recipients, sender=SENDER)
    sandbox = SandboxApp(state_path=data_dir / "sandbox.db")
    try:
        async with sandbox_client(sandbox) as client:
            started = time.perf_counter()
            result = await send_campaign(client, prepared.campaign_id, rate=None)
            elapsed = time.perf_counter() - started
    finally:
        sandbox.close()
        db.close()
    if result.state != CampaignState.SENT or result.submitted != sends:
        raise RuntimeError(f"the send benchmark did not send everything: {result}")
    return {"send_rate": result.submitted / elapsed}


async def work_record(data_dir: Path, recipients: int) -> dict[str, float]:
    """Recording a campaign's ``recipients`` (named, as the big campaign's are) through the
    app's own ``store.sending.add_recipients``, into an empty workspace: contacts, messages,
    profiles, tallies and whatever indexes the schema keeps up to date on insert."""
    import random

    from benchmarks.workspace import _name, phone_number
    from notify_tui.store.campaigns import create_campaign
    from notify_tui.store.db import open_workspace
    from notify_tui.store.sending import NewRecipient, add_recipients

    db = open_workspace(os.environ.get("NOTIFY_DATABASE_URL"), data_dir / "workspace.db")
    rng = random.Random(2026)
    people = [NewRecipient(phone_number(i), _name(rng)) for i in range(recipients)]
    try:
        campaign_id = create_campaign("Record benchmark", "Hello")
        started = time.perf_counter()
        added = add_recipients(campaign_id, people)
        elapsed = time.perf_counter() - started
    finally:
        db.close()
    if added.queued != recipients:
        raise RuntimeError(f"the record benchmark did not record everything: {added}")
    return {"record_s": elapsed, "record_rate": recipients / elapsed}


async def work_resolve(
    data_dir: Path, manifest: dict[str, Any], template: Path, with_policy: bool
) -> dict[str, float]:
    from notify_tui.config import load_settings
    from notify_tui.provider import sandbox_client
    from notify_tui.provider.sandbox import SandboxApp
    from notify_tui.services.poller import Poller
    from notify_tui.services.runtime import Runtime

    if "NOTIFY_DATABASE_URL" not in os.environ:  # on PostgreSQL, built for this run already
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        shutil.copy(template / "workspace.db", data_dir / "workspace.db")
        shutil.copy(template / "sandbox.db", data_dir / "sandbox.db")
    runtime = Runtime.open(load_settings())
    sandbox = SandboxApp(state_path=data_dir / "sandbox.db")
    client = sandbox_client(sandbox)
    runtime = Runtime(runtime.settings, runtime.database, client)
    poller = runtime.make_poller() if with_policy else Poller(client)
    resolved = cycles = 0
    try:
        started = time.perf_counter()
        deadline = started + TIMEOUT
        while time.perf_counter() < deadline:
            cycle = await poller.poll_once()
            cycles += 1
            resolved += cycle.resolved
            if not poller.sweeping and (cycle.pending == 0 or not cycle.checked):
                break
        elapsed = time.perf_counter() - started
        stats = sandbox.stats()
    finally:
        await runtime.aclose()
        sandbox.close()
    requests = stats["list"] + stats["fetch"]
    key = "resolve_rate_with_policy" if with_policy else "resolve_rate"
    figures = {key: resolved / elapsed, f"{key}_resolved": resolved, f"{key}_cycles": cycles}
    if not with_policy:
        figures["requests_per_1000_resolved"] = 1000 * requests / max(resolved, 1)
    return figures


def delay_statements(milliseconds: float) -> None:
    """Make every SQL statement of this process wait ``milliseconds`` first, as a database on
    another host would (``--db-latency``)."""
    if milliseconds <= 0:
        return
    from peewee import Database

    execute_sql = Database.execute_sql
    delay = milliseconds / 1000

    def delayed(db: Database, sql: str, params: Any = None) -> Any:
        time.sleep(delay)
        return execute_sql(db, sql, params)

    Database.execute_sql = delayed  # type: ignore[method-assign]


def run_worker(args: argparse.Namespace) -> None:
    delay_statements(args.db_latency)
    workdir = Path(args.workdir)
    manifest = json.loads((workdir / "manifest.json").read_text())
    data_dir = Path(os.environ["NOTIFY_DATA_DIR"])
    name = args.worker
    job: Any
    if name == "details":

        async def both() -> dict[str, float]:
            figures = await work_details(data_dir, manifest)
            figures.update(await work_details_live(data_dir, manifest))
            return figures

        job = both()
    elif name == "insights":
        job = work_insights(data_dir, manifest)
    elif name == "history":
        job = work_history(data_dir, manifest)
    elif name == "datatable":
        job = work_datatable(data_dir, manifest, args.datatable_rows)
    elif name == "send":
        job = work_send(data_dir, manifest, args.sends)
    elif name == "record":
        job = work_record(data_dir, args.recipients)
    elif name == "push":
        from benchmarks.push import work_push

        data_dir.mkdir(parents=True, exist_ok=True)
        job = work_push(data_dir)
    elif name in ("resolve", "resolve_policy"):
        template = workdir / "pending-template"
        job = work_resolve(data_dir, manifest, template, name == "resolve_policy")
    else:
        raise SystemExit(f"unknown worker {name}")
    print(json.dumps(asyncio.run(job)), flush=True)


# -- start-up in a pseudo-terminal ----------------------------------------------------------------


def measure_startup(data_dir: Path, marker: str, latency: float = 0.0) -> float:
    """Seconds from spawning ``python -m notify_tui`` in a pseudo-terminal to ``marker`` (the top
    row of History) appearing on it."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    columns, lines = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    env = clean_environment(data_dir)
    env.update(TERM="xterm-256color", COLUMNS=str(columns), LINES=str(lines))
    command = [sys.executable, "-m", "notify_tui"]
    if latency:
        # The same start-up, every statement delayed: through this script, which delays them.
        command = [sys.executable, str(Path(__file__).resolve()), "--startup-app", str(latency)]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=data_dir,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    wanted = marker.encode()
    try:
        while True:
            if time.perf_counter() - started > 60:
                raise TimeoutError(f"History did not show within 60 s: {seen[-300:]!r}")
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                raise RuntimeError(f"the app exited: {seen[-500:]!r}") from None
            seen += chunk
            if wanted in seen:
                return time.perf_counter() - started
    finally:
        with contextlib.suppress(OSError):
            os.write(master, b"\x11")  # ctrl+q
        try:
            deadline = time.monotonic() + 10
            while process.poll() is None and time.monotonic() < deadline:
                if select.select([master], [], [], 0.1)[0]:
                    with contextlib.suppress(OSError):
                        os.read(master, 65536)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            os.close(master)


# -- bytes a cursor step writes to a real terminal ------------------------------------------------


def run_pty_app(campaign_id: int, poll: bool) -> None:
    """The app on the prepared workspace (``NOTIFY_DATA_DIR``), Details of ``campaign_id`` on top
    of History, in this process's terminal (the pseudo-terminal ``measure_cursor_bytes`` made)."""
    from notify_tui.config import load_settings
    from notify_tui.services.runtime import Runtime
    from notify_tui.ui.app import NotifyApp
    from notify_tui.ui.screens.details import DetailsScreen

    class Bench(NotifyApp):
        def on_mount(self) -> None:
            # After NotifyApp's own (Textual calls the most derived first): History, then this.
            self.call_later(self.push_screen, DetailsScreen(campaign_id))

    async def main() -> None:
        runtime = Runtime.open(load_settings())
        try:
            await Bench(runtime, poll=poll, first_run_demo=False).run_async()
        finally:
            await runtime.aclose()

    asyncio.run(main())


def _read_until_quiet(master: int, quiet: float, limit: float = 30.0) -> bytes:
    """What the terminal receives until nothing comes for ``quiet`` seconds."""
    seen = b""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        ready, _, _ = select.select([master], [], [], quiet)
        if not ready:
            return seen
        seen += os.read(master, 65536)
    return seen


def measure_cursor_bytes(
    data_dir: Path, campaign_id: int, size: tuple[int, int], latency: float = 0.0
) -> list[int]:
    """Bytes written to a real pseudo-terminal of ``size`` by each of five cursor steps (``j``)
    that do not scroll, in Details of the big campaign (live updates off: only the step)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    columns, lines = size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    env = clean_environment(data_dir)
    env.update(TERM="xterm-256color", COLUMNS=str(columns), LINES=str(lines))
    command = [sys.executable, str(Path(__file__).resolve()), "--pty-app", str(campaign_id)]
    command += ["--db-latency", str(latency)]
    process = subprocess.Popen(
        command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    steps: list[int] = []
    try:
        seen = b""
        started = time.perf_counter()
        # The reasons panel's title is shorter at 80 columns ("Reasons (r, ...)").
        while b"Reasons" not in seen or b"recipients" not in seen:
            if time.perf_counter() - started > 60:
                raise TimeoutError(f"Details did not show: {seen[-300:]!r}")
            seen += _read_until_quiet(master, 0.5, limit=5)
        _read_until_quiet(master, 1.5)  # every first read drawn, everything still
        for _ in range(5):
            os.write(master, b"j")
            steps.append(len(_read_until_quiet(master, 0.4)))
    finally:
        with contextlib.suppress(OSError):
            os.write(master, b"\x11")  # ctrl+q
        try:
            deadline = time.monotonic() + 10
            while process.poll() is None and time.monotonic() < deadline:
                if select.select([master], [], [], 0.1)[0]:
                    with contextlib.suppress(OSError):
                        os.read(master, 65536)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            os.close(master)
    return steps


# -- the run --------------------------------------------------------------------------------------


def worker_figures(name: str, workdir: Path, data_dir: Path, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--workdir",
        str(workdir),
        "--sends",
        str(args.sends),
        "--datatable-rows",
        str(args.datatable_rows),
        "--recipients",
        str(args.recipients),
        "--db-latency",
        str(args.db_latency),
    ]
    if args.database_url:
        command += ["--database-url", args.database_url]
    done = subprocess.run(
        command,
        env=clean_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=TIMEOUT + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run for CI smoke tests")
    parser.add_argument("--runs", type=int, help="runs per figure (3; --quick: 1)")
    parser.add_argument("--heavy-runs", type=int, help="runs of the resolve figures (3)")
    parser.add_argument("--recipients", type=int, help="recipients of the big campaign")
    parser.add_argument("--campaigns", type=int, help="campaigns in History")
    parser.add_argument("--pending", type=int, help="pending messages to resolve")
    parser.add_argument("--sends", type=int, help="messages to send")
    parser.add_argument("--datatable-rows", type=int, help="rows given to the stock DataTable")
    parser.add_argument("--only", help="comma-separated measurements: " + ", ".join(MEASUREMENTS))
    parser.add_argument("--workdir", help="build and keep the workspaces here")
    parser.add_argument(
        "--db-latency",
        type=float,
        default=0.0,
        metavar="MS",
        help="delay every SQL statement of the measured app by MS milliseconds",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="build the workspaces on this PostgreSQL database (a schema each) instead of SQLite",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--startup-app", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--pty-app", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global DATABASE_URL, WORKDIR
    DATABASE_URL = args.database_url
    if args.startup_app is not None:
        import runpy

        delay_statements(args.startup_app)
        sys.argv = ["notify-tui"]
        runpy.run_module("notify_tui", run_name="__main__")
        return 0
    if args.pty_app is not None:
        delay_statements(args.db_latency)
        run_pty_app(args.pty_app, poll=False)
        return 0
    quick = args.quick
    defaults = {
        "runs": 1 if quick else 3,
        "heavy_runs": 1 if quick else 3,
        "recipients": 100_000 if quick else 1_000_000,
        "campaigns": 1_000 if quick else 10_000,
        "pending": 10_000 if quick else 100_000,
        "sends": 2_000 if quick else 20_000,
        "datatable_rows": 10_000 if quick else 100_000,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.worker:
        run_worker(args)
        return 0
    only = args.only.split(",") if args.only else list(MEASUREMENTS)
    unknown = sorted(set(only) - set(MEASUREMENTS))
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(unknown)}")

    temporary = None
    if args.workdir:
        workdir = Path(args.workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        temporary = tempfile.TemporaryDirectory(prefix="notify-bench-")
        workdir = Path(temporary.name)
    WORKDIR = workdir
    results: dict[str, list[float]] = {}
    started = time.perf_counter()
    try:
        from benchmarks.workspace import NEWEST_NAME

        # The push and record figures build workspaces of their own.
        if set(only) - {"push", "record"}:
            manifest = build(workdir, args)
        else:
            manifest = {}
            (workdir / "manifest.json").write_text("{}")
        big = workdir / "big"
        if {"resolve", "resolve_policy"} & set(only) and DATABASE_URL is None:
            build_resolve(workdir, args.pending)
        for name in only:
            runs = args.heavy_runs if name.startswith("resolve") else args.runs
            for run in range(runs):
                if name == "startup":
                    startup = measure_startup(big, NEWEST_NAME, args.db_latency)
                    figures: dict[str, float] = {"startup_s": startup}
                elif name == "cursor":
                    campaign_id = int(manifest["big_campaign"])
                    latency = args.db_latency
                    wide = measure_cursor_bytes(big, campaign_id, CURSOR_SIZES[0], latency)
                    narrow = measure_cursor_bytes(big, campaign_id, CURSOR_SIZES[1], latency)
                    figures = {
                        "details_cursor_bytes": max(wide),
                        "details_cursor_first_bytes": wide[0],
                        "details_cursor_bytes_80x24": max(narrow),
                    }
                else:
                    shared = name in ("details", "insights", "history", "datatable")
                    data_dir = big if shared else workdir / name
                    if name in ("send", "record"):
                        new_workspace(name, data_dir)
                    elif name.startswith("resolve") and DATABASE_URL is not None:
                        build_resolve_postgres(data_dir, args.pending)
                    figures = worker_figures(name, workdir, data_dir, args)
                shown = ", ".join(f"{k} {v:,.3f}" for k, v in figures.items())
                log(f"{name} {run + 1}/{runs}: {shown}")
                for key, value in figures.items():
                    results.setdefault(key, []).append(value)
    finally:
        if temporary is not None:
            temporary.cleanup()
            if DATABASE_URL is not None:
                from benchmarks.postgres import drop_schema

                for name in ON_DATABASE:
                    drop_schema(DATABASE_URL, workdir, name)
    summary: dict[str, Any] = {k: round(statistics.median(v), 4) for k, v in results.items()}
    summary["quick"] = quick
    summary["runs"] = args.runs
    summary["cores"] = os.cpu_count()
    summary["db_latency_ms"] = args.db_latency
    summary["database"] = "postgresql" if DATABASE_URL else "sqlite"
    summary["elapsed_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
