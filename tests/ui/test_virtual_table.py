"""VirtualTable: what the user sees and what the source is asked for."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pytest
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.strip import Strip

from notify_tui.ui.text import safe_text
from notify_tui.ui.widgets.virtual_table import (
    CHUNK_SIZE,
    Column,
    VirtualTable,
    column_widths,
)
from tests.ui.seed import wait_until

SIZE = (80, 24)
BODY_HEIGHT = SIZE[1] - 1  # the header takes the first line


@dataclass(frozen=True)
class Recipient:
    index: int
    name: str
    phone: str
    status: str


def recipient(index: int) -> Recipient:
    return Recipient(index, f"Person {index}", f"+4477009{index:05d}", "Delivered")


class ListSource:
    """Rows held in a list; records every call."""

    def __init__(self, rows: Sequence[Recipient]) -> None:
        self.data = list(rows)
        self.count_calls = 0
        self.rows_calls: list[tuple[int, int]] = []

    def count(self) -> int:
        self.count_calls += 1
        return len(self.data)

    def rows(self, offset: int, limit: int) -> Sequence[Recipient]:
        self.rows_calls.append((offset, limit))
        return self.data[offset : offset + limit]


class GeneratedSource:
    """As many rows as asked for, made on demand (a million would not fit in a test list)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.count_calls = 0
        self.rows_calls: list[tuple[int, int]] = []

    def count(self) -> int:
        self.count_calls += 1
        return self.total

    def rows(self, offset: int, limit: int) -> Sequence[Recipient]:
        self.rows_calls.append((offset, limit))
        return [recipient(i) for i in range(offset, min(offset + limit, self.total))]


COLUMNS: list[Column[Recipient]] = [
    Column("index", "#", render=lambda r: str(r.index), width=7, justify="right"),
    Column("name", "Name", render=lambda r: r.name, min_width=12, ratio=2),
    Column("phone", "Phone", render=lambda r: r.phone, width=14),
    Column("status", "Status", render=lambda r: Text(r.status, style="green"), min_width=9),
]


class TableApp(App[None]):
    def __init__(self, source: object, **table_options: object) -> None:
        super().__init__()
        self.source = source
        self.table_options = table_options
        self.moved: list[VirtualTable.CursorMoved] = []
        self.activated: list[VirtualTable.RowActivated] = []

    def compose(self) -> ComposeResult:
        yield VirtualTable(COLUMNS, self.source, id="recipients", **self.table_options)

    def on_virtual_table_cursor_moved(self, message: VirtualTable.CursorMoved) -> None:
        self.moved.append(message)

    def on_virtual_table_row_activated(self, message: VirtualTable.RowActivated) -> None:
        self.activated.append(message)


def painted(table: VirtualTable[Recipient]) -> list[Strip]:
    """The table's lines as painted (the compositor's path), without the scrollbar column."""
    width = table.scrollable_content_region.width
    return [strip.crop(0, width) for strip in table.render_lines(table.size.region)]


def screen_lines(table: VirtualTable[Recipient]) -> list[str]:
    return [strip.text for strip in painted(table)]


def highlighted_lines(table: VirtualTable[Recipient]) -> list[str]:
    """The lines drawn in the cursor style."""
    cursor = table.get_component_rich_style("virtual-table--cursor")
    return [
        strip.text
        for strip in painted(table)
        if all(segment.style and segment.style.bgcolor == cursor.bgcolor for segment in strip)
    ]


def table_of(app: App[None]) -> VirtualTable[Recipient]:
    return app.query_one("#recipients", VirtualTable)


async def test_first_frame_shows_header_and_first_rows() -> None:
    app = TableApp(GeneratedSource(1000))
    async with app.run_test(size=SIZE):
        table = table_of(app)
        lines = screen_lines(table)
        assert lines[0].split() == ["#", "Name", "Phone", "Status"]
        assert lines[1].split() == ["0", "Person", "0", "+447700900000", "Delivered"]
        assert "Person 22" in lines[-1]
        assert highlighted_lines(table) == [lines[1]]
        assert all(len(line) == table.scrollable_content_region.width for line in lines)


async def test_vim_keys_move_the_cursor_and_the_view() -> None:
    app = TableApp(GeneratedSource(1000))
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)

        await pilot.press("j", "j", "j", "k")
        assert "Person 2 " in highlighted_lines(table)[0]

        await pilot.press("pagedown")
        lines = screen_lines(table)
        assert f"Person {BODY_HEIGHT} " in lines[1]
        assert f"Person {2 + BODY_HEIGHT} " in highlighted_lines(table)[0]

        await pilot.press("pageup")
        assert "Person 0 " in screen_lines(table)[1]
        assert "Person 2 " in highlighted_lines(table)[0]

        await pilot.press("G")
        lines = screen_lines(table)
        assert "Person 999 " in lines[-1]
        assert highlighted_lines(table) == [lines[-1]]
        assert lines[0].split() == ["#", "Name", "Phone", "Status"]  # the header stays

        await pilot.press("g")
        lines = screen_lines(table)
        assert "Person 0 " in lines[1]
        assert highlighted_lines(table) == [lines[1]]


async def test_arrow_page_and_ctrl_aliases_agree() -> None:
    app = TableApp(GeneratedSource(1000))
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("down", "ctrl+f")
        assert table.cursor_row == 1 + BODY_HEIGHT
        await pilot.press("ctrl+b", "up")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == 999
        await pilot.press("home")
        assert table.cursor_row == 0


async def test_moving_past_the_bottom_scrolls_one_line() -> None:
    app = TableApp(GeneratedSource(1000))
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press(*["j"] * BODY_HEIGHT)
        lines = screen_lines(table)
        assert "Person 1 " in lines[1]
        assert f"Person {BODY_HEIGHT} " in lines[-1]
        assert highlighted_lines(table) == [lines[-1]]


async def test_last_of_a_million_rows_fetches_only_the_chunks_on_screen() -> None:
    total = 1_000_000
    source = GeneratedSource(total)
    app = TableApp(source)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("G")
        lines = screen_lines(table)
        assert "999999" in lines[-1]
        assert highlighted_lines(table) == [lines[-1]]
        assert f"Person {total - BODY_HEIGHT} " in lines[1]

    assert source.count_calls == 1
    assert len(source.rows_calls) <= 3
    for offset, limit in source.rows_calls:
        assert offset == 0 or offset >= total - 2 * CHUNK_SIZE
        assert limit <= CHUNK_SIZE


async def test_reload_keeps_cursor_and_scroll_while_the_data_changes() -> None:
    source = ListSource([recipient(i) for i in range(500)])
    app = TableApp(source)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("pagedown", "pagedown", "j", "j")
        cursor, top = table.cursor_row, screen_lines(table)[1]
        scroll_y = table.scroll_y

        source.data[cursor] = replace(source.data[cursor], status="Failed")
        source.data.extend(recipient(i) for i in range(500, 700))
        table.reload()
        await pilot.pause()

        assert (table.cursor_row, table.scroll_y) == (cursor, scroll_y)
        assert screen_lines(table)[1] == top
        assert "Failed" in highlighted_lines(table)[0]
        assert table.row_count == 700
        await pilot.press("G")
        assert "Person 699 " in screen_lines(table)[-1]


async def test_reload_clamps_when_the_data_shrinks() -> None:
    source = ListSource([recipient(i) for i in range(500)])
    app = TableApp(source)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("G")
        del source.data[10:]
        table.reload()
        await pilot.pause()
        lines = screen_lines(table)
        assert "Person 9 " in highlighted_lines(table)[0]
        assert "Person 0 " in lines[1]
        assert lines[11].strip() == ""


async def test_reload_without_keep_cursor_goes_back_to_the_top() -> None:
    app = TableApp(GeneratedSource(1000))
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("G")
        table.reload(keep_cursor=False)
        await pilot.pause()
        assert table.cursor_row == 0
        assert "Person 0 " in screen_lines(table)[1]


async def test_refresh_row_indexes_shows_the_new_value() -> None:
    source = ListSource([recipient(i) for i in range(50)])
    app = TableApp(source)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        source.data[3] = replace(source.data[3], status="Undelivered")
        table.refresh_row_indexes([3])
        await pilot.pause()
        assert "Undelivered" in screen_lines(table)[4]


HOSTILE = [
    ("[@click=app.quit]x", "[@click=app.quit]x"),
    ("Bob [/] Smith", "Bob [/] Smith"),
    ("[bold]x", "[bold]x"),
    ("\x1b]0;pwn\x07", "␛]0;pwn␇"),
    ("\x1b[31mred", "␛[31mred"),
    ("a\u202eb", "a\ufffdb"),
    ("x\ny", "x␊y"),
]


async def test_hostile_values_show_literally_and_do_nothing() -> None:
    rows = [Recipient(i, name, "+447700900000", "Sent") for i, (name, _) in enumerate(HOSTILE)]
    app = TableApp(ListSource(rows))
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        strips = painted(table)
        for line, (_, shown) in zip(screen_lines(table)[1:], HOSTILE, strict=False):
            assert shown in line
        for strip in strips:
            for segment in strip:
                assert "\x1b" not in segment.text
                assert "\u202e" not in segment.text
                assert "\n" not in segment.text
                assert not (segment.style and segment.style.meta)
        bold_markup_line = strips[1 + 2]  # "[bold]x", not under the cursor
        assert not any(segment.style and segment.style.bold for segment in bold_markup_line)

        await pilot.click("#recipients", offset=(12, 1))
        await pilot.double_click("#recipients", offset=(12, 1))
        await pilot.press("enter")
        assert app.is_running
        assert app.activated[-1].row.name == "[@click=app.quit]x"


def test_returned_text_is_not_changed_by_rendering() -> None:
    shared = Text("a very long status label", style="red")
    assert safe_text(shared) is not shared
    assert shared.plain == "a very long status label"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        *HOSTILE,
        ("tab\there", "tab␉here"),
        ("bell\x07", "bell␇"),
        ("del\x7f", "del␡"),
        ("c1\x9bx", "c1\ufffdx"),
        ("isolate\u2066x\u2069", "isolate\ufffdx\ufffd"),
        ("line\u2028sep", "line\ufffdsep"),
        ("nbsp\u00a0x", "nbsp x"),
        ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),
        ("Zoë 李", "Zoë 李"),
    ],
)
def test_safe_text_makes_every_character_visible(value: str, shown: str) -> None:
    assert safe_text(value).plain == shown


def test_safe_text_keeps_styles_in_place() -> None:
    text = Text("a\x1bb")
    text.stylize("red", 2, 3)
    safe = safe_text(text)
    assert safe.plain == "a␛b"
    assert [(span.start, span.end, span.style) for span in safe.spans] == [(2, 3, "red")]


async def test_empty_source_shows_the_placeholder() -> None:
    app = TableApp(ListSource([]), placeholder="No recipients [yet]")
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("j", "G", "pagedown", "enter")
        lines = screen_lines(table)
        assert lines[0].split() == ["#", "Name", "Phone", "Status"]
        assert lines[1].strip() == "No recipients [yet]"
        assert table.current_row is None
        assert app.activated == []


async def test_set_source_replaces_the_placeholder_and_resets_the_cursor() -> None:
    app = TableApp(None)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        assert screen_lines(table)[1].strip() == "Nothing to show."
        table.set_source(GeneratedSource(100))
        await pilot.press("G")
        table.set_source(GeneratedSource(10))
        await pilot.pause()
        assert table.cursor_row == 0
        assert "Person 0 " in screen_lines(table)[1]
        assert app.moved[-1].row_index == 0
        assert app.moved[-1].row == recipient(0)


async def test_rows_missing_from_a_shrunk_source_are_blank() -> None:
    class ShrinkingSource(GeneratedSource):
        def rows(self, offset: int, limit: int) -> Sequence[Recipient]:
            return super().rows(offset, limit)[:5]

    app = TableApp(ShrinkingSource(100))
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("j", "j", "j", "j", "j", "j", "enter")
        lines = screen_lines(table)
        assert "Person 4 " in lines[5]
        assert lines[6].strip() == ""
        assert app.activated == []


async def test_click_selects_and_double_click_activates() -> None:
    app = TableApp(GeneratedSource(100))
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.click("#recipients", offset=(10, 4))
        await pilot.pause()
        assert "Person 3 " in highlighted_lines(table)[0]
        assert app.moved[-1].row == recipient(3)
        assert app.activated == []

        await pilot.click("#recipients", offset=(10, 0))  # the header
        assert table.cursor_row == 3

        await pilot.double_click("#recipients", offset=(10, 6))
        assert [(m.row_index, m.row) for m in app.activated] == [(5, recipient(5))]


async def test_enter_activates_the_row_under_the_cursor() -> None:
    app = TableApp(GeneratedSource(100))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "j", "enter")
        await pilot.pause()
        assert [(m.row_index, m.row) for m in app.activated] == [(2, recipient(2))]


async def test_wheel_scrolls_without_moving_the_cursor() -> None:
    app = TableApp(GeneratedSource(100))
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.pause()
        for _ in range(3):
            table.post_message(events.MouseScrollDown(table, 5, 5, 0, 1, 0, False, False, False))
        await pilot.pause()
        assert "Person 0 " not in screen_lines(table)[1]
        assert table.cursor_row == 0
        await pilot.press("j")  # the cursor comes back into view
        assert "Person 1 " in highlighted_lines(table)[0]


async def test_cursor_moves_in_one_batch_post_one_message() -> None:
    app = TableApp(GeneratedSource(100))
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.pause()
        app.moved.clear()
        for index in (5, 6, 7):
            table.move_cursor(index)
        await pilot.pause()
        assert [(m.row_index, m.row) for m in app.moved] == [(7, recipient(7))]


async def test_flexible_columns_fill_80_and_200_columns() -> None:
    long_name = "Maximilian Alexander Fitzgerald-Montgomery"
    rows = [Recipient(0, long_name, "+447700900000", "Delivered")]
    for width in (80, 200):
        app = TableApp(ListSource(rows))
        async with app.run_test(size=(width, 24)):
            table = table_of(app)
            header, first = screen_lines(table)[:2]
            assert len(header) == table.scrollable_content_region.width
            assert header.rstrip().endswith("Status")  # the last column reaches the edge
            assert "Delivered" in first
            if width == 80:
                assert "…" in first and long_name not in first
            else:
                assert long_name in first


def test_column_widths_share_the_spare_width_by_ratio() -> None:
    assert sum(column_widths(COLUMNS, 80)) + len(COLUMNS) == 80
    narrow = column_widths(COLUMNS, 20)
    assert narrow == [7, 12, 14, 9]
    wide = column_widths(COLUMNS, 200)
    assert wide[0] == 7 and wide[2] == 14
    assert wide[1] > wide[3] > 9


async def test_narrow_terminal_scrolls_sideways() -> None:
    app = TableApp(GeneratedSource(10))
    async with app.run_test(size=(30, 10)) as pilot:
        await pilot.pause()
        table = table_of(app)
        assert table.virtual_size.width > table.scrollable_content_region.width
        table.scroll_to(x=table.max_scroll_x, animate=False)
        await pilot.pause()
        assert screen_lines(table)[0].rstrip().endswith("Status")


async def test_bindings_have_ids_and_can_be_remapped() -> None:
    bindings = [b for b in VirtualTable.BINDINGS if isinstance(b, Binding)]
    assert all(b.id and b.id.startswith("table.") and b.description for b in bindings)
    for alias in ("j", "k", "g", "G", "ctrl+f", "ctrl+b"):
        assert not next(b for b in bindings if b.key == alias).show

    app = TableApp(GeneratedSource(100))
    async with app.run_test(size=SIZE) as pilot:
        app.set_keymap({"table.cursor_down": "n"})
        await pilot.press("n", "n", "j")
        assert table_of(app).cursor_row == 2


async def test_cursor_is_reverse_video_without_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = TableApp(GeneratedSource(100))
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("j")
        strips = painted(table)
        assert all(segment.style and segment.style.reverse for segment in strips[2])
        assert not any(segment.style and segment.style.reverse for segment in strips[1])


async def test_a_cell_keeps_the_base_style_of_its_text() -> None:
    app = TableApp(ListSource([recipient(0), recipient(1)]))
    async with app.run_test(size=(80, 8)) as pilot:
        await pilot.pause()
        table = app.query_one(VirtualTable)
        second_row = painted(table)[2]  # header, the cursor row, then this one
        status = [seg for seg in second_row if seg.text.strip() == recipient(1).status]
        assert status and status[0].style is not None
        assert status[0].style.color is not None  # green, as the theme renders it


async def test_a_column_hidden_below_a_width_makes_room_on_a_narrow_terminal() -> None:
    class Narrowing(TableApp):
        def compose(self) -> ComposeResult:
            phone = Column("phone", "Phone", render=lambda r: r.phone, width=14, hide_below=90)
            yield VirtualTable([COLUMNS[1], phone, COLUMNS[3]], self.source, id="recipients")

    app = Narrowing(GeneratedSource(10))
    async with app.run_test(size=(80, 12)) as pilot:
        lines = screen_lines(table_of(app))
        assert lines[0].split() == ["Name", "Status"]
        assert lines[1].split() == ["Person", "0", "Delivered"]
        await pilot.resize_terminal(120, 12)
        await pilot.pause()
        lines = screen_lines(table_of(app))
        assert lines[0].split() == ["Name", "Phone", "Status"]
        assert lines[1].split() == ["Person", "0", "+447700900000", "Delivered"]


class BlockingSource(GeneratedSource):
    """A source that waits, as a database does: the table may read it on worker threads only.
    Reads of chunks past the first wait until ``release`` is set."""

    blocking = True

    def __init__(self, total: int) -> None:
        super().__init__(total)
        self.threads: set[int] = set()
        self.release = threading.Event()

    def count(self) -> int:
        self.threads.add(threading.get_ident())
        return super().count()

    def rows(self, offset: int, limit: int) -> Sequence[Recipient]:
        self.threads.add(threading.get_ident())
        if offset >= CHUNK_SIZE:
            assert self.release.wait(10), "the test never released the read"
        return super().rows(offset, limit)


async def test_a_blocking_source_is_read_off_the_event_loop() -> None:
    source = BlockingSource(100_000)
    app = TableApp(source)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await wait_until(pilot, lambda: table.row_count == 100_000 and not table.reading)
        assert threading.get_ident() not in source.threads
        assert screen_lines(table)[1].split()[:3] == ["0", "Person", "0"]
        # A row whose chunk is not read yet is a placeholder until it arrives.
        await pilot.press("G")
        assert table.cursor_row == 99_999 and table.current_row is None
        assert screen_lines(table)[-1].strip() == "…"
        source.release.set()
        await wait_until(pilot, lambda: table.current_row is not None)
        assert "Person 99999" in screen_lines(table)[-1]
        assert app.moved[-1].row == recipient(99_999)  # the cursor's row, once it arrived
        assert threading.get_ident() not in source.threads


async def test_a_blocking_source_keeps_the_rows_shown_until_the_new_ones_are_read() -> None:
    app = TableApp(BlockingSource(50))
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await wait_until(pilot, lambda: table.row_count == 50 and not table.reading)
        before = screen_lines(table)
        table.set_source(BlockingSource(10))
        assert screen_lines(table) == before  # nothing blank, nothing flashes
        await wait_until(pilot, lambda: table.row_count == 10)
        assert "Person 9" in screen_lines(table)[10]


async def test_a_cursor_step_repaints_two_lines_even_the_first() -> None:
    app = TableApp(GeneratedSource(1000))
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor
        painted_lines: list[int] = []
        render_update = compositor.render_update

        def counted(*args: object, **kwargs: object) -> object:
            painted_lines.append(sum(region.height for region in compositor._dirty_regions))
            return render_update(*args, **kwargs)

        compositor.render_update = counted  # type: ignore[method-assign]
        for _ in range(3):
            painted_lines.clear()
            await pilot.press("j")
            await pilot.pause()
            # The row left and the row entered; nothing else (the first step included).
            assert 0 < sum(painted_lines) <= 2, painted_lines


async def test_a_live_update_repaints_only_the_rows_that_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(VirtualTable, "REPAINT_CHANGED_ROWS", True)  # as RecipientTable says

    class Changing(BlockingSource):
        def __init__(self, total: int) -> None:
            super().__init__(total)
            self.release.set()
            self.changed: dict[int, Recipient] = {}

        def rows(self, offset: int, limit: int) -> Sequence[Recipient]:
            rows = list(super().rows(offset, limit))
            return [self.changed.get(offset + i, row) for i, row in enumerate(rows)]

    source = Changing(1000)
    app = TableApp(source)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await wait_until(pilot, lambda: table.row_count == 1000 and not table.reading)
        await pilot.pause()
        compositor = app.screen._compositor
        painted_lines: list[int] = []
        render_update = compositor.render_update

        def counted(*args: object, **kwargs: object) -> object:
            painted_lines.append(sum(region.height for region in compositor._dirty_regions))
            return render_update(*args, **kwargs)

        compositor.render_update = counted  # type: ignore[method-assign]
        source.changed[5] = replace(recipient(5), status="Undelivered")
        table.reload(keep_cursor=True)
        await wait_until(pilot, lambda: "Undelivered" in screen_lines(table)[6])
        await pilot.pause()
        assert 0 < sum(painted_lines) <= 1, painted_lines
