"""One line at the top of a screen while the provider is not answering: since when, and why."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from notify_tui.ui.formatting import local
from notify_tui.ui.text import safe_text

if TYPE_CHECKING:
    from notify_tui.services.health import Outage


class OutageBanner(Static):
    """Hidden while the provider answers; during an outage, when it began, where, the last
    error, and that notify-tui keeps trying. Fed by the app's live service (``outage_changed``)."""

    DEFAULT_CSS = """
    OutageBanner {
        display: none;
        height: 1;
        padding: 0 1;
        background: $error 30%;
        text-style: bold;
    }
    OutageBanner.-down {
        display: block;
    }
    """

    def __init__(self, tz: tzinfo | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._tz = tz

    def show(self, outage: Outage | None) -> None:
        """Show ``outage`` (``None``: the provider answers; the line goes away)."""
        self.set_class(outage is not None, "-down")
        if outage is None:
            self.update("")
            return
        line = Text(
            f"Provider unreachable since {_clock(outage.since, self._tz)} "
            f"({outage.host or 'the provider'}), retrying: "
        )
        line.append_text(safe_text(outage.last_error))
        line.no_wrap = True
        line.overflow = "ellipsis"
        self.update(line)


def _clock(moment: datetime, tz: tzinfo | None) -> str:
    return local(moment, tz).strftime("%H:%M:%S")
