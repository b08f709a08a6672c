"""The Textual app: built by ``make_app`` from a runtime, started by ``run_app``."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from textual.app import App

from notify_tui.config import Settings


def stylesheet_path() -> Path:
    """``notify.tcss`` as installed inside the package (a regular install or an editable one)."""
    return Path(str(files("notify_tui").joinpath("notify.tcss")))


class NotifyApp(App[int]):
    """notify-tui."""

    CSS_PATH = str(stylesheet_path())
    TITLE = "notify-tui"


def run_app(settings: Settings) -> int:
    """Open the app on the workspace the settings name; returns the exit status."""
    app = NotifyApp()
    app.run()
    return app.return_code or 0
