"""What the app remembers between runs of its own accord: the theme chosen in the palette.

It lives in ``ui-state.json`` in the data directory, not in the config file: the config file is
the user's, written by hand, perhaps with comments and secrets (mode 600), and a program that
rewrites it would lose the comments or widen what it holds. The state file says which theme
was chosen and over which ``theme`` setting, so that the latest choice wins: a theme picked in
the palette stays until the user writes another ``theme`` into the config file.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from notify_tui.config import Settings

STATE_FILE = "ui-state.json"


def state_path(settings: Settings) -> Path:
    """Where the app keeps what it remembers."""
    return settings.data_dir / STATE_FILE


def _read(path: Path) -> dict[str, object]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: nothing remembered
    return state if isinstance(state, dict) else {}


def theme_to_use(settings: Settings) -> str | None:
    """The theme chosen in the palette last, unless the ``theme`` setting changed since; else
    the setting (``None``: the app's default)."""
    state = _read(state_path(settings))
    chosen = state.get("theme")
    if isinstance(chosen, str) and chosen and state.get("over") == settings.theme:
        return chosen
    return settings.theme


def remember_theme(settings: Settings, theme: str) -> None:
    """Remember ``theme`` (chosen in the palette) for the next start; a failure to write is
    not worth an error (the choice holds for this run)."""
    path = state_path(settings)
    state = _read(path)
    state.update(theme=theme, over=settings.theme)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
