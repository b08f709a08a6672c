"""A campaign's report: its summary, breakdowns, delivery times, alerts and follow-ups.

``campaign_report`` reads it (the campaign's row, its tallies, its follow-ups: a handful of
small queries whatever its size) into a ``Report``; ``Report.to_json`` is the stable JSON of
``notify-tui report --json`` (``REPORT_VERSION``; the README documents it), and the app draws
the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notify_tui.domain.alerts import Alert
from notify_tui.domain.insights import DeliveryTimes, Dimension, Group, slowest
from notify_tui.domain.money import exact, from_micros
from notify_tui.store import followups, insights
from notify_tui.store.campaigns import CampaignSummary, get_campaign
from notify_tui.store.followups import Recovery

REPORT_VERSION = 1
"""Bumped only when a field of the JSON changes meaning or goes; new fields may be added."""

__all__ = ["REPORT_VERSION", "Report", "ReportError", "campaign_report"]


class ReportError(LookupError):
    """No such campaign."""


@dataclass(frozen=True)
class Report:
    """Everything the report says about one campaign."""

    campaign: CampaignSummary
    breakdowns: dict[Dimension, list[Group]]
    delivery: DeliveryTimes
    alerts: list[Alert]
    recovery: Recovery
    followups: list[int]

    def slowest(self, dimension: Dimension, limit: int = 3) -> list[Group]:
        """The groups of ``dimension`` whose messages took longest to land (by p90)."""
        return slowest(self.breakdowns[dimension], limit)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON object (see the README's "report --json")."""
        c = self.campaign
        return {
            "report_version": REPORT_VERSION,
            "campaign": {
                "id": c.id,
                "name": c.name,
                "state": str(c.state),
                "sent_at": _when(c.sent_at),
                "recipients": c.recipients,
                "delivered": c.delivered,
                "failed": c.failed,
                "unknown": c.unknown,
                "delivered_pct": round(c.delivered_pct, 1),
                "cost": exact(c.cost),
                "followup_of": c.followup_of,
            },
            "breakdowns": {
                dimension.value: [_group(g) for g in groups]
                for dimension, groups in self.breakdowns.items()
            },
            "delivery_times": {
                **_times(self.delivery),
                "histogram": [
                    {"label": bar.label, "from_s": bar.low, "to_s": bar.high, "count": bar.count}
                    for bar in self.delivery.histogram()
                ],
                "slowest": {
                    dimension.value: [
                        {"key": g.key, "label": g.label, **_times(g.delivery)}
                        for g in self.slowest(dimension)
                    ]
                    for dimension in (Dimension.COUNTRY, Dimension.CARRIER, Dimension.LINE_TYPE)
                },
            },
            "alerts": [alert.to_json() for alert in self.alerts],
            "followups": {
                "campaigns": self.followups,
                "recipients": self.recovery.of,
                "recovered": self.recovery.recovered,
                "unknown": self.recovery.unknown,
            },
        }


def _when(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _times(times: DeliveryTimes) -> dict[str, Any]:
    return {
        "counted": times.counted,
        "p50_s": _seconds(times.p50),
        "p90_s": _seconds(times.p90),
        "p99_s": _seconds(times.p99),
    }


def _group(g: Group) -> dict[str, Any]:
    return {
        "key": g.key,
        "label": g.label,
        "recipients": g.recipients,
        "delivered": g.delivered,
        "failed": g.failed,
        "unknown": g.unknown,
        "delivered_pct": round(g.delivered_pct, 1),
        "failed_pct": round(g.failed_pct, 1),
        "cost": exact(from_micros(g.cost)),
        "top_reason": g.top_reason,
        "top_reason_count": g.top_reason_count,
        "delivery_p50_s": _seconds(g.delivery.p50),
        "delivery_p90_s": _seconds(g.delivery.p90),
    }


def campaign_report(campaign_id: int) -> Report:
    """Read the campaign's report (a query per table, never a scan of its messages).
    Raises ``ReportError`` for a campaign that does not exist."""
    campaign = get_campaign(campaign_id)
    if campaign is None:
        raise ReportError(f"no campaign with id {campaign_id}")
    seen = insights.snapshot(campaign_id)
    return Report(
        campaign=campaign,
        breakdowns={dimension: seen.breakdown(dimension) for dimension in Dimension},
        delivery=seen.delivery_times(),
        alerts=insights.alerts(campaign_id, seen),
        recovery=followups.recovered(campaign_id),
        followups=followups.followups_of(campaign_id),
    )
