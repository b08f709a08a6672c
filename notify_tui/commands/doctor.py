"""``notify-tui doctor [--repair]``: check the workspace, and repair what can be derived safely."""

from __future__ import annotations

import argparse
from typing import Any

from notify_tui.cli import EXIT_FAILURE, EXIT_OK, command
from notify_tui.config import Settings
from notify_tui.services.runtime import Runtime
from notify_tui.store.doctor import Examination, examine, repair


def _print(found: Examination) -> None:
    print(f"Workspace: {found.backend}")
    for line in found.healthy:
        print(f"  ok       {line}")
    for line in found.notes:
        print(f"  note     {line}")
    for problem in found.problems:
        print(f"  PROBLEM  {problem.text}")


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.open(settings)
    try:
        found = examine()
        _print(found)
        if found.ok:
            print("The workspace is healthy.")
            return EXIT_OK
        if not args.repair:
            fixable = sum(1 for p in found.problems if p.repairable)
            print(
                f"{len(found.problems):,} problem{'s' if len(found.problems) != 1 else ''}"
                + (f"; {fixable:,} can be repaired: notify-tui doctor --repair" if fixable else "")
            )
            return EXIT_FAILURE
        for line in repair(found):
            print(f"Repaired: {line}")
        after = examine()
        for problem in after.problems:
            print(f"  PROBLEM  {problem.text}")
        if after.ok:
            print("The workspace is healthy.")
            return EXIT_OK
        left = len(after.problems)
        print(f"{left:,} problem{'s' if left != 1 else ''} remain{'s' if left == 1 else ''}.")
        return EXIT_FAILURE
    finally:
        runtime.close()


@command
def register(commands: Any) -> None:
    """Register ``doctor``."""
    doctor = commands.add_parser(
        "doctor",
        help="check the workspace for damage (and repair it)",
        description="Checks the schema, each campaign's counters against its messages, the "
        "status history, poller leases, messages a stopped sender left of unknown outcome, "
        "and the opt-out audit trail. Exit status 0 when healthy, 1 when problems remain.",
    )
    doctor.add_argument(
        "--repair",
        action="store_true",
        help="recompute counters and status history from the messages, clear expired "
        "leases, mark abandoned sends interrupted; never resends or changes a status",
    )
    doctor.set_defaults(handler=_doctor)
