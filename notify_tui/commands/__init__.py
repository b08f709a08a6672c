"""The subcommands of ``notify-tui``; importing this package registers them all."""

from notify_tui.commands import campaigns, contacts, demo, doctor, optouts, poll, sandbox, send

__all__ = ["campaigns", "contacts", "demo", "doctor", "optouts", "poll", "sandbox", "send"]
