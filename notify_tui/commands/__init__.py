"""The subcommands of ``notify-tui``; importing this package registers them all."""

from notify_tui.commands import campaigns, demo, optouts, poll, sandbox

__all__ = ["campaigns", "demo", "optouts", "poll", "sandbox"]
