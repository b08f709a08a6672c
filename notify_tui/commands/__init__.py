"""The subcommands of ``notify-tui``; importing this package registers them all."""
