"""How numbers, money and times read on screen.

The store keeps naive UTC; everything shown is converted to the display time zone here, once.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from decimal import Decimal

from rich.style import Style
from rich.text import Text

from notify_tui.domain.money import format_money
from notify_tui.domain.text import duration as duration
from notify_tui.errors import user_message
from notify_tui.ui.text import safe_text


def local(moment: datetime, tz: tzinfo | None) -> datetime:
    """A naive UTC ``moment`` in the display zone (``None``: this machine's zone)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(tz)


def when(moment: datetime | None, now: datetime, tz: tzinfo | None) -> str:
    """``Nov 27 14:05`` (with the year when it is not this year); ``—`` for none."""
    if moment is None:
        return "—"
    shown, today = local(moment, tz), local(now, tz)
    if shown.year != today.year:
        return shown.strftime("%Y-%m-%d %H:%M")
    return shown.strftime("%b %d %H:%M")


def clock_time(moment: datetime | None, tz: tzinfo | None) -> str:
    """``14:05:33`` in the display zone; ``—`` for none."""
    return "—" if moment is None else local(moment, tz).strftime("%H:%M:%S")


def short_when(moment: datetime | None, now: datetime, tz: tzinfo | None) -> str:
    """The time of day for today, else the date: eight cells at most."""
    if moment is None:
        return ""
    shown, today = local(moment, tz), local(now, tz)
    if shown.date() == today.date():
        return shown.strftime("%H:%M:%S")
    return shown.strftime("%b %d")


def count(value: int) -> str:
    """``12,345``."""
    return f"{value:,}"


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 message``, ``2,000 messages``."""
    return f"{count(n)} {one if n == 1 else (many or one + 's')}"


def compact(value: int) -> str:
    """``950``, ``12k``, ``1.2M``: for places too narrow for every digit."""
    if value < 10_000:
        return f"{value:,}"
    if value < 1_000_000:
        return f"{value // 1000}k"
    return f"{value / 1_000_000:.1f}M"


def percent(part: int, whole: int) -> str:
    """``88.2%`` of ``whole`` (``0.0%`` when it is empty); never ``0.0%`` for some nor ``100.0%``
    for not all: one failure in 2,456 is ``<0.1%``, all but one ``>99.9%``."""
    if not whole:
        return "0.0%"
    shown = f"{100.0 * part / whole:.1f}%"
    if part and shown == "0.0%":
        return "<0.1%"
    if part != whole and shown == "100.0%":
        return ">99.9%"
    return shown


def money(value: Decimal, *, unit: bool = False, estimate: bool = False) -> str:
    """An amount as every surface shows it (``domain.money.format_money``): ``$38.50``,
    ``$0.0474`` under a dollar, ``$0.0158`` for a price per message (``unit``), ``≈ $38.50`` for
    an ``estimate``; always positive."""
    return format_money(value, unit=unit, estimate=estimate)


def plain(value: object, limit: int = 300) -> str:
    """Data made safe for a notification: one line, no control characters, not too long.

    Pass the result with ``markup=False``: it is never parsed as markup.
    """
    text = safe_text(str(value)).plain
    return text if len(text) <= limit else text[: limit - 1] + "…"


def styled(value: str, style: Style) -> Text:
    """``value`` with ``style`` on its characters (a span, not the base style).

    Table cells are rendered line by line, which keeps spans but not a ``Text``'s base style.
    """
    text = Text(value)
    if value and style:
        text.stylize(style)
    return text


def describe_error(exc: BaseException) -> str:
    """One line about an exception, for a notification."""
    return plain(user_message(exc) or f"{type(exc).__name__}: {exc}")
