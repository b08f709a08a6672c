"""A provider's answer about one message, as the store records it: one builder for the poller,
the sender, cancelling and review, so that each records the same fields the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from notify_tui.domain.status import Classification
from notify_tui.provider.messages import ProviderMessage
from notify_tui.store.updates import StatusUpdate

__all__ = ["naive_utc", "update_from"]


@lru_cache(maxsize=8192)
def naive_utc(moment: datetime | None) -> datetime | None:
    """The store keeps naive UTC (cached: a poll cycle converts the same few instants)."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def update_from(
    message_id: int,
    message: ProviderMessage,
    classification: Classification | None = None,
    **fields: Any,
) -> StatusUpdate:
    """The update a checked answer makes to message ``message_id``: its raw values (only a
    status of the API, dates in naive UTC) and what it means (``message.classify()``, which
    takes a flawed answer for Unknown, unless ``classification`` says it already); ``fields``
    add the rest (``sid``, ``next_poll_at``, ``note``, ``send_state``, ``resolved_at``)."""
    return StatusUpdate(
        message_id,
        message.classify() if classification is None else classification,
        provider_status=message.api_status,
        error_message=message.error_message,
        price=message.price,
        price_unit=message.price_unit,
        num_segments=message.num_segments,
        date_sent=naive_utc(message.date_sent),
        **fields,
    )
