"""notify-tui: know what happened to every text message of an SMS campaign."""

__version__ = "0.1.0"
