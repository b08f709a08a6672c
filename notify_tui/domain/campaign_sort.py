"""The orders History and ``notify-tui campaigns`` list campaigns in (issue 14, item 24)."""

from __future__ import annotations

from enum import StrEnum


class CampaignSort(StrEnum):
    """How campaigns are ordered. The value is the CLI's ``--sort`` word.

    Whatever the order, a follow-up stays right under the campaign it follows up: the groups
    are ordered by the original's key, and ties fall to the newest (highest id) first, so that
    a page never repeats or skips a row.
    """

    NEWEST = "newest"
    """The newest first (the default)."""
    FAILURES = "failures"
    """The most failed messages first."""
    DELIVERY = "delivery"
    """The worst delivery rate (delivered of recipients) first; none without recipients."""
    NAME = "name"
    """By name, A to Z, case and accents folded (``Émile`` between ``delta`` and ``fox``)."""
    UPDATED = "updated"
    """The latest activity first: the last status that arrived, or when it was sent, finished
    or written."""

    @property
    def label(self) -> str:
        """What History's title says of the order (``by name``)."""
        return _LABELS[self]

    @property
    def next(self) -> CampaignSort:
        """The order after this one (``s`` in History goes round them)."""
        members = list(CampaignSort)
        return members[(members.index(self) + 1) % len(members)]


_LABELS = {
    CampaignSort.NEWEST: "newest first",
    CampaignSort.FAILURES: "most failures first",
    CampaignSort.DELIVERY: "worst delivery first",
    CampaignSort.NAME: "by name",
    CampaignSort.UPDATED: "last activity first",
}
