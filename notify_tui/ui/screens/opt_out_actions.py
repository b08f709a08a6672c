"""Opting a number out and back in from a screen that lists numbers (Details, Contacts,
Opt-outs): one set of workers, messages and notifications for all three."""

from __future__ import annotations

from rich.text import Text
from textual import work

from notify_tui.domain.phone import format_for_humans
from notify_tui.store.optouts import (
    SOURCE_MANUAL,
    SOURCE_PROVIDER,
    OptInRefused,
    opt_in,
    opt_out,
)
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.formatting import plain
from notify_tui.ui.messages import NumberOptedIn, NumberOptedOut, NumberOptInRefused
from notify_tui.ui.screens.base import NotifyScreen
from notify_tui.ui.text import safe_text


def number_and_name(phone: str, name: str) -> Text:
    """``+1 415-555-2671 (Bob)``, taken literally."""
    text = safe_text(format_for_humans(phone))
    if name:
        text.append(" (")
        text.append_text(safe_text(name))
        text.append(")")
    return text


class OptOutActionsScreen(NotifyScreen):
    """A screen of numbers that can be opted out, and back in except after a STOP."""

    OPT_OUT_FROM = "the app"
    """Where the change was made, for the audit trail (``opted out from Contacts``)."""

    def toggle_opt_out(
        self,
        phone: str,
        name: str,
        opted_out: bool,
        source: str | None,
        *,
        why: str | None = None,
        campaign_id: int | None = None,
        code: int | None = None,
    ) -> None:
        """Opt ``phone`` out; when it is opted out, offer to opt it back in.

        ``why``, ``campaign_id`` and ``code`` go into the audit trail of an opt-out, and the
        campaign into that of an opt-in.
        """
        if not opted_out:
            self._opt_out_number(phone, why, campaign_id, code)
        elif source == SOURCE_PROVIDER:
            self._opt_in_number(phone, campaign_id)  # refused by the store, which says why
        else:
            self.ask_opt_in(phone, name, campaign_id)

    def ask_opt_in(self, phone: str, name: str, campaign_id: int | None = None) -> None:
        """Ask, then opt ``phone`` back in (from ``campaign_id``'s Details, if given)."""
        question = (
            Text("Opt ")
            + number_and_name(phone, name)
            + Text(" back in? Future campaigns will text it.")
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._opt_in_number(phone, campaign_id)

        self.app.push_screen(
            ConfirmDialog("Opt back in", question, yes="Opt in", no="Keep opted out"), answered
        )

    @work(thread=True, group="opt-out", exit_on_error=False, description="Opting a number out")
    def _opt_out_number(
        self, phone: str, why: str | None, campaign_id: int | None, code: int | None
    ) -> None:
        reason = f"opted out from {self.OPT_OUT_FROM}" + (f" ({why})" if why else "")
        changed = opt_out(
            phone,
            source=SOURCE_MANUAL,
            reason=reason,
            actor=self.notify_app.runtime.settings.operator,
            campaign_id=campaign_id,
            code=code,
        )
        self.post_message(NumberOptedOut(phone, changed))

    @work(thread=True, group="opt-out", exit_on_error=False, description="Opting a number in")
    def _opt_in_number(self, phone: str, campaign_id: int | None) -> None:
        reason = f"opted back in from {self.OPT_OUT_FROM}"
        if campaign_id is not None:
            reason += f" (campaign {campaign_id})"
        try:
            opt_in(phone, actor=self.notify_app.runtime.settings.operator, reason=reason)
        except OptInRefused as refused:
            self.post_message(NumberOptInRefused(phone, str(refused)))
            return
        self.post_message(NumberOptedIn(phone))

    def opt_outs_changed(self, phone: str) -> None:
        """Show that ``phone`` was opted out or in (override)."""

    def on_number_opted_out(self, event: NumberOptedOut) -> None:
        event.stop()
        self.opt_outs_changed(event.phone)
        number = plain(format_for_humans(event.phone))
        if event.changed:
            message = f"Opted out {number}: future campaigns will skip it."
        else:
            message = f"{number} was already opted out."
        self.app.notify(message, title="Opt-out", markup=False)

    def on_number_opted_in(self, event: NumberOptedIn) -> None:
        event.stop()
        self.opt_outs_changed(event.phone)
        number = plain(format_for_humans(event.phone))
        self.app.notify(f"Opted {number} back in.", title="Opt-in", markup=False)

    def on_number_opt_in_refused(self, event: NumberOptInRefused) -> None:
        event.stop()
        self.opt_outs_changed(event.phone)
        self.app.notify(
            plain(event.explanation),
            title="Can't opt back in",
            severity="warning",
            timeout=10,
            markup=False,
        )
