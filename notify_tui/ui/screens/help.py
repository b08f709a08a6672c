"""F1: the keys of the screen the user was on, with what each does."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


@dataclass(frozen=True)
class HelpEntry:
    """One action and every key that does it."""

    section: str
    keys: tuple[str, ...]
    description: str
    tooltip: str


def section_of(node: DOMNode) -> str:
    """The heading the keys of ``node`` are listed under."""
    from textual.app import App

    if isinstance(node, App):
        return "Everywhere"
    name = getattr(node, "HELP_SECTION", None)
    if name:
        return str(name)
    if isinstance(node, Screen):
        return node.title or type(node).__name__
    return type(node).__name__


def _rank(node: DOMNode) -> int:
    """The screen's own keys first, then the focused widget's, then the app's."""
    from textual.app import App

    if isinstance(node, Screen):
        return 0
    return 2 if isinstance(node, App) else 1


@dataclass
class _Group:
    section: str
    rank: int
    ours: bool
    keys: list[str] = field(default_factory=list)
    description: str = ""
    tooltip: str = ""
    shown: bool = False


def help_entries(
    bindings: Mapping[str, ActiveBinding], key_display: Callable[[Binding], str]
) -> list[HelpEntry]:
    """The active bindings grouped by action: aliases (``j`` beside ``down``) share an entry.

    The screen's own keys come first, then the focused widget's and the app's; within each,
    the app's own bindings (those with an id) before Textual's built-in ones.
    """
    groups: dict[tuple[str, str], _Group] = {}
    for active in bindings.values():
        binding = active.binding
        if binding.system or not (binding.description or binding.tooltip):
            continue
        section = section_of(active.node)
        group = groups.setdefault(
            (section, binding.id or binding.action),
            _Group(section, _rank(active.node), binding.id is not None),
        )
        group.keys.append(key_display(binding))
        # The binding the footer shows names the action; hidden aliases only add their keys.
        if not group.shown and (binding.show or not group.description):
            group.description = binding.description
            group.tooltip = binding.tooltip or group.tooltip
            group.shown = binding.show
    ordered = sorted(groups.values(), key=lambda g: (g.rank, not g.ours))
    sections = list(dict.fromkeys(g.section for g in ordered))
    ordered.sort(key=lambda g: (sections.index(g.section), not g.ours))
    return [
        HelpEntry(g.section, tuple(dict.fromkeys(g.keys)), g.description, g.tooltip)
        for g in ordered
    ]


NARROW = 100
"""Below this many columns, what a key does goes under it rather than in a third column,
which had a dozen cells left (one or two words a line) at 60 columns."""


def help_table(entries: Iterable[HelpEntry], narrow: bool = False) -> Group:
    """The entries as one table per section, their columns lined up (``narrow``: each key's
    explanation on the lines below its name)."""
    entries = list(entries)
    if narrow:
        return _narrow_help_table(entries)
    keys_width = max((len(" / ".join(e.keys)) for e in entries), default=4)
    action_width = max((len(e.description) for e in entries), default=6)
    parts: list[RenderableType] = []
    for section in dict.fromkeys(e.section for e in entries):
        if parts:
            parts.append(Text(""))
        parts.append(Text(section, style="bold underline"))
        table = Table(box=None, expand=True, show_header=False, padding=(0, 2, 0, 0))
        table.add_column("Keys", no_wrap=True, style="bold", width=keys_width)
        table.add_column("Action", no_wrap=True, width=action_width)
        table.add_column("What it does", ratio=1)
        for entry in entries:
            if entry.section == section:
                table.add_row(
                    Text(" / ".join(entry.keys)), Text(entry.description), Text(entry.tooltip)
                )
        parts.append(table)
    return Group(*parts)


def _narrow_help_table(entries: list[HelpEntry]) -> Group:
    keys_width = min(max((len(" / ".join(e.keys)) for e in entries), default=4), 12)
    parts: list[RenderableType] = []
    for section in dict.fromkeys(e.section for e in entries):
        if parts:
            parts.append(Text(""))
        parts.append(Text(section, style="bold underline"))
        table = Table(box=None, expand=True, show_header=False, padding=(0, 1, 0, 0))
        table.add_column("Keys", style="bold", width=keys_width)
        table.add_column("Action", ratio=1)
        for entry in entries:
            if entry.section == section:
                action = Text(entry.description, style="bold")
                if entry.tooltip:
                    action.append("\n")
                    action.append(entry.tooltip)
                table.add_row(Text(" / ".join(entry.keys)), action)
        parts.append(table)
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    """Lists the keys of the screen below it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("f1", "close", "Close", show=False, id="help.close"),
        Binding("q", "close", "Close", show=False, id="help.close"),
    ]

    HELP_SECTION = "Help"

    def __init__(self, title: str, entries: list[HelpEntry]) -> None:
        super().__init__()
        self._title = title
        self.entries = entries

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog") as box:
            box.border_title = f"Keys: {self._title}"
            box.border_subtitle = "Escape to close"
            with VerticalScroll(id="help-scroll"):
                narrow = self.app.size.width < NARROW
                yield Static(help_table(self.entries, narrow), id="help-table")

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
