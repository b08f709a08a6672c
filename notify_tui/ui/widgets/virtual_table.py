"""A table that shows any number of rows by rendering only the lines on screen.

`VirtualTable` is a Line API widget: it never holds the rows. It asks a `RowSource` for the
count once per (re)load and for rows a chunk at a time, keeps a few chunks and the rendered
lines in small LRU caches, and repaints only the lines that change. A million-row campaign
opens as fast as a ten-row one, and going to the last row fetches only the chunk at the end.

A source that reads a database says so (``blocking = True``): the table then never reads it on
the event loop, where a query to a remote PostgreSQL would freeze the UI for a round trip. The
count and the rows on screen are read in a worker while the rows shown before stay, and a row
whose chunk has not arrived yet is drawn as a placeholder until its chunk, read in a worker,
arrives (toolong's ``LineReader`` works this way).

Every cell is a `rich.text.Text` made safe for the terminal: one line, cropped to its column,
control and bidi characters replaced by visible ones, and never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import KW_ONLY, dataclass
from enum import Enum, auto
from typing import Any, ClassVar, Final, Generic, Literal, Protocol, TypeVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, WorkerState

from notify_tui.ui.messages import WorkerEnded
from notify_tui.ui.text import safe_text

__all__ = [
    "CHUNK_SIZE",
    "Column",
    "ListSource",
    "RowSource",
    "VirtualTable",
    "column_widths",
    "fit_columns",
]

RowT = TypeVar("RowT")
RowT_co = TypeVar("RowT_co", covariant=True)

Justify = Literal["left", "center", "right"]

CHUNK_SIZE = 256
"""Rows fetched from the source in one call."""

_CHUNKS_KEPT = 16
_STRIPS_KEPT = 256


class _Missing(Enum):
    ROW = auto()
    PENDING = auto()


_MISSING: Final = _Missing.ROW
"""What `_get_row` returns for a row the source no longer has."""
_PENDING: Final = _Missing.PENDING
"""What `_get_row` returns for a row whose chunk is being read."""
_READ_GROUP = "rows"
_MOVE = Binding.Group("Move", compact=True)


class RowSource(Protocol[RowT_co]):
    """Where a `VirtualTable` reads its rows from.

    Both calls are synchronous and should be cheap (a `COUNT` and a keyset page); the table
    calls `count` once per load and `rows` once per chunk of `CHUNK_SIZE` rows it shows.
    `rows` may return fewer rows than asked when the data shrank in the meantime.

    A source whose calls wait (on a database) sets a ``blocking`` attribute to True: the table
    then calls it only on worker threads.
    """

    def count(self) -> int:
        """The number of rows."""
        ...

    def rows(self, offset: int, limit: int) -> Sequence[RowT_co]:
        """Up to `limit` rows starting at the zero-based `offset`."""
        ...


class ListSource(Generic[RowT]):
    """Rows already in memory (a short list read off the UI thread) as a `RowSource`."""

    def __init__(self, rows: Sequence[RowT] = ()) -> None:
        self.items: list[RowT] = list(rows)

    def count(self) -> int:
        return len(self.items)

    def rows(self, offset: int, limit: int) -> Sequence[RowT]:
        return self.items[offset : offset + limit]


@dataclass(frozen=True)
class Column(Generic[RowT]):
    """One column of a `VirtualTable`.

    A column is fixed when `width` is given, otherwise flexible: it gets at least `min_width`
    (the label's width by default) and a `ratio` share of the width left over, so the table
    fills the terminal at 80 columns as at 200.

    `render` turns a row into the cell. A `str` it returns is shown literally, like a `Text`;
    neither is ever parsed as markup.

    `hide_below` leaves the column out when the table is narrower than that many cells, so
    that on a small terminal a column that matters less makes room for one that matters more.

    `priority` says which columns go first when the minimums do not fit: the column with the
    largest priority is left out (the rightmost of equals), then the next, until the rest fit.
    Columns of priority 0 always stay (the table scrolls sideways if even they do not fit).
    `max_width` caps a flexible column, so that a wide terminal does not give a name 130 cells:
    the other flexible columns get the rest.
    """

    key: str
    label: str
    _: KW_ONLY
    render: Callable[[RowT], Text | str]
    width: int | None = None
    ratio: int = 1
    min_width: int | None = None
    justify: Justify = "left"
    hide_below: int | None = None
    priority: int = 0
    max_width: int | None = None

    def __post_init__(self) -> None:
        if self.width is not None and self.width < 1:
            raise ValueError(f"column {self.key!r}: width must be at least 1")
        if self.ratio < 1:
            raise ValueError(f"column {self.key!r}: ratio must be at least 1")
        if self.min_width is not None and self.min_width < 1:
            raise ValueError(f"column {self.key!r}: min_width must be at least 1")
        if self.max_width is not None and self.max_width < self.minimum_width:
            raise ValueError(f"column {self.key!r}: max_width is below its minimum")

    @property
    def is_flexible(self) -> bool:
        """True when the column shares the spare width."""
        return self.width is None

    @property
    def minimum_width(self) -> int:
        """The fewest cells this column is given."""
        if self.width is not None:
            return self.width
        return self.min_width or max(cell_len(self.label), 1)


COLUMN_GAP = 1
"""Blank cells before each column."""


def column_widths(columns: Sequence[Column[Any]], available: int) -> list[int]:
    """Share `available` cells between the columns.

    Fixed columns keep their width; flexible ones get their minimum plus a ratio share of what
    is left (never more than their `max_width`), the remainder going to the flexible column with
    the largest ratio that has room. When even the minimums do not fit, every column keeps its
    minimum and the table scrolls sideways.
    """
    widths = [column.minimum_width for column in columns]
    growing = [index for index, column in enumerate(columns) if column.is_flexible]
    spare = available - sum(widths) - COLUMN_GAP * len(columns)
    while spare > 0 and growing:
        total_ratio = sum(columns[index].ratio for index in growing)
        shares = {index: spare * columns[index].ratio // total_ratio for index in growing}
        widest = max(growing, key=lambda index: columns[index].ratio)
        shares[widest] += spare - sum(shares.values())
        capped = []
        for index in growing:
            limit = columns[index].max_width
            share = shares[index]
            if limit is not None and widths[index] + share >= limit:
                share = limit - widths[index]
                capped.append(index)
            widths[index] += share
            spare -= share
        if not capped:
            break
        growing = [index for index in growing if index not in capped]
    return widths


def _without_meta(segment: Segment) -> Segment:
    """``segment`` with no meta (actions such as @click) in its style; copied only if it had."""
    style = segment.style
    if style is None or not style._meta:
        return segment
    style = style.copy()
    style._meta = None
    return Segment(segment.text, style, segment.control)


def _span(rows: dict[int, Any]) -> tuple[int, int]:
    """The range of row indexes ``rows`` covers, as ``range`` arguments."""
    return (min(rows), max(rows) + 1) if rows else (0, 0)


def fit_columns(columns: Sequence[Column[RowT]], available: int) -> tuple[Column[RowT], ...]:
    """The columns shown in `available` cells: those whose `hide_below` the width reaches, less
    the least useful (largest `priority`) while their minimums do not fit."""
    shown = [
        column for column in columns if column.hide_below is None or available >= column.hide_below
    ]

    def needed() -> int:
        return sum(column.minimum_width + COLUMN_GAP for column in shown)

    while needed() > available:
        droppable = [index for index, column in enumerate(shown) if column.priority > 0]
        if not droppable:
            break
        least = max(droppable, key=lambda index: (shown[index].priority, index))
        del shown[least]
    return tuple(shown)


class VirtualTable(ScrollView, Generic[RowT], can_focus=True):
    """A row-cursor table over a `RowSource` of any size.

    The header stays put while the rows scroll. Only visible rows are fetched (in chunks of
    `CHUNK_SIZE`) and rendered; call `reload` when the data changed and `set_source` to show
    other data.
    """

    ALLOW_SELECT = False

    REPAINT_CHANGED_ROWS: ClassVar[bool] = False
    """A reload of the same view draws again only the rows whose data changed: for a table whose
    cells depend on nothing but their row (not on state kept beside the rows)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # The arrows need no footer space; F1 lists them.
        Binding("up", "cursor_up", "Up", show=False, id="table.cursor_up", group=_MOVE),
        Binding("down", "cursor_down", "Down", show=False, id="table.cursor_down", group=_MOVE),
        Binding("k", "cursor_up", "Up", show=False, id="table.cursor_up"),
        Binding("j", "cursor_down", "Down", show=False, id="table.cursor_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("ctrl+b", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("ctrl+f", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("home", "first_row", "First row", show=False, id="table.first_row"),
        Binding("g", "first_row", "First row", show=False, id="table.first_row"),
        Binding("end", "last_row", "Last row", show=False, id="table.last_row"),
        Binding("G", "last_row", "Last row", show=False, id="table.last_row"),
        Binding(
            "enter",
            "activate",
            "Open",
            id="table.activate",
            tooltip="Open the selected row",
        ),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--odd-row",
        "virtual-table--placeholder",
    }
    """
    | Class | Description |
    | :- | :- |
    | `virtual-table--header` | The header line. |
    | `virtual-table--cursor` | The row under the cursor (reverse video without colour). |
    | `virtual-table--odd-row` | Odd rows when `zebra_stripes` is on. |
    | `virtual-table--placeholder` | The line shown when there are no rows. |
    """

    DEFAULT_CSS = """
    VirtualTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;

        & > .virtual-table--header {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .virtual-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .virtual-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .virtual-table--odd-row {
            background: $surface-lighten-1 50%;
        }
        & > .virtual-table--placeholder {
            color: $text-muted;
            text-style: italic;
        }
        /* Without colour a background alone does not show where the cursor is. */
        &:nocolor > .virtual-table--cursor {
            text-style: reverse;
        }
        &:nocolor:focus > .virtual-table--cursor {
            text-style: reverse bold;
        }
    }
    """

    cursor_row: reactive[int] = reactive(0, repaint=False, init=False)
    """Index of the row under the cursor."""

    class CursorMoved(Message):
        """The cursor went to another row (posted at most once per batch of moves)."""

        def __init__(self, table: VirtualTable[Any], row_index: int, row: Any | None) -> None:
            super().__init__()
            self.table = table
            self.row_index = row_index
            """Index of the row under the cursor."""
            self.row = row
            """That row, or None when the table is empty."""

        @property
        def control(self) -> VirtualTable[Any]:
            """The table the cursor moved in."""
            return self.table

    class Loaded(Message):
        """The table (re)loaded: ``count`` rows, the first on screen read."""

        def __init__(self, table: VirtualTable[Any], count: int) -> None:
            super().__init__()
            self.table = table
            self.count = count

        @property
        def control(self) -> VirtualTable[Any]:
            """The table that loaded."""
            return self.table

    class _RowsRead(Message):
        """Rows (and, for a load, the count) read on a worker thread."""

        def __init__(
            self,
            generation: int,
            source: Any,
            count: int | None,
            chunks: dict[int, Sequence[Any]],
            keep_cursor: bool,
        ) -> None:
            super().__init__()
            self.generation = generation
            self.source = source
            self.count = count
            """``None``: chunks read on a cache miss, not a load."""
            self.chunks = chunks
            self.keep_cursor = keep_cursor

    class RowActivated(Message):
        """The user chose a row (enter or double click)."""

        def __init__(self, table: VirtualTable[Any], row_index: int, row: Any) -> None:
            super().__init__()
            self.table = table
            self.row_index = row_index
            """Index of the chosen row."""
            self.row = row
            """The chosen row."""

        @property
        def control(self) -> VirtualTable[Any]:
            """The table the row was chosen in."""
            return self.table

    def __init__(
        self,
        columns: Sequence[Column[RowT]],
        source: RowSource[RowT] | None = None,
        *,
        placeholder: Text | str = "Nothing to show.",
        zebra_stripes: bool = False,
        show_header: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """Build the table.

        Args:
            columns: The columns, left to right.
            source: Where rows come from; None shows the placeholder until `set_source`.
            placeholder: What to show when there are no rows (a `str` is shown literally).
            zebra_stripes: Style odd rows with `virtual-table--odd-row`.
            show_header: Show the column labels above the rows.
        """
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        if not columns:
            raise ValueError("a VirtualTable needs at least one column")
        self._columns: tuple[Column[RowT], ...] = tuple(columns)
        self._source: RowSource[RowT] | None = source
        self._placeholder = safe_text(placeholder)
        self._zebra_stripes = zebra_stripes
        self._header_height = 1 if show_header else 0
        self._count = 0
        self._widths: list[int] = []
        self._shown: tuple[Column[RowT], ...] = self._columns
        """The columns the current width has room for."""
        self._layout_width = -1
        self._line_width = 0
        self._chunks: LRUCache[int, Sequence[RowT]] = LRUCache(_CHUNKS_KEPT)
        self._strips: LRUCache[tuple[int, bool, bool], Strip] = LRUCache(_STRIPS_KEPT)
        self._header_strip: Strip | None = None
        self._cursor_moved_pending = False
        self._base_style: Style | None = None
        self._content_width = 0
        self._generation = 0
        """Bumped by every load: rows read for an older one are dropped."""
        self._following: tuple[int, object] | None = None
        """While a reload that keeps the cursor is read: the cursor's row and its row's key."""
        self._requested: set[int] = set()
        self._loading = False
        """Chunks being read on a worker for this generation."""
        self._known = False
        """Whether a count was read yet (until then the body is blank, not "nothing to show")."""

    # Public API

    @property
    def columns(self) -> tuple[Column[RowT], ...]:
        """The columns, left to right."""
        return self._columns

    @property
    def shown_columns(self) -> dict[str, int]:
        """The keys of the columns the current width has room for, with their widths."""
        return {column.key: width for column, width in zip(self._shown, self._widths, strict=False)}

    @property
    def row_count(self) -> int:
        """The number of rows as of the last load."""
        return self._count

    @property
    def rows_in_view(self) -> range:
        """The indexes of the rows on screen (the cursor's is one of them)."""
        top = round(self.scroll_y)
        return range(min(top, self._count), min(top + self._body_height(), self._count))

    @property
    def current_row(self) -> RowT | None:
        """The row under the cursor, or None when there is none."""
        if not self._count:
            return None
        row = self._get_row(self.cursor_row)
        return None if isinstance(row, _Missing) else row

    @property
    def reading(self) -> bool:
        """True while a load or a chunk is being read on a worker."""
        return bool(self._requested) or self._loading

    @property
    def _blocking(self) -> bool:
        return bool(getattr(self._source, "blocking", False))

    def set_source(self, source: RowSource[RowT] | None, *, keep_cursor: bool = False) -> None:
        """Show the rows of another source: from the top, or where the user is.

        With `keep_cursor` the cursor index and the scroll position stay, as with `reload`: for
        the same view read again (off the UI thread, say) after the data changed. A blocking
        source is read on a worker: the rows shown before stay until it is.
        """
        if not self.is_mounted:
            self._source = source
            return  # loaded on mount
        self._load(source, keep_cursor)

    def set_columns(self, columns: Sequence[Column[RowT]]) -> None:
        """Show other columns (a breakdown by another dimension): laid out and drawn again."""
        if not columns:
            raise ValueError("a VirtualTable needs at least one column")
        self._columns = tuple(columns)
        self._layout_width = -1
        self._strips.clear()
        self._header_strip = None
        self.refresh()

    def reload(self, keep_cursor: bool = True) -> None:
        """Read the count and rows again, after the data changed.

        With `keep_cursor` the cursor index and the scroll position stay where they are
        (clamped if the table shrank), so live updates never move what the user looks at.
        """
        if not self.is_mounted:
            return
        self._load(self._source, keep_cursor)

    def refresh_row_indexes(self, indexes: Iterable[int]) -> None:
        """Fetch and repaint these rows again (and drop the chunks that hold them)."""
        for index in indexes:
            self._chunks.discard(index // CHUNK_SIZE)
            self._requested.discard(index // CHUNK_SIZE)
            for cursor in (False, True):
                for focused in (False, True):
                    self._strips.discard((index, cursor, focused))
            self._refresh_row(index)

    def row_key(self, row: RowT) -> object | None:
        """What identifies ``row`` from one read to the next (its id), or ``None`` (the default:
        rows are only places). With keys, a reload that keeps the cursor keeps it on its row
        when the row moved (live counters reorder a sorted view), if it is among the rows read
        with the reload."""
        return None

    def index_loaded(self, matches: Callable[[RowT], bool]) -> int | None:
        """The index of the first row read and still kept that ``matches``, or ``None`` (no
        database read: only the chunks in memory, those around the view and the cursor)."""
        for chunk_index in sorted(self._chunks.keys()):
            for offset, row in enumerate(self._chunks.get(chunk_index) or ()):
                if matches(row):
                    return chunk_index * CHUNK_SIZE + offset
        return None

    def move_cursor(self, index: int) -> None:
        """Put the cursor on row `index` (clamped) and scroll it into view."""
        self.cursor_row = index
        self._scroll_cursor_into_view()

    # Loading and caches

    def _load(self, source: RowSource[RowT] | None, keep_cursor: bool) -> None:
        self._generation += 1
        self._requested.clear()
        selected = self.current_row if keep_cursor and self._known else None
        key = None if selected is None else self.row_key(selected)
        self._following = None if key is None else (self.cursor_row, key)
        if not getattr(source, "blocking", False):
            count = max(0, source.count()) if source is not None else 0
            self._loaded(source, count, {}, keep_cursor)
            return
        # The count and the chunks the view will show, read together on a worker.
        top = round(self.scroll_y) if keep_cursor else 0
        cursor = self.cursor_row if keep_cursor else 0
        rows = (top, top + max(self._body_height(), 1) - 1, cursor)
        chunks = sorted({row // CHUNK_SIZE for row in rows})
        self._loading = True
        generation = self._generation

        def read() -> None:
            assert source is not None
            count = max(0, source.count())
            read_chunks = {}
            for chunk in chunks:
                offset = chunk * CHUNK_SIZE
                if offset < count:
                    read_chunks[chunk] = source.rows(offset, min(CHUNK_SIZE, count - offset))
            self.post_message(self._RowsRead(generation, source, count, read_chunks, keep_cursor))

        self.run_worker(
            read,
            thread=True,
            group=_READ_GROUP,
            description="Reading rows",
            exit_on_error=False,
        )

    def _loaded(
        self,
        source: RowSource[RowT] | None,
        count: int,
        chunks: dict[int, Sequence[RowT]],
        keep_cursor: bool,
    ) -> None:
        """Show what a load read: the count, and the chunks read along with it."""
        # The same rows read again where the user is (a live update): only the lines whose row
        # changed are drawn again.
        same_view = (
            self.REPAINT_CHANGED_ROWS
            and keep_cursor
            and self._known
            and source is self._source
            and count == self._count
        )
        before = {row: self._get_cached(row) for row in self.rows_in_view} if same_view else {}
        self._loading = False
        self._known = True
        self._source = source
        self._count = count
        self._chunks.clear()
        strips = self._strips
        self._strips = LRUCache(_STRIPS_KEPT)
        for index, chunk in chunks.items():
            self._chunks.set(index, chunk)
        self._update_virtual_size()
        if keep_cursor:
            self.scroll_to(y=min(self.scroll_y, self._max_scroll_row()), animate=False, force=True)
            self.cursor_row = min(self.cursor_row, max(self._count - 1, 0))
        else:
            self.scroll_to(0, 0, animate=False, force=True)
            self.cursor_row = 0
        if same_view and self.rows_in_view == range(*_span(before)):
            for row, old in before.items():
                new = self._get_cached(row)
                if old is not None and new is not None and old == new:
                    for key in ((row, c, f) for c in (False, True) for f in (False, True)):
                        strip = strips.get(key)
                        if strip is not None:
                            self._strips.set(key, strip)
                else:
                    self._refresh_row(row)
        else:
            self.refresh()
        self._follow_row(keep_cursor)
        self._post_cursor_moved_soon()  # the row under the cursor may be another one now
        self.post_message(self.Loaded(self, count))

    def _follow_row(self, keep_cursor: bool) -> None:
        """After a reload that kept the cursor: put it back on the row it was on (see
        `row_key`), unless the user moved it meanwhile or the row was not read again."""
        following, self._following = self._following, None
        if following is None or not keep_cursor:
            return
        was_at, key = following
        if self.cursor_row != was_at:
            return
        row = self.current_row
        if row is not None and self.row_key(row) == key:
            return
        moved = self.index_loaded(lambda r: self.row_key(r) == key)
        if moved is not None:
            self.move_cursor(moved)

    def _on_virtual_table__rows_read(self, event: VirtualTable._RowsRead) -> None:
        event.stop()
        if event.generation != self._generation:
            return  # read for an older load: what it read may be out of date
        if event.count is not None:
            self._loaded(event.source, event.count, event.chunks, event.keep_cursor)
            return
        for index, chunk in event.chunks.items():
            self._requested.discard(index)
            self._chunks.set(index, chunk)
            first = index * CHUNK_SIZE
            for row in range(first, first + len(chunk)):
                self._refresh_row(row)
            if first <= self.cursor_row < first + len(chunk):
                self._post_cursor_moved_soon()

    def _get_cached(self, index: int) -> RowT | None:
        """The row at ``index`` if its chunk is at hand (never a read)."""
        chunk_index, position = divmod(index, CHUNK_SIZE)
        chunk = self._chunks.get(chunk_index)
        return chunk[position] if chunk is not None and position < len(chunk) else None

    def _read_chunk(self, index: int) -> None:
        """Read chunk ``index`` on a worker; its rows are drawn when it arrives."""
        if index in self._requested:
            return
        self._requested.add(index)
        source, count, generation = self._source, self._count, self._generation
        offset = index * CHUNK_SIZE

        def read() -> None:
            assert source is not None
            rows = source.rows(offset, min(CHUNK_SIZE, count - offset))
            self.post_message(self._RowsRead(generation, source, None, {index: rows}, False))

        self.run_worker(
            read,
            thread=True,
            group=_READ_GROUP,
            description="Reading rows",
            exit_on_error=False,
        )

    def _get_row(self, index: int) -> RowT | _Missing:
        """The row at `index`; `_PENDING` while its chunk is being read on a worker, `_MISSING`
        if the source no longer has it."""
        if self._source is None or not 0 <= index < self._count:
            return _MISSING
        chunk_index, position = divmod(index, CHUNK_SIZE)
        chunk = self._chunks.get(chunk_index)
        if chunk is None:
            if self._blocking:
                self._read_chunk(chunk_index)
                return _PENDING
            offset = chunk_index * CHUNK_SIZE
            chunk = self._source.rows(offset, min(CHUNK_SIZE, self._count - offset))
            self._chunks.set(chunk_index, chunk)
        return chunk[position] if position < len(chunk) else _MISSING

    def _update_virtual_size(self) -> None:
        body_height = max(self._count, 1)  # one line for the placeholder
        self.virtual_size = Size(self._line_width, body_height + self._header_height)

    def _ensure_layout(self, available: int) -> bool:
        """Share `available` cells between the columns; True if that changed anything."""
        if available == self._layout_width:
            return False
        self._layout_width = available
        self._shown = fit_columns(self._columns, available)
        self._widths = column_widths(self._shown, available)
        self._line_width = max(available, sum(self._widths) + COLUMN_GAP * len(self._widths))
        self._strips.clear()
        self._header_strip = None
        return True

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style = None
        self._strips.clear()
        self._header_strip = None

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        resized = super()._size_updated(size, virtual_size, container_size, layout)
        # ScrollView marks the whole widget for a repaint when its size changes, and Textual
        # paints that only with the next partial refresh: the first cursor step would redraw
        # every line. The layout that changed the size repaints the widget already.
        self._repaint_regions.clear()
        return resized

    def _on_resize(self, event: events.Resize) -> None:
        self._content_width = self.scrollable_content_region.width
        self._ensure_layout(self._content_width)
        self._update_virtual_size()
        self.call_after_refresh(self._scroll_cursor_into_view)

    def on_mount(self) -> None:
        self._load(self._source, keep_cursor=False)
        self._post_cursor_moved_soon()  # so that a details pane can show the first row

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == _READ_GROUP and event.state is WorkerState.ERROR:
            # Not read: the rows stay as they are until the next load reads them again.
            self._loading = False
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            # Worker messages do not bubble: the screen hears of a failure from this one.
            self.post_message(WorkerEnded(worker, event.state))

    # Rendering

    def render_lines(self, crop: Region) -> list[Strip]:
        # Looked up once per paint rather than once per line: both are costly to compute.
        self._base_style = self.rich_style
        self._content_width = self.scrollable_content_region.width
        if self._ensure_layout(self._content_width):
            self.call_later(self._update_virtual_size)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        base_style = self._style()
        self._ensure_layout(self._content_width)
        scroll_x, scroll_y = self.scroll_offset
        if y < self._header_height:
            strip = self._render_header()
        elif not self._count:
            shown = self._known and y == self._header_height
            strip = self._render_placeholder() if shown else Strip([])
        else:
            row_index = scroll_y + y - self._header_height
            strip = self._render_row(row_index) if row_index < self._count else Strip([])
        if scroll_x == 0 and strip.cell_length == self._content_width:
            # The usual case: cropping would cache the strip in itself, a reference cycle that
            # only the garbage collector can free once the line is off screen.
            return strip
        return strip.crop_extend(scroll_x, scroll_x + self._content_width, base_style)

    def _style(self) -> Style:
        if self._base_style is None:
            self._base_style = self.rich_style
        return self._base_style

    def _render_cells(
        self, cells: Iterable[tuple[Text | str, Justify]], style: Style, post_style: Style | None
    ) -> Strip:
        # One Strip per line, built from its segments: each Strip carries seven caches, and the
        # chain of Strip methods (extend, simplify, discard_meta) made four per row, and copied
        # every style. Paging a big table allocated so much that the garbage collector's full
        # passes, not the rendering, stalled the UI.
        console = self.app.console
        gap = Segment(" " * COLUMN_GAP)
        segments: list[Segment] = []
        for (value, justify), width in zip(cells, self._widths, strict=True):
            text = safe_text(value)
            if text.style:
                # Text.render drops the base style of a Text without spans: keep it as a span.
                text.stylize_before(text.style, 0, len(text))
                text.style = ""
            text.no_wrap = True
            text.truncate(width, overflow="ellipsis")
            text.align(justify, width)
            segments.append(gap)
            segments.extend(text.render(console, end=""))
        length = sum(cell_len(segment.text) for segment in segments)
        if length < self._line_width:
            segments.append(Segment(" " * (self._line_width - length)))
            length = self._line_width
        styled = Segment.apply_style(segments, style, post_style)
        # A cell can never carry actions such as @click, whatever its render function built.
        return Strip([_without_meta(segment) for segment in Segment.simplify(styled)], length)

    def _render_header(self) -> Strip:
        if self._header_strip is None:
            style = self._style() + self.get_component_rich_style("virtual-table--header")
            cells = ((column.label, column.justify) for column in self._shown)
            self._header_strip = self._render_cells(cells, style, None)
        return self._header_strip

    def _render_placeholder(self) -> Strip:
        style = self._style() + self.get_component_rich_style("virtual-table--placeholder")
        text = self._placeholder.copy()
        text.truncate(max(self._line_width - COLUMN_GAP, 1), overflow="ellipsis")
        segments = [Segment(" " * COLUMN_GAP), *text.render(self.app.console, end="")]
        return Strip(Segment.apply_style(segments, style)).discard_meta()

    def _render_pending(self, is_cursor: bool) -> Strip:
        style = self._style() + self.get_component_rich_style("virtual-table--placeholder")
        if is_cursor:
            style += self.get_component_rich_style("virtual-table--cursor")
        segments = [Segment(" " * COLUMN_GAP + "…", style)]
        return Strip(segments).extend_cell_length(self._line_width, style)

    def _render_row(self, row_index: int) -> Strip:
        is_cursor = row_index == self.cursor_row
        key = (row_index, is_cursor, self.has_focus)
        strip = self._strips.get(key)
        if strip is not None:
            return strip
        row = self._get_row(row_index)
        if row is _PENDING:  # not cached: drawn again when its chunk arrives
            return self._render_pending(is_cursor)
        if row is _MISSING:  # the data shrank since the count; not cached, the next load fixes it
            return Strip([])
        style = self._style()
        if self._zebra_stripes and row_index % 2:
            style += self.get_component_rich_style("virtual-table--odd-row")
        cursor_style = self.get_component_rich_style("virtual-table--cursor") if is_cursor else None
        cells = ((column.render(row), column.justify) for column in self._shown)
        strip = self._render_cells(cells, style, cursor_style)
        self._strips.set(key, strip)
        return strip

    # Cursor

    def validate_cursor_row(self, value: int) -> int:
        return max(0, min(value, self._count - 1))

    def watch_cursor_row(self, old_row: int, new_row: int) -> None:
        self._refresh_row(old_row)
        self._refresh_row(new_row)
        self._scroll_cursor_into_view()
        self._post_cursor_moved_soon()

    def _refresh_row(self, row_index: int) -> None:
        line = row_index - round(self.scroll_y)
        if 0 <= line < self._body_height():
            self.refresh_line(row_index + self._header_height)

    def _body_height(self) -> int:
        return max(self.scrollable_content_region.height - self._header_height, 0)

    def _max_scroll_row(self) -> int:
        return max(self._count - self._body_height(), 0)

    def _scroll_cursor_into_view(self) -> None:
        body_height = self._body_height()
        if not body_height:
            return
        top = round(self.scroll_y)
        row = self.cursor_row
        if row < top:
            self.scroll_to(y=row, animate=False, force=True)
        elif row >= top + body_height:
            self.scroll_to(y=row - body_height + 1, animate=False, force=True)

    def _post_cursor_moved_soon(self) -> None:
        # Coalesced: however many moves happen before the callback runs, one message goes out.
        if not self._cursor_moved_pending:
            self._cursor_moved_pending = True
            self.call_later(self._post_cursor_moved)

    def _post_cursor_moved(self) -> None:
        self._cursor_moved_pending = False
        self.post_message(self.CursorMoved(self, self.cursor_row, self.current_row))

    def _on_focus(self, event: events.Focus) -> None:
        self._refresh_row(self.cursor_row)

    def _on_blur(self, event: events.Blur) -> None:
        self._refresh_row(self.cursor_row)

    # Actions

    def action_cursor_up(self) -> None:
        """Move the cursor one row up."""
        self.cursor_row -= 1

    def action_cursor_down(self) -> None:
        """Move the cursor one row down."""
        self.cursor_row += 1

    def action_page_up(self) -> None:
        """Move the cursor and the view one page up."""
        page = max(self._body_height(), 1)
        self.scroll_to(y=max(round(self.scroll_y) - page, 0), animate=False, force=True)
        self.cursor_row -= page

    def action_page_down(self) -> None:
        """Move the cursor and the view one page down."""
        page = max(self._body_height(), 1)
        target = min(round(self.scroll_y) + page, self._max_scroll_row())
        self.scroll_to(y=target, animate=False, force=True)
        self.cursor_row += page

    def action_first_row(self) -> None:
        """Move the cursor to the first row."""
        self.cursor_row = 0

    def action_last_row(self) -> None:
        """Move the cursor to the last row."""
        self.cursor_row = self._count - 1

    def action_activate(self) -> None:
        """Tell the app the user chose the row under the cursor."""
        row = self.current_row
        if row is not None:
            self.post_message(self.RowActivated(self, self.cursor_row, row))

    # Mouse

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        region = self.scrollable_content_region
        if not (self._header_height <= offset.y < region.height and offset.x < region.width):
            return
        row_index = round(self.scroll_y) + offset.y - self._header_height
        if row_index >= self._count:
            return
        event.stop()
        self.cursor_row = row_index
        if event.chain == 2:
            self.action_activate()
