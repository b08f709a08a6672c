"""One number's fate in each campaign it was sent: the last status per campaign, newest first."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType

from notify_tui.domain.status import Status
from notify_tui.store.contacts import DeliveryRecord
from notify_tui.ui.formatting import styled, when
from notify_tui.ui.widgets.virtual_table import Column, ListSource, VirtualTable


def last_per_campaign(records: Iterable[DeliveryRecord]) -> list[DeliveryRecord]:
    """The first record of each campaign (``delivery_history`` lists the newest first)."""
    seen: set[int] = set()
    latest: list[DeliveryRecord] = []
    for record in records:
        if record.campaign_id not in seen:
            seen.add(record.campaign_id)
            latest.append(record)
    return latest


class DeliveryHistoryTable(VirtualTable[DeliveryRecord]):
    """Campaign, status, Failed Message Reason and when; Enter opens the campaign."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "activate",
            "Open campaign",
            id="contacts.open_campaign",
            tooltip="Open the selected campaign's Details",
        ),
    ]

    HELP_SECTION = "Delivery history"

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *VirtualTable.COMPONENT_CLASSES,
        "delivery-history--delivered",
        "delivery-history--failed",
        "delivery-history--unknown",
    }

    DEFAULT_CSS = """
    DeliveryHistoryTable {
        & > .delivery-history--delivered { color: $text-success; }
        & > .delivery-history--failed { color: $text-error; }
        & > .delivery-history--unknown { color: $text-warning; }
    }
    """

    def __init__(
        self, *, now: Callable[[], datetime], tz: tzinfo | None, id: str | None = None
    ) -> None:
        self._now = now
        self._tz = tz
        columns: list[Column[DeliveryRecord]] = [
            Column("campaign", "Campaign", render=lambda r: r.campaign_name, min_width=10, ratio=2),
            Column("status", "Status", render=self._status, width=9),
            Column(
                "reason",
                "Failed Message Reason",
                render=lambda r: r.reason or "",
                min_width=12,
                ratio=3,
            ),
            Column("updated", "Updated", render=self._updated, width=12, priority=2),
        ]
        super().__init__(
            columns, ListSource(), placeholder="No campaign was sent to this number.", id=id
        )

    def show(self, records: Iterable[DeliveryRecord]) -> None:
        """Show these records (the last one per campaign), from the top."""
        self.set_source(ListSource(last_per_campaign(records)))

    def _status(self, record: DeliveryRecord) -> Text:
        try:
            status = Status(record.status)
        except ValueError:
            return Text(record.status)
        style = self.get_component_rich_style(f"delivery-history--{status.value}", partial=True)
        return styled(status.label, style or Style())

    def _updated(self, record: DeliveryRecord) -> str:
        return when(record.updated_at, self._now(), self._tz)
