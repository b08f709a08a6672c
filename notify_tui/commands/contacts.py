"""``notify-tui contacts import FILE.csv``: import contacts without the UI."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from notify_tui.cli import CommandError, command
from notify_tui.config import Settings
from notify_tui.services.contacts_import import ContactsFileError, import_contacts
from notify_tui.services.runtime import Runtime


def _import(args: argparse.Namespace, settings: Settings) -> int:
    region = (args.region or settings.default_region).upper()
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
        print(line)
    return 0


@command
def register(commands: Any) -> None:
    """Register ``contacts import``."""
    contacts = commands.add_parser("contacts", help="manage contacts")
    actions = contacts.add_subparsers(title="actions", metavar="ACTION", required=True)
    importer = actions.add_parser(
        "import",
        help="import contacts from a CSV file",
        description="The file needs a header row with a phone column (phone, number, mobile, "
        "cell, phone_number, msisdn or tel); name (or first_name and last_name) is optional, "
        "other columns are kept as attributes. Numbers are stored in E.164. Importing the "
        "same file again changes nothing, and an import never clears an opt-out.",
    )
    importer.add_argument("file", metavar="FILE.csv")
    importer.add_argument(
        "--region",
        metavar="CC",
        help="country for numbers without a country code (default: default_region, US)",
    )
    importer.set_defaults(handler=_import)
