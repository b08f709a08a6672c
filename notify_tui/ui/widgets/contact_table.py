"""The Contacts screen's table: every contact with its opt-out state, over any number of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from notify_tui.domain.phone import format_for_humans
from notify_tui.store.contacts import ContactRow, contact_page, count_contacts
from notify_tui.store.optouts import SOURCE_PROVIDER
from notify_tui.ui.formatting import styled, when
from notify_tui.ui.widgets.virtual_table import Column, VirtualTable


class ContactSource:
    """The contacts whose number or name contains ``search``, in the order they were added."""

    blocking = True
    """Read on worker threads only (see ``RowSource``)."""

    def __init__(self, search: str = "") -> None:
        self.search = search
        self.total = 0
        """Every contact, matching or not, as of the last count."""

    def count(self) -> int:
        shown = count_contacts(self.search)
        self.total = count_contacts() if self.search.strip() else shown
        return shown

    def rows(self, offset: int, limit: int) -> Sequence[ContactRow]:
        return contact_page(self.search, offset, limit)


def source_label(source: str | None) -> str:
    """``STOP`` when the person opted out themselves; else ``manual`` or ``policy``."""
    if source == SOURCE_PROVIDER:
        return "STOP"
    return source or ""


class ContactTable(VirtualTable[ContactRow]):
    """Number, name, and when, why and how the number was opted out."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "activate",
            "History",
            show=False,
            id="contacts.to_history",
            tooltip="Move to the delivery history of the selected contact",
        ),
    ]

    HELP_SECTION = "Contacts table"

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *VirtualTable.COMPONENT_CLASSES,
        "contact-table--opted-out",
    }

    DEFAULT_CSS = """
    ContactTable {
        & > .contact-table--opted-out { text-style: bold; }
    }
    """

    def __init__(
        self, *, now: Callable[[], datetime], tz: tzinfo | None, id: str | None = None
    ) -> None:
        self._now = now
        self._tz = tz
        columns: list[Column[ContactRow]] = [
            Column("number", "Number", render=lambda c: format_for_humans(c.phone), width=15),
            # On a narrow terminal the date of an opt-out gives way before the name or the reason
            # is cut short (the delivery history below has the dates).
            Column("name", "Name", render=lambda c: c.name, min_width=12, ratio=2, max_width=40),
            Column("opt_out", "Opt-out", render=self._opt_out, width=8),
            Column("since", "Since", render=self._since, width=12, priority=2),
            Column("why", "Why", render=lambda c: c.opt_out_reason or "", min_width=18, ratio=3),
        ]
        super().__init__(columns, ContactSource(), placeholder="No contacts match.", id=id)

    @property
    def source(self) -> ContactSource:
        """Where the rows come from."""
        assert isinstance(self._source, ContactSource)
        return self._source

    def _opt_out(self, contact: ContactRow) -> Text:
        if not contact.opted_out:
            return Text("")
        style = self.get_component_rich_style("contact-table--opted-out", partial=True)
        return styled(source_label(contact.opt_out_source) or "opted out", style)

    def _since(self, contact: ContactRow) -> str:
        return when(contact.opted_out_at, self._now(), self._tz) if contact.opted_out else ""
