"""User data made safe for the terminal: every cell and line goes through ``safe_text``.

The rule itself (which characters are replaced, and by what) is ``domain.text.visible``, shared
with the command line.
"""

from __future__ import annotations

from rich.text import Text

from notify_tui.domain.text import visible

__all__ = ["safe_text"]


def safe_text(value: Text | str) -> Text:
    """`value` as a single-line `Text` that is safe to send to a terminal.

    A `str` is taken literally (never parsed as markup); a `Text` is copied, never changed.
    Every control character, bidi override or other invisible formatting character is
    replaced by a visible one, one for one, so the styles of a `Text` stay where they were.
    """
    if isinstance(value, str):
        # Before Text(), which would silently drop some control characters (BEL, CR, …).
        return Text(visible(value))
    plain = value.plain
    if plain.isprintable():
        return value.copy()
    return Text(visible(plain), style=value.style, spans=list(value.spans))
