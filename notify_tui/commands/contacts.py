"""``notify-tui contacts import FILE.csv``: import contacts without the UI."""

from __future__ import annotations

import argparse
import sys

from notify_tui.commands import CommandError, UsageError
from notify_tui.config import Settings
from notify_tui.domain.text import visible
from notify_tui.services.contacts_import import ContactsFileError, import_contacts
from notify_tui.services.runtime import Runtime


def checked_region(region: str, where: str) -> str:
    """``region`` as a known two-letter country code (``GB``), or a one-line error that says
    ``where`` it came from: before a file is read, not on every line of it."""
    import phonenumbers

    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise UsageError(
            f"{where}: {visible(region)!r} is not a country code phonenumbers knows (two letters, "
            "as GB, US or DE)"
        )
    return code


def run_contacts_import(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui contacts import``: import a CSV file and print its report."""
    if args.region:
        region = checked_region(args.region, "--region")
    else:
        region = checked_region(settings.default_region, "default_region")
    tty = sys.stderr.isatty()

    def progress(lines: int) -> None:
        if tty:
            sys.stderr.write(f"\r\x1b[2K{lines:,} lines read")
            sys.stderr.flush()

    runtime = Runtime.open(settings)
    try:
        report = import_contacts(args.file, region=region, on_progress=progress)
    except ContactsFileError as exc:
        raise CommandError(str(exc)) from None
    finally:
        if tty:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
        runtime.close()
    for line in report.summary_lines():
        print(visible(line))
    return 0
