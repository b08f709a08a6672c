"""``notify-tui optout``, ``optin``, ``optouts`` and ``suggestions``."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys

from notify_tui.commands import CommandError
from notify_tui.commands.output import for_stream
from notify_tui.config import Settings
from notify_tui.domain.phone import normalize
from notify_tui.domain.text import spreadsheet_safe_row, visible
from notify_tui.services.optout_policy import ensure_applied
from notify_tui.services.runtime import Runtime
from notify_tui.store import optouts, suggestions
from notify_tui.store.updates import AppliedUpdates


def _phone(raw: str, settings: Settings) -> str:
    result = normalize(raw, settings.default_region)
    if result.e164 is None:
        raise CommandError(f"{raw!r} is not a phone number: {result.error}")
    return result.e164


def run_optout(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui optout``: opt a number out of every future campaign."""
    phone = _phone(args.phone, settings)
    runtime = Runtime.open(settings)
    try:
        changed = optouts.opt_out(
            phone,
            source=optouts.SOURCE_MANUAL,
            reason=args.reason or "opted out from the command line",
            actor=settings.operator,
        )
        print(f"{phone} opted out." if changed else f"{phone} was already opted out.")
        if _scheduled_for_opted_out():
            # The provider would still send what it holds for them: cancel it now (a poller
            # would, at its next cycle; none may be running).
            applied = asyncio.run(_cancel_scheduled(runtime))
            cancelled = len(applied.changed_ids)
            print(
                f"Cancelled {cancelled:,} scheduled message{'' if cancelled == 1 else 's'} the "
                "provider held for opted-out numbers."
            )
    finally:
        runtime.close()
    return 0


def _scheduled_for_opted_out() -> bool:
    """Whether the provider holds a scheduled message for an opted-out number."""
    from notify_tui.store.schedule import scheduled_to_opted_out

    return any(m for m in scheduled_to_opted_out())


async def _cancel_scheduled(runtime: Runtime) -> AppliedUpdates:
    from notify_tui.services.schedule import cancel_for_opted_out

    try:
        return await cancel_for_opted_out(runtime.client)
    finally:
        await runtime.aclose()


def run_optin(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui optin``: undo an opt-out (refused for a STOP)."""
    phone = _phone(args.phone, settings)
    runtime = Runtime.open(settings)
    try:
        changed = optouts.opt_in(phone, actor=settings.operator, reason=args.reason or "")
    except optouts.OptInRefused as exc:
        raise CommandError(str(exc)) from None
    finally:
        runtime.close()
    print(f"{phone} opted back in." if changed else f"{phone} was not opted out.")
    return 0


OPTOUT_COLUMNS = ("phone", "name", "source", "reason", "by", "opted_out_at")
"""The columns of ``optouts --csv``."""


def run_optouts(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui optouts``: list opted-out numbers, as a table or CSV (streamed: read a page
    at a time, so any number of them lists in bounded memory)."""
    runtime = Runtime.open(settings)
    try:
        records = optouts.iter_optouts(args.search or "")
        if args.csv:
            shown = for_stream(sys.stdout)
            writer = csv.writer(sys.stdout)
            writer.writerow(OPTOUT_COLUMNS)
            for r in records:
                at = r.opted_out_at.strftime("%Y-%m-%dT%H:%M:%SZ") if r.opted_out_at else ""
                cells = [r.phone, r.name, r.source, r.reason, r.actor, at]
                if not args.raw:
                    cells = spreadsheet_safe_row(cells, phone_column=0)
                writer.writerow([shown(cell) for cell in cells])
            return 0
        listed = 0
        for r in records:
            if not listed:
                print(
                    f"{'PHONE':16}  {'OPTED OUT (UTC)':16}  {'SOURCE':15}  {'BY':12}  "
                    f"{'NAME':20}  REASON"
                )
            listed += 1
            at = r.opted_out_at.strftime("%Y-%m-%d %H:%M") if r.opted_out_at else ""
            source = optouts.SOURCE_LABELS.get(r.source, r.source)
            print(
                f"{visible(r.phone):16}  {at:16}  {source:15}  {visible(r.actor):12}  "
                f"{visible(r.name):20}  {visible(r.reason)}"
            )
        if not listed:
            print(
                f"No opted-out number or name has “{visible(args.search)}”."
                if args.search
                else "No opted-out numbers."
            )
        return 0
    finally:
        runtime.close()


def run_suggestions(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui suggestions``: list the policy's opt-out suggestions, or accept them."""
    runtime = Runtime.open(settings)
    try:
        ensure_applied(settings.policy)
        pending = suggestions.pending(args.campaign)
        if args.accept and pending:
            accepted = suggestions.accept([s.id for s in pending], actor=settings.operator)
            print(f"Accepted {len(pending)} suggestions: {accepted} numbers opted out.")
            return 0
    finally:
        runtime.close()
    if not pending:
        print("No pending opt-out suggestions.")
        return 0
    print(f"{'PHONE':16}  {'CAMPAIGN':>8}  {'NAME':20}  REASON")
    for s in pending:
        held = " [held: mass opt-out]" if s.held else ""
        print(
            f"{visible(s.phone):16}  {s.campaign_id or '-':>8}  {visible(s.name):20}  "
            f"{visible(s.reason)}{held}"
        )
    print(f"{len(pending)} pending. Accept them all: notify-tui suggestions --accept")
    return 0
