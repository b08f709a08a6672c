"""The subcommands of ``notify-tui``; importing this package registers them all."""

from notify_tui.commands import campaigns, demo, poll, sandbox

__all__ = ["campaigns", "demo", "poll", "sandbox"]
