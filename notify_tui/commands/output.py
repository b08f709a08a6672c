"""What the commands write on standard output: text from data, safe for where it goes.

A terminal never receives data raw: control and bidi characters are replaced by visible ones
(``domain.text.visible``, the rule the app's tables use). A file or a pipe gets the data as
stored (CSV and JSON are data for other tools), except that the tables meant for people are made
visible wherever they go.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from notify_tui.domain.text import visible


def _same(text: str) -> str:
    return text


def for_stream(stream: TextIO) -> Callable[[str], str]:
    """How data must be shown on ``stream``: ``visible`` on a terminal, as stored elsewhere."""
    try:
        tty = stream.isatty()
    except ValueError:  # a closed stream
        tty = False
    return visible if tty else _same
