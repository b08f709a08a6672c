"""Follow-up campaigns: plan one (who, what, how much) and record it, for the CLI and the UI.

``plan_followup`` says who of a campaign's recipients would get the message again (those who
failed for a cause that may pass, ``store.followups.RETRYABLE``), who is left out and why, and
what it costs, without recording anything. ``record_followup`` records the follow-up campaign
linked to its original; it is then sent like any campaign (``services.sender.send_campaign``:
crash-safe, resumable).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from notify_tui.domain.money import format_money
from notify_tui.services.sender import CampaignPlan, PreparedCampaign, SendError, plan_campaign
from notify_tui.services.sender.plan import record_campaign
from notify_tui.store import followups
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.followups import RETRYABLE, Candidates
from notify_tui.store.models import database, utcnow

__all__ = ["FollowupPlan", "plan_followup", "record_followup"]


@dataclass(frozen=True)
class FollowupPlan:
    """A follow-up as it would be sent: the original, who gets it, who does not, the plan."""

    original_id: int
    original_name: str
    candidates: Candidates
    plan: CampaignPlan

    def summary_lines(self) -> list[str]:
        """Who would get it and why, who is left out and why, and the campaign's plan (text,
        recipients, cost), as lines of plain text for a confirmation prompt."""
        chosen = len(self.candidates.chosen)
        lines = [
            f"Follow-up of campaign {self.original_id} ({self.original_name}): {chosen:,} "
            f"recipient{'' if chosen == 1 else 's'} failed for a cause that may pass"
        ]
        for code, n in sorted(self.candidates.by_code.items(), key=lambda i: (-i[1], i[0])):
            lines.append(f"  {n:,} × {code} {RETRYABLE[code]}")
        if self.candidates.left_out:
            left = ", ".join(
                f"{n:,} {why}"
                for why, n in sorted(self.candidates.left_out.items(), key=lambda i: -i[1])
            )
            lines.append(f"Left out: {left}")
        lines.extend(self.plan.summary_lines())
        return lines

    @property
    def estimated_cost(self) -> str:
        """The follow-up's estimated cost, as the user reads it."""
        return format_money(self.plan.estimated_cost, estimate=True)


def plan_followup(
    campaign_id: int,
    *,
    after_hours: float | None = None,
    codes: Iterable[int] | None = None,
    message: str | None = None,
    now: datetime | None = None,
) -> FollowupPlan:
    """Plan a follow-up of ``campaign_id``; nothing is recorded.

    ``after_hours``: only recipients whose failure is at least that old (the phone may be back
    on by then); ``codes``: only these retryable codes (default: all of ``RETRYABLE``);
    ``message``: a new text (default: the original's, each recipient's own for a personal
    message). Raises ``SendError`` (one line) for a campaign that does not exist, a code that
    is not retryable, or nobody to send to."""
    original = get_campaign(campaign_id)
    if original is None:
        raise SendError(f"no campaign with id {campaign_id}")
    wanted = None if codes is None else sorted(set(codes))
    if wanted is not None:
        if not wanted:
            raise SendError("no failure codes given")
        wrong = [code for code in wanted if code not in RETRYABLE]
        if wrong:
            allowed = ", ".join(str(c) for c in RETRYABLE)
            raise SendError(
                f"a follow-up resends only failures that may pass ({allowed}), not "
                + ", ".join(str(c) for c in wrong)
            )
    if after_hours is not None and after_hours < 0:
        raise SendError("--after takes a number of hours, 0 or more")
    before = None
    if after_hours:
        before = (now or utcnow()) - timedelta(hours=after_hours)
    found = followups.candidates(campaign_id, wanted, before)
    body = original.body if message is None else message
    plan = plan_campaign(
        f"Follow-up: {original.name}",
        body,
        found.chosen,
        sender=original.sender,
        messaging_service_sid=original.messaging_service_sid,
        price_per_segment=original.price_per_segment,
    )
    return FollowupPlan(campaign_id, original.name, found, plan)


def record_followup(followup: FollowupPlan) -> PreparedCampaign:
    """Record the follow-up campaign and its recipients, linked to the original, ready to send
    (``send_campaign``). Raises ``SendError`` when it would send to nobody."""
    if followup.plan.to_send == 0:
        raise SendError(
            f"nothing to follow up: no recipient of campaign {followup.original_id} failed for "
            "a cause that may pass"
        )
    with database.atomic():
        prepared = record_campaign(followup.plan)
        followups.link(prepared.campaign_id, followup.original_id)
    return prepared
