"""The top of Details: which campaign, what it said, when and from whom, and how fresh it is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.widget import Widget

from notify_tui.domain.phone import format_for_humans
from notify_tui.domain.status import CampaignState
from notify_tui.store.campaigns import CampaignSummary
from notify_tui.store.waiting import Waiting
from notify_tui.ui.formatting import clock_time, count, money, when
from notify_tui.ui.text import safe_text
from notify_tui.ui.widgets.campaign_table import SUGGESTION_MARK

ACTIVITY_MARK = "●"


def one_line(text: str) -> str:
    """A message body on one line: its line breaks shown as ↵."""
    return " ↵ ".join(part.strip() for part in text.splitlines() if part.strip())


class CampaignHeader(Widget):
    """Three lines: the name and freshness; when, from whom and what it cost; the message."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "campaign-header--name",
        "campaign-header--muted",
        "campaign-header--activity",
        "campaign-header--sending",
        "campaign-header--suggested",
    }

    DEFAULT_CSS = """
    CampaignHeader {
        height: 3;
        & > .campaign-header--name { text-style: bold; }
        & > .campaign-header--muted { color: $text-muted; }
        & > .campaign-header--activity { color: $text-accent; }
        & > .campaign-header--sending { color: $text-accent; text-style: bold; }
        & > .campaign-header--suggested { color: $text-warning; text-style: bold; }
    }
    """

    def __init__(
        self,
        *,
        now: Callable[[], datetime],
        tz: tzinfo | None,
        live: bool,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._now = now
        self._tz = tz
        self._live = live
        self._campaign: CampaignSummary | None = None
        self._checked: datetime | None = None
        self._busy = False
        self._suggested = 0
        self._review = 0
        self._waiting: Waiting | None = None
        self._sharing: tuple[str, int] | None = None
        self._delivery: str | None = None
        self._recovered = ""

    @property
    def campaign(self) -> CampaignSummary | None:
        """The campaign shown."""
        return self._campaign

    @property
    def busy(self) -> bool:
        """True while a poll cycle is running."""
        return self._busy

    @property
    def suggested(self) -> int:
        """Pending opt-out suggestions shown."""
        return self._suggested

    @property
    def needs_review(self) -> int:
        """Recipients shown as needing review."""
        return self._review

    @property
    def waiting(self) -> Waiting | None:
        """What sending and receipts have left, as last read (``None``: not read yet)."""
        return self._waiting

    def show(
        self,
        campaign: CampaignSummary,
        suggested: int | None = None,
        review: int | None = None,
        waiting: Waiting | None = None,
    ) -> None:
        """Show ``campaign`` (new counters or a new state) and, when given, how many of its
        numbers are suggested for opt-out, how many recipients need review, and what sending
        has left."""
        self._campaign = campaign
        if waiting is not None:
            self._waiting = waiting
        if suggested is not None:
            self._suggested = suggested
        if review is not None:
            self._review = review
        self.refresh()

    def recovered(self, said: str) -> None:
        """What the campaign's follow-ups achieved (``recovered 38 of 55``; "" for none)."""
        if said != self._recovered:
            self._recovered = said
            self.refresh()

    def sharing(self, sender: str | None, other: int | None) -> None:
        """While sending, another campaign (``other``) sends from the same ``sender``: this one
        waits for its turns on the sender's pace (``None``: it has the sender to itself)."""
        shared = (sender, other) if sender and other is not None else None
        if shared != self._sharing:
            self._sharing = shared
            self.refresh()

    def delivered_by(self, mode: str | None) -> None:
        """How statuses arrive live: ``push``, ``polling`` (``None``: sends ask for no status
        callbacks, nothing to say)."""
        if mode != self._delivery:
            self._delivery = mode
            self.refresh()

    def checking(self) -> None:
        """A poll cycle started."""
        self._busy = True
        self._refresh_title()

    def checked(self, at: datetime) -> None:
        """A poll cycle finished at ``at``."""
        self._busy = False
        self._checked = at
        self._refresh_title()

    def _refresh_title(self) -> None:
        # The activity mark and the time are on the first line: only that line is drawn again.
        self.refresh(Region(0, 0, self.size.width, 1))

    def _component(self, name: str) -> Style:
        return self.get_component_rich_style(f"campaign-header--{name}", partial=True)

    def render(self) -> Text:
        width = max(self.content_region.width or self.size.width, 1)
        campaign = self._campaign
        if campaign is None:
            return Text("")
        return Text("\n").join(
            [
                self._title(campaign, width),
                self._facts(campaign, width),
                self._body(campaign, width),
            ]
        )

    def _freshness(self, campaign: CampaignSummary) -> Text:
        checked = self._checked or campaign.last_checked_at
        mark = Text(f"{ACTIVITY_MARK} " if self._busy else "  ", style=self._component("activity"))
        if checked is None:
            label = "live" if self._live else "not checked yet"
        else:
            label = f"last checked {clock_time(checked, self._tz)}"
        if not self._live:
            label += " (live updates off)" if checked is not None else ""
        elif self._delivery is not None:
            label = (
                f"live ({self._delivery})"
                if checked is None
                else f"live ({self._delivery}), {label}"
            )
        return mark + Text(label, style=self._component("muted"))

    def _title(self, campaign: CampaignSummary, width: int) -> Text:
        name = safe_text(campaign.name)
        name.stylize(self._component("name"))
        right = self._marks(campaign, compact=False)
        if name.cell_len + 1 + right.cell_len > width:
            # A narrow terminal: the name before the words around the marks and the time.
            right = self._marks(campaign, compact=True)
        room = max(width - right.cell_len - 1, 1)
        name.truncate(room, overflow="ellipsis")
        line = name + Text(" " * max(width - name.cell_len - right.cell_len, 1)) + right
        line.truncate(width, overflow="ellipsis")
        return line

    def _marks(self, campaign: CampaignSummary, compact: bool) -> Text:
        """What is waiting for the user, and how fresh the figures are (``compact``: in short)."""
        if compact:
            checked = self._checked or campaign.last_checked_at
            mark = f"{ACTIVITY_MARK} " if self._busy else ""
            right = Text(
                mark + (clock_time(checked, self._tz) if checked else ""),
                style=self._component("muted"),
            )
        else:
            right = self._freshness(campaign)
        if self._suggested:
            words = f"{SUGGESTION_MARK} {count(self._suggested)}"
            words += " (p)" if compact else " to opt out? (p)"
            right = Text(words, style=self._component("suggested")) + Text(" ") + right
        if self._review:
            words = f"{count(self._review)} " + ("review (v)" if compact else "need review (v)")
            right = Text(words, style="bold reverse") + Text(" ") + right
        right.rstrip()
        return right

    def _sent_of(self, campaign: CampaignSummary) -> str:
        """``3 of 6 sent``: the messages to send (invalid numbers are never sent) and how many
        of them are done, as History counts them."""
        waiting = self._waiting
        if waiting is None:
            return f"{count(campaign.submitted)} of {count(campaign.recipients)} submitted"
        return f"{count(waiting.sent)} of {count(waiting.to_send)} sent"

    def _facts(self, campaign: CampaignSummary, width: int) -> Text:
        parts: list[Text] = []
        if campaign.state == CampaignState.SENDING:
            parts.append(
                Text(f"Sending: {self._sent_of(campaign)}", style=self._component("sending"))
            )
            if self._sharing is not None:
                shared, other = self._sharing
                parts.append(
                    Text("waiting: ", style=self._component("sending"))
                    + safe_text(format_for_humans(shared))
                    + Text(f" is also sending campaign {other}")
                )
        elif campaign.state == CampaignState.INTERRUPTED:
            parts.append(
                Text(f"Interrupted: {self._sent_of(campaign)}", style=self._component("sending"))
            )
        elif campaign.sent_at is not None:
            parts.append(Text(f"Sent {when(campaign.sent_at, self._now(), self._tz)}"))
        else:
            parts.append(Text("Not sent"))
        if self._recovered:
            # What a follow-up is for: shown early, before the details that get cut first.
            parts.append(Text(f"follow-up {self._recovered}", style=self._component("name")))
        if campaign.followup_of is not None:
            parts.append(Text(f"follow-up of campaign {campaign.followup_of}"))
        cost = f"cost {money(campaign.cost)}"
        if campaign.sending:
            # The actual cost grows as messages resolve: the estimate says where it is heading.
            cost += f" of {money(campaign.estimated_cost, estimate=True)}"
        parts.append(Text(cost))
        if campaign.pushed:
            parts.append(Text(f"statuses by {campaign.statuses_by}"))
        if campaign.skipped_opted_out:
            # What opting out is for: shown before the sender, which is the first to be cut.
            parts.append(
                Text(
                    f"saved {money(campaign.money_saved, estimate=True)} on "
                    f"{count(campaign.skipped_opted_out)} opted out"
                )
            )
        segments = campaign.segments
        parts.append(Text(f"{segments} segment{'s' if segments != 1 else ''}"))
        sender = campaign.sender or campaign.messaging_service_sid
        if sender:
            parts.append(Text("from ") + safe_text(format_for_humans(sender)))
        # Whole facts or none: on a narrow terminal the last ones (the sender first) are left
        # out rather than cut in the middle ("1 segment · fr…"); the first is always there.
        separator = Text(" · ", style=self._component("muted"))
        kept = parts[:1]
        used = parts[0].cell_len
        for part in parts[1:]:
            if used + separator.cell_len + part.cell_len > width:
                break
            kept.append(part)
            used += separator.cell_len + part.cell_len
        line = separator.join(kept)
        line.truncate(width, overflow="ellipsis")
        return line

    def _body(self, campaign: CampaignSummary, width: int) -> Text:
        line = Text("“", style=self._component("muted"))
        line.append_text(safe_text(one_line(campaign.body)))
        line.append("”", style=self._component("muted"))
        line.truncate(width, overflow="ellipsis")
        return line
