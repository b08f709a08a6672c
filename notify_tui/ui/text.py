"""User data made safe for the terminal: every cell and line goes through ``safe_text``."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from rich.text import Text

__all__ = ["safe_text"]

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


def safe_text(value: Text | str) -> Text:
    """`value` as a single-line `Text` that is safe to send to a terminal.

    A `str` is taken literally (never parsed as markup); a `Text` is copied, never changed.
    Every control character, bidi override or other invisible formatting character is
    replaced by a visible one, one for one, so the styles of a `Text` stay where they were.
    """
    if isinstance(value, str):
        # Before Text(), which would silently drop some control characters (BEL, CR, …).
        return Text(_visible_string(value))
    plain = value.plain
    if plain.isprintable():
        return value.copy()
    return Text(_visible_string(plain), style=value.style, spans=list(value.spans))


def _visible_string(value: str) -> str:
    if value.isprintable():
        return value
    return "".join(char if char.isprintable() else _visible(char) for char in value)
