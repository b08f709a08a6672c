"""Archiving, restoring and deleting campaigns from History: the questions, the workers and
what the user is told (``services.archive`` decides what may be deleted)."""

from __future__ import annotations

from rich.text import Text
from textual import work

from notify_tui.errors import NotifyError
from notify_tui.services.archive import (
    archive_campaign,
    delete_campaign,
    unarchive_campaign,
    why_not_deletable,
)
from notify_tui.store.campaigns import CampaignSummary
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.formatting import count, plain
from notify_tui.ui.messages import CampaignTidied
from notify_tui.ui.screens.base import NotifyScreen
from notify_tui.ui.text import safe_text


class TidyActionsScreen(NotifyScreen):
    """A screen that archives, restores and deletes campaigns, asking first."""

    def why_not_deletable(self, campaign: CampaignSummary | None) -> str | None:
        """Why ``campaign`` cannot be deleted here; ``None`` when it can."""
        if campaign is None:
            return "select a campaign first"
        if self.notify_app.live.is_sending(campaign.id):
            return f"“{campaign.name}” is being sent"
        return why_not_deletable(campaign)

    def ask_archive(self, campaign: CampaignSummary, restore: bool) -> None:
        """Ask, then archive ``campaign`` (or, ``restore``, bring it back to History)."""
        name = safe_text(campaign.name)
        if restore:
            title, yes = "Restore", "Restore"
            question = Text("Show “") + name + Text("” in History again?")
        else:
            title, yes = "Archive", "Archive"
            question = (
                Text("Archive “")
                + name
                + Text(
                    "”? It leaves History and `campaigns`, and keeps every message and figure: "
                    "A shows the archived campaigns, where a restores it."
                )
            )

        def answered(yes: bool | None) -> None:
            if yes:
                self._archive(campaign, restore)

        self.app.push_screen(ConfirmDialog(title, question, yes=yes, no="Cancel"), answered)

    def ask_delete(self, campaign: CampaignSummary) -> None:
        """Ask, then delete ``campaign`` and its recipients."""
        question = (
            Text("Delete “")
            + safe_text(campaign.name)
            + Text(
                f"” and its {count(campaign.recipients)} recipients? It never reached anyone "
                "for real; this cannot be undone (opt-outs stay)."
            )
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(campaign)

        self.app.push_screen(
            ConfirmDialog("Delete campaign", question, yes="Delete", no="Keep it"), answered
        )

    @work(thread=True, group="tidy", exit_on_error=False, description="Archiving a campaign")
    def _archive(self, campaign: CampaignSummary, restore: bool) -> None:
        try:
            if restore:
                unarchive_campaign(campaign.id)
                said = f"“{campaign.name}” is back in History."
            else:
                archive_campaign(campaign.id)
                said = f"Archived “{campaign.name}”: A shows the archived campaigns."
        except NotifyError as exc:
            self.post_message(CampaignTidied(plain(exc.explain()), failed=True))
            return
        self.post_message(CampaignTidied(said))

    @work(thread=True, group="tidy", exit_on_error=False, description="Deleting a campaign")
    def _delete(self, campaign: CampaignSummary) -> None:
        try:
            delete_campaign(campaign.id)
        except NotifyError as exc:
            self.post_message(CampaignTidied(plain(exc.explain()), failed=True))
            return
        self.post_message(
            CampaignTidied(f"Deleted “{campaign.name}” ({count(campaign.recipients)} recipients).")
        )

    def on_campaign_tidied(self, event: CampaignTidied) -> None:
        event.stop()
        self.app.notify(
            event.said,
            title="Not done" if event.failed else "Campaigns",
            severity="warning" if event.failed else "information",
            markup=False,
        )
        self.tidied()

    def tidied(self) -> None:
        """A campaign was archived, restored or deleted: show the campaigns again (override)."""
