"""Contacts: every number with its opt-out state, and what each campaign did to the one selected."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import get_current_worker

from notify_tui.store.contacts import ContactRow, DeliveryRecord, delivery_history
from notify_tui.ui.formatting import count
from notify_tui.ui.messages import CampaignOpened, DeliveryHistoryLoaded
from notify_tui.ui.screens.opt_out_actions import OptOutActionsScreen, number_and_name
from notify_tui.ui.text import safe_text
from notify_tui.ui.widgets.contact_table import ContactSource, ContactTable, source_label
from notify_tui.ui.widgets.delivery_history import DeliveryHistoryTable
from notify_tui.ui.widgets.filter_input import FilterInput
from notify_tui.ui.widgets.footer import NotifyFooter
from notify_tui.ui.widgets.virtual_table import VirtualTable

HISTORY_DELAY = 0.1
"""Seconds the cursor rests on a contact before its history is read."""


class ContactsScreen(OptOutActionsScreen):
    """The contacts; ``/`` searches, ``o`` opts the selected number out (or back in)."""

    TITLE = "Contacts"
    HELP_SECTION = "Contacts"
    AUTO_FOCUS = "#contacts"
    OPT_OUT_FROM = "Contacts"
    # Not a ClassVar: Screen declares it as an attribute that may be None.
    HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] | None = [(0, "-narrow"), (140, "-wide")]  # noqa: RUF012
    """A wide terminal shows the delivery history beside the table rather than below it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="contacts.back", tooltip="Back to History"),
        Binding(
            "slash",
            "search",
            "Search",
            id="contacts.search",
            tooltip="Find contacts by number or name as you type",
        ),
        Binding(
            "o",
            "toggle_opt_out",
            "Opt out",
            id="contacts.opt_out",
            tooltip="Opt the selected number out of future campaigns (on an opted-out "
            "number: opt it back in)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._history_timer: Timer | None = None
        self.history_phone: str | None = None
        """The number whose delivery history is shown."""

    def compose(self) -> ComposeResult:
        app = self.notify_app
        with Horizontal(id="contacts-bar", classes="bar"):
            yield Static(Text("Contacts", style="bold"), id="contacts-title")
            yield FilterInput(placeholder="/ search number or name", id="contacts-search")
        with Horizontal(id="contacts-body"):
            yield ContactTable(now=app.clock, tz=app.tz, id="contacts")
            with Vertical(id="delivery-panel"):
                yield Static(id="delivery-title")
                yield DeliveryHistoryTable(now=app.clock, tz=app.tz, id="delivery-history")
        yield NotifyFooter()

    @property
    def table(self) -> ContactTable:
        """The contacts table."""
        return self.query_one(ContactTable)

    @property
    def history(self) -> DeliveryHistoryTable:
        """The selected contact's delivery history."""
        return self.query_one(DeliveryHistoryTable)

    @on(VirtualTable.Loaded, "#contacts")
    def _loaded(self, event: VirtualTable.Loaded) -> None:
        self._show_title()
        if self.history_phone is not None:
            # An opt-out or in shows at once; the history of the row follows (CursorMoved).
            self._show_history_title(self.table.current_row)

    def _show_title(self) -> None:
        search = self.table.source.search.strip()
        shown = self.table.row_count
        title = Text("Contacts", style="bold")
        if search:
            title.append(f" · {count(shown)} of {count(self.table.source.total)} match “")
            title.append_text(safe_text(search))
            title.append("”")
        else:
            title.append(f" · {count(shown)}")
        self.query_one("#contacts-title", Static).update(title)

    # The selected contact's delivery history

    @on(VirtualTable.CursorMoved, "#contacts")
    def _cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        if self._history_timer is not None:
            self._history_timer.stop()
        self._history_timer = self.set_timer(HISTORY_DELAY, self._read_history)

    def _read_history(self) -> None:
        contact = self.table.current_row
        self._show_history_title(contact)
        if contact is None:
            self.history_phone = None
            self.history.show([])
            return
        self._load_history(contact.phone)

    def _show_history_title(self, contact: ContactRow | None) -> None:
        if contact is None:
            self.query_one("#delivery-title", Static).update(Text(""))
            return
        title = Text("Delivery history of ", style="bold")
        title.append_text(number_and_name(contact.phone, contact.name))
        if contact.opted_out:
            title.append(f" · opted out ({source_label(contact.opt_out_source)})", style="bold")
        self.query_one("#delivery-title", Static).update(title)

    @work(
        thread=True,
        exclusive=True,
        group="delivery-history",
        exit_on_error=False,
        description="Reading a contact's delivery history",
    )
    def _load_history(self, phone: str) -> None:
        records: list[DeliveryRecord] = delivery_history(phone)
        if not get_current_worker().is_cancelled:
            self.post_message(DeliveryHistoryLoaded(phone, records))

    def on_delivery_history_loaded(self, event: DeliveryHistoryLoaded) -> None:
        event.stop()
        contact = self.table.current_row
        if contact is None or contact.phone != event.phone:
            return  # the cursor moved on meanwhile
        self.history_phone = event.phone
        self.history.show(event.records)

    @on(VirtualTable.RowActivated, "#contacts")
    def _contact_chosen(self, event: VirtualTable.RowActivated) -> None:
        event.stop()
        self.history.focus()

    @on(VirtualTable.RowActivated, "#delivery-history")
    def _campaign_chosen(self, event: VirtualTable.RowActivated) -> None:
        event.stop()
        record = event.row
        assert isinstance(record, DeliveryRecord)
        self.post_message(CampaignOpened(record.campaign_id))

    # Search

    def action_search(self) -> None:
        """Put the cursor in the search box."""
        self.query_one("#contacts-search", FilterInput).focus()

    @on(FilterInput.Settled, "#contacts-search")
    def _search_settled(self, event: FilterInput.Settled) -> None:
        if event.value != self.table.source.search:
            self.table.set_source(ContactSource(event.value))

    @on(FilterInput.Dismissed, "#contacts-search")
    def _search_dismissed(self, event: FilterInput.Dismissed) -> None:
        self.table.focus()

    # Opting out

    def action_toggle_opt_out(self) -> None:
        """Opt the selected number out; on an opted-out one, offer to opt it back in."""
        contact = self.table.current_row
        if contact is not None:
            self.toggle_opt_out(
                contact.phone, contact.name, contact.opted_out, contact.opt_out_source
            )

    def opt_outs_changed(self, phone: str) -> None:
        self.table.reload(keep_cursor=True)

    def on_screen_resume(self) -> None:
        # Details (opened from the history) may have opted numbers out or in.
        self.table.reload(keep_cursor=True)
        self._read_history()

    def action_back(self) -> None:
        """Back to History."""
        self.app.pop_screen()
