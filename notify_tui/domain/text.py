"""Text from data on its way out: to a terminal, and to a spreadsheet; and text as a search
compares it.

``visible`` is the one rule for what a terminal may receive from data: the app's tables
(``ui.widgets.virtual_table.safe_text``) and the CLI's output both use it. ``spreadsheet_safe``
is the one rule for a cell of a CSV file meant for a spreadsheet. ``fold`` is the one rule for
what a search ignores (case and accents), on the stored names and the typed text alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

# Zero-width joiners stay: they are harmless and hold emoji sequences together.
_ALLOWED_FORMAT = frozenset("\u200c\u200d")


@lru_cache(maxsize=4096)
def _visible(char: str) -> str:
    """A printable stand-in for a character the terminal must never receive as is."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # Control Pictures: ␀ … ␟, so ESC shows as ␛
    if code == 0x7F:
        return "\u2421"  # ␡
    if char in _ALLOWED_FORMAT:
        return char
    if unicodedata.category(char) == "Zs":
        return " "
    return "\ufffd"  # C1 controls, bidi overrides and isolates, line separators, …


def visible(text: str) -> str:
    """``text`` with every control character, bidi override or other invisible formatting
    character replaced by a visible one, one for one: safe to write to a terminal, on one line.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _visible(char) for char in text)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection")."""


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as a spreadsheet will show it, never run it: a cell that starts like a formula
    gets a leading ``'``, as OWASP recommends. Anything else is left as it is."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def spreadsheet_safe_row(cells: Sequence[str], phone_column: int | None = None) -> list[str]:
    """Every cell ``spreadsheet_safe``, except the phone column's when it holds an E.164 number
    (``+14155550100`` must stay a number a spreadsheet and a phone understand): a phone column
    may also hold the raw text of an invalid number, which is treated as any other text."""
    return [
        cell if index == phone_column and _E164.fullmatch(cell) else spreadsheet_safe(cell)
        for index, cell in enumerate(cells)
    ]


def duration(seconds: float) -> str:
    """``about 42 minutes``; ``a few seconds`` for anything under half a minute (the app and
    the commands say how long a send takes the same way)."""
    if seconds < 30:
        return "a few seconds"
    minutes = round(seconds / 60)
    if minutes < 90:
        minutes = max(minutes, 1)
        return f"about {minutes:,} minute{'' if minutes == 1 else 's'}"
    hours = seconds / 3600
    return f"about {hours:.1f} hours" if hours < 48 else f"about {hours / 24:.1f} days"


# Letters that carry their difference in the letter itself, not in a combining accent.
_UNDECOMPOSED = str.maketrans(
    {
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "ħ": "h",
        "ŧ": "t",
        "ı": "i",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
    }
)


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """``text`` as a search compares it, case and accents folded: ``Siobhán`` → ``siobhan``,
    ``STRAẞE`` → ``strasse``, ``Øyvind`` → ``oyvind``, ``Ｂｏｂ`` → ``bob``."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return bare.translate(_UNDECOMPOSED)


def folded_name(name: str | None) -> str | None:
    """What a name's stored ``name_folded`` column holds: ``None`` for an ASCII name (the
    database's case-insensitive ``LIKE`` on the name itself says the same), else ``fold(name)``.
    Stored, so that no search folds a row."""
    if not name or name.isascii():
        return None
    return fold(name)
