"""Finding a create of unknown outcome in the provider's records, before anything is resent.

A create that timed out or lost its connection may have made a message. The provider's records
are listed by ``To`` around the attempt (by send date, then without it: a message still queued
has no send date), matching the body and the sender; a message another recipient row already
claimed is not this one's. The oldest free match is the one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from notify_tui.provider import ProviderMessage, TwilioClient
from notify_tui.store.campaigns import CampaignSummary

LOOKUP_SKEW = timedelta(minutes=5)
"""How far the provider's clock may be behind ours when matching a message to an attempt."""

LOOKUP_MAX_PAGES = 10
"""Pages of one number's messages read, at most, to find one create."""

TakenSids = Callable[[list[str]], Awaitable[set[str]]]
"""Which of these SIDs other messages of the workspace already hold."""


async def find_created(
    client: TwilioClient,
    campaign: CampaignSummary,
    phone: str,
    attempted_at: datetime,
    taken_sids: TakenSids,
) -> ProviderMessage | None:
    """The message a create to ``phone`` at ``attempted_at`` made, or ``None`` if it made none.

    Raises ``ProviderError`` when the provider can't be asked (the caller tries again later).
    """
    since = attempted_at - LOOKUP_SKEW
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    candidates: dict[str, ProviderMessage] = {}
    searches: list[dict[str, Any]] = [
        {"date_sent_after": since.date(), "date_sent_before": tomorrow},
        {},
    ]
    for filters in searches:
        pages = 0
        async for page in client.list_messages(to=phone, page_size=100, **filters):
            pages += 1
            for message in page:
                if message.sid and matches(campaign, phone, message, since):
                    candidates[message.sid] = message
            # Newest first: once a whole page is well before the attempt, stop reading.
            older = [m for m in page if m.date_created and m.date_created < since - LOOKUP_SKEW]
            if pages >= LOOKUP_MAX_PAGES or (page and len(older) == len(page)):
                break
        if candidates:
            break
    if not candidates:
        return None
    taken = await taken_sids(list(candidates))
    free = [m for sid, m in candidates.items() if sid not in taken]
    if not free:
        return None
    far_past = datetime.min.replace(tzinfo=UTC)
    return min(free, key=lambda m: (m.date_created or far_past, m.sid or ""))


def matches(
    campaign: CampaignSummary, phone: str, message: ProviderMessage, since: datetime
) -> bool:
    """Whether ``message`` may be this campaign's create to ``phone``, made since ``since``."""
    if message.to is not None and message.to != phone:
        return False
    body = message.body or ""
    # A trial account prefixes the body with a notice: the end still matches.
    if body != campaign.body and not body.endswith(campaign.body):
        return False
    if campaign.messaging_service_sid:
        if message.messaging_service_sid not in (None, campaign.messaging_service_sid):
            return False
    elif message.from_ is not None and campaign.sender and message.from_ != campaign.sender:
        return False
    return message.date_created is None or message.date_created >= since
