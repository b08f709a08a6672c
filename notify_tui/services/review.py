"""Adopting a provider message for a recipient that needs review, once it is shown to fit.

See ``store.review`` for the other two ways to settle one (resend, skip).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from notify_tui.domain.polling import next_poll_delay
from notify_tui.domain.status import SendState
from notify_tui.errors import NotifyError
from notify_tui.provider import NotFoundError, TwilioClient
from notify_tui.provider.answers import check_fetched
from notify_tui.services.provider_updates import update_from
from notify_tui.services.sender.lookup import matches
from notify_tui.store import sending
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.models import Message, database, utcnow
from notify_tui.store.review import ReviewItem
from notify_tui.store.updates import apply_updates


class ReviewError(NotifyError):
    """A review decision that can't be carried out; the message says why."""


async def adopt(client: TwilioClient, campaign_id: int, item: ReviewItem, sid: str) -> None:
    """Make the provider's message ``sid`` this recipient's, after checking that it is to this
    number, with this campaign's body and sender, and held by no other message."""
    campaign = await asyncio.to_thread(get_campaign, campaign_id)
    if campaign is None:
        raise ReviewError(f"no campaign with id {campaign_id}")
    try:
        message = await client.fetch_message(sid)
    except NotFoundError:
        raise ReviewError(f"the provider has no message {sid}") from None
    faults = check_fetched(message, sid=sid, account_sid=client.config.account_sid)
    if faults:
        # Another message, another account's, or values the API never sends: not adopted.
        raise ReviewError(f"the provider's answer about {sid} was not kept: {faults[0].text}")
    if not matches(campaign, item.phone, message, item.body):
        raise ReviewError(
            f"{sid} is not this campaign's message to {item.phone} (number, body or sender differ)"
        )
    taken = await asyncio.to_thread(sending.linked_sids, [sid])
    if taken:
        raise ReviewError(f"{sid} already belongs to another recipient of this workspace")
    update = update_from(
        item.message_id,
        message,
        sid=sid,
        next_poll_at=utcnow() + (next_poll_delay(timedelta(0)) or timedelta(seconds=2)),
        note=f"adopted {sid} in review",
        send_state=SendState.SUBMITTED,
    )

    def write() -> None:
        with database.atomic():
            row = Message.get_or_none(Message.id == item.message_id)
            if row is None or row.send_state != SendState.NEEDS_REVIEW:
                raise ReviewError(f"{item.phone} no longer needs review")
            apply_updates([update])
            sending.count_submitted(campaign_id, 1)

    await asyncio.to_thread(write)
