"""``notify-tui doctor [--repair]``: check the workspace, and repair what can be derived safely."""

from __future__ import annotations

import argparse

from notify_tui.commands import EXIT_FAILURE, EXIT_OK
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


def run_doctor(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui doctor``: check the workspace, and repair it with ``--repair``."""
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
