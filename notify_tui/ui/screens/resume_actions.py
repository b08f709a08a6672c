"""Resuming an interrupted campaign from a screen that shows campaigns (History, Details): one
question, one worker and one answer for why a campaign cannot be resumed."""

from __future__ import annotations

from rich.text import Text
from textual import work

from notify_tui.domain.status import RESUMABLE, CampaignState
from notify_tui.store.campaigns import CampaignSummary, get_campaign
from notify_tui.store.waiting import waiting_of_one
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.formatting import count, duration, money, plural
from notify_tui.ui.messages import ResumeChecked
from notify_tui.ui.screens.base import NotifyScreen
from notify_tui.ui.text import safe_text


class ResumeActionsScreen(NotifyScreen):
    """A screen that offers ``R`` on a campaign whose sending stopped before the end."""

    def resumable(self, campaign: CampaignSummary | None) -> bool:
        """Whether ``campaign`` has something left to send and nothing is sending it now."""
        return (
            campaign is not None
            and campaign.state in RESUMABLE
            and not self.notify_app.live.is_sending(campaign.id)
        )

    def why_not_resumable(self, campaign: CampaignSummary | None) -> str:
        """Why ``R`` does nothing for ``campaign``, in one sentence."""
        if campaign is None:
            return "Select an interrupted campaign to resume it."
        if self.notify_app.live.is_sending(campaign.id):
            return f"“{campaign.name}” is being sent now."
        return f"“{campaign.name}” has nothing left to send: every message was submitted."

    def explain_not_resumable(self, campaign: CampaignSummary | None) -> None:
        """Say why ``R`` does nothing here."""
        self.app.notify(self.why_not_resumable(campaign), title="Nothing to resume", markup=False)

    def ask_resume(self, campaign_id: int) -> None:
        """Count what is left of ``campaign_id``, then ask before sending it."""
        self._check_resume(campaign_id)

    @work(
        thread=True,
        exclusive=True,
        group="resume",
        exit_on_error=False,
        description="Counting what is left to send",
    )
    def _check_resume(self, campaign_id: int) -> None:
        self.post_resume_checked(campaign_id)

    def post_resume_checked(self, campaign_id: int) -> None:
        """Runs on a worker thread: read what is left to send and post it as `ResumeChecked`."""
        campaign = get_campaign(campaign_id)
        if campaign is None:
            return
        waiting = waiting_of_one(campaign)
        self.post_message(ResumeChecked(campaign, waiting.not_sent, waiting))

    def on_resume_checked(self, event: ResumeChecked) -> None:
        event.stop()
        campaign = event.campaign
        if not self.resumable(campaign):
            return
        question = Text("Send the rest of “") + safe_text(campaign.name) + Text("”? ")
        if campaign.state == CampaignState.INTERRUPTED:
            question.append("Its sending stopped before the end and never resumes by itself. ")
        if event.remaining:
            settings = self.notify_app.runtime.settings
            cost = campaign.segments * event.remaining * abs(campaign.price_per_segment)
            # Counted as Details' header and History count them: invalid numbers are never sent.
            sent, to_send = event.waiting.sent, event.waiting.to_send
            question.append(
                f"{count(sent)} of {count(to_send)} were sent; "
                f"{plural(event.remaining, 'message')} left ({money(cost, estimate=True)})"
            )
            pace = settings.rate_for(campaign.messaging_service_sid or campaign.sender)
            if pace:
                question.append(f", {duration(event.remaining / pace)}")
            question.append(
                ". Any message that may have gone out is looked up first: none is sent twice."
            )
        else:
            question.append("Every message was submitted: this only marks it sent.")
        self.app.push_screen(
            ConfirmDialog("Resume sending", question, yes="Send the rest", no="Not now"),
            lambda yes: self._resume(campaign) if yes else None,
        )

    def _resume(self, campaign: CampaignSummary) -> None:
        if self.notify_app.start_sending(campaign.id, campaign.name, resume=True):
            self.resumed(campaign)

    def resumed(self, campaign: CampaignSummary) -> None:
        """Sending ``campaign`` went on: show it (override)."""
