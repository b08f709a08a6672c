"""``notify-tui report``: a campaign's summary, breakdowns, delivery times and alerts, as text
or as one stable JSON object (``services.report``)."""

from __future__ import annotations

import argparse
import json
import sys

from notify_tui.commands import CommandError
from notify_tui.config import Settings
from notify_tui.domain.insights import DeliveryTimes, Dimension, Group
from notify_tui.domain.money import format_money, from_micros
from notify_tui.domain.text import visible
from notify_tui.services.report import Report, ReportError, campaign_report
from notify_tui.services.runtime import Runtime

SHOWN_GROUPS = 8
"""Groups of a breakdown printed as text (the JSON has them all)."""


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    """Print the report of one campaign."""
    runtime = Runtime.open(settings)
    try:
        report = campaign_report(args.campaign_id)
    except ReportError as exc:
        raise CommandError(str(exc)) from None
    finally:
        runtime.close()
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2, ensure_ascii=True)
        sys.stdout.write("\n")
    else:
        for line in report_lines(report):
            print(visible(line))
    return 0


def _pct(n: int, of: int) -> str:
    share = 100.0 * n / of if of else 0.0
    return f"{share:.1f}%" if share >= 0.1 or not n else "<0.1%"


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _times(times: DeliveryTimes) -> str:
    return f"p50 {_time(times.p50)}, p90 {_time(times.p90)}, p99 {_time(times.p99)}"


def _reason_row(g: Group, recipients: int) -> str:
    return (
        f"  {g.label[:40]:<40} {g.failed:>9,}  {_pct(g.failed, recipients):>6} of recipients  "
        f"{format_money(from_micros(g.cost)):>9}"
    )


def _row(g: Group) -> str:
    top = f"  top: {g.top_reason} ({g.top_reason_count:,})" if g.top_reason else ""
    return (
        f"  {g.label[:28]:<28} {g.recipients:>9,}  {_pct(g.delivered, g.recipients):>6} del  "
        f"{_pct(g.failed, g.recipients):>6} fail  {g.unknown:>7,} unk  "
        f"{format_money(from_micros(g.cost)):>9}{top}"
    )


def report_lines(report: Report) -> list[str]:
    """The report as lines of plain text."""
    c = report.campaign
    lines = [
        f"Campaign {c.id}: {c.name}"
        + (f" (follow-up of {c.followup_of})" if c.followup_of else ""),
        f"{c.recipients:,} recipients: {c.delivered:,} delivered "
        f"({_pct(c.delivered, c.recipients)}), {c.failed:,} failed "
        f"({_pct(c.failed, c.recipients)}), {c.unknown:,} unknown; cost {format_money(c.cost)}",
    ]
    if report.recovery.followups:
        lines.append(
            f"Follow-ups {', '.join(map(str, report.followups))}: {report.recovery.describe()}"
        )
    lines.append("")
    if report.alerts:
        lines.append(f"Alerts ({len(report.alerts)}):")
        for alert in report.alerts:
            lines += [
                f"  ! {alert.title}",
                f"    Seen: {alert.seen}",
                f"    Why: {alert.why}",
                f"    Do: {alert.action}",
            ]
        lines.append("")
    else:
        lines += ["Alerts: none", ""]
    times = report.delivery
    lines.append(
        f"Delivery time ({times.counted:,} delivered with provider dates): {_times(times)}"
    )
    bars = times.histogram()
    most = max((bar.count for bar in bars), default=0)
    for bar in bars:
        width = round(30 * bar.count / most) if most else 0
        lines.append(f"  {bar.label:>12} {'#' * width:<30} {bar.count:,}")
    for dimension in (Dimension.COUNTRY, Dimension.CARRIER, Dimension.LINE_TYPE):
        slow = report.slowest(dimension)
        if slow:
            named = "; ".join(f"{g.label} p90 {_time(g.delivery.p90)}" for g in slow)
            lines.append(f"  Slowest by {dimension.label.lower()}: {named}")
    for dimension in Dimension:
        groups = report.breakdowns[dimension]
        heading = (
            "Failure reasons" if dimension is Dimension.REASON else f"By {dimension.label.lower()}"
        )
        if dimension is Dimension.CARRIER:
            heading += " (the number's original carrier: ported numbers keep it)"
        lines += ["", f"{heading}:"]
        if not groups:
            lines.append("  none")
        for g in groups[:SHOWN_GROUPS]:
            if dimension is Dimension.REASON:
                lines.append(_reason_row(g, c.recipients))
            else:
                lines.append(_row(g))
        if len(groups) > SHOWN_GROUPS:
            lines.append(f"  ... and {len(groups) - SHOWN_GROUPS:,} more (--json has them all)")
    return lines
