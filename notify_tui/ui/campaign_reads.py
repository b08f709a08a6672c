"""Everything Details reads about its campaign, on worker threads, posted back as messages.

Details is layout and key bindings; the reads (the campaign row, the overview above the table,
a breakdown group's numbers, the CSV export) live here, each on a worker of the screen that
asks, so that no query ever runs on the event loop (on PostgreSQL each is a round trip).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.dom import DOMNode

from notify_tui.domain.insights import Dimension, Group
from notify_tui.services.export import export_campaign
from notify_tui.store.campaigns import get_campaign, tally_series
from notify_tui.store.followups import recovered
from notify_tui.store.insights import alerts, group_profile_ids, snapshot
from notify_tui.store.recipients import RecipientFilter, reason_counts
from notify_tui.store.review import review_counts
from notify_tui.store.suggestions import pending_counts
from notify_tui.store.waiting import waiting_of_one
from notify_tui.ui.messages import (
    CampaignOverview,
    CampaignOverviewLoaded,
    CampaignRead,
    GroupFound,
    RecipientsExported,
    RecipientsExportFailed,
)


def load_campaign_overview(campaign_id: int) -> CampaignOverview | None:
    """The campaign, its reasons, its resolutions over time, its insights and alerts; ``None``
    if it is gone. Blocking: call it on a worker thread."""
    campaign = get_campaign(campaign_id)
    if campaign is None:
        return None
    suggested = pending_counts([campaign_id]).get(campaign_id, 0)
    review = review_counts([campaign_id]).get(campaign_id, 0)
    insights = snapshot(campaign_id)
    return CampaignOverview(
        campaign,
        reason_counts(campaign_id),
        tally_series(campaign_id),
        suggested,
        review,
        insights,
        waiting_of_one(campaign),
        tuple(alerts(campaign_id, insights)),
        recovered(campaign_id),
    )


class CampaignReads:
    """The reads of one campaign for ``node`` (a screen): each runs on a worker of ``node``
    (a newer read of a kind replaces an older one still running) and posts its result to it."""

    def __init__(self, node: DOMNode, campaign_id: int) -> None:
        self._node = node
        self.campaign_id = campaign_id

    def _run(self, group: str, description: str, read: Callable[[], Any]) -> None:
        self._node.run_worker(
            read,
            thread=True,
            exclusive=True,
            group=group,
            exit_on_error=False,
            description=description,
        )

    def campaign(self, opening: bool) -> None:
        """Read the campaign's row (and what sending has left): `CampaignRead`."""

        def read() -> None:
            campaign = get_campaign(self.campaign_id)
            waiting = None if campaign is None else waiting_of_one(campaign)
            self._node.post_message(CampaignRead(campaign, opening, waiting))

        self._run("campaign", "Reading the campaign", read)

    def overview(self) -> None:
        """Read what is drawn above the table: `CampaignOverviewLoaded` (nothing if it is gone)."""

        def read() -> None:
            overview = load_campaign_overview(self.campaign_id)
            if overview is not None:
                self._node.post_message(CampaignOverviewLoaded(overview))

        self._run("load", "Reading the campaign's failure reasons", read)

    def group(self, dimension: Dimension, group: Group) -> None:
        """Look up the numbers of a breakdown's group: `GroupFound`."""

        def read() -> None:
            profiles = tuple(group_profile_ids(dimension, group.key))
            self._node.post_message(GroupFound(dimension, group, profiles))

        self._run("group", "Finding the numbers of a group", read)

    def export(self, flt: RecipientFilter, path: Path) -> None:
        """Write the recipients ``flt`` shows to the CSV file ``path`` (its folder must exist):
        `RecipientsExported`, or `RecipientsExportFailed` saying why not."""

        def write() -> None:
            try:
                rows = export_campaign(self.campaign_id, path, flt, create_folder=False)
            except OSError as exc:
                self._node.post_message(RecipientsExportFailed(path, exc.strerror or str(exc)))
                return
            self._node.post_message(RecipientsExported(path, rows))

        self._run("export", "Exporting recipients to CSV", write)
