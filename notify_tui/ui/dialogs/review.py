"""Settling a recipient that needs review: adopt a provider message, send again, or leave it."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from notify_tui.ui.text import safe_text

_SID = re.compile(r"\b(?:SM|MM)[0-9a-fA-F]{32}\b")

RESEND = "resend"
SKIP = "skip"
ADOPT = "adopt:"
"""A decision: ``RESEND``, ``SKIP`` or ``ADOPT`` followed by the SID."""


def candidates(note: str) -> list[str]:
    """The provider messages a needs-review note names, in order, once each."""
    return list(dict.fromkeys(_SID.findall(note)))


class ReviewDialog(ModalScreen[str | None]):
    """Shows why a recipient needs review; dismisses with the decision, or ``None``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="review.cancel"),
    ]

    HELP_SECTION = "Review"

    def __init__(self, who: Text, note: str) -> None:
        """``who`` names the recipient (a ``Text``: data shows literally); ``note`` says why."""
        super().__init__()
        self._who = who
        self._note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="review-dialog", classes="dialog") as box:
            box.border_title = "Needs review"
            yield Static(
                self._who + Text(": the create's outcome is unknown. ") + safe_text(self._note),
                id="review-why",
            )
            options = [
                Option(
                    Text("Adopt ") + safe_text(sid) + Text(": it is this recipient's"), ADOPT + sid
                )
                for sid in candidates(self._note)
            ]
            options += [
                Option("Send it again (the provider's message is not this one's)", RESEND),
                Option("Leave it: not adopted, not sent again", SKIP),
            ]
            yield OptionList(*options, id="review-choices")

    @on(OptionList.OptionSelected, "#review-choices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Close without deciding."""
        self.dismiss(None)
