"""The UI's poll loop: the same ``Poller`` as ``notify-tui poll``, one message per cycle.

Screens run ``poll_forever`` in a worker. Each cycle posts ``PollStarted`` then one
``StatusesResolved`` (or ``PollFailed`` when the cycle itself broke, after which the loop backs
off and carries on): the screen redraws once per cycle however many messages resolved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

from textual.message import Message

from notify_tui.errors import user_message
from notify_tui.store import polling
from notify_tui.store.models import utcnow
from notify_tui.ui.formatting import plain
from notify_tui.ui.messages import CampaignState, PollFailed, PollStarted, StatusesResolved

if TYPE_CHECKING:
    # The poller brings httpx and the provider: they load once polling starts, after the first
    # frame.
    from notify_tui.services.poller import PollCycle, Poller

POLL_BATCH = 1000
"""Messages leased per cycle; a full batch means more are due: poll again at once."""

MAX_BACKOFF = 60.0

StateLoader: TypeAlias = "Callable[[PollCycle], CampaignState | None]"
Sleep = Callable[[float], Awaitable[object]]


def describe_error(exc: BaseException) -> str:
    """One line about an exception, for a notification."""
    return plain(user_message(exc) or f"{type(exc).__name__}: {exc}")


def next_wait(due: datetime | None, now: datetime, idle: float) -> float:
    """Seconds until the next cycle: when the next message falls due, at most ``idle``."""
    if due is None:
        return idle
    return min(idle, max(0.2, (due - now).total_seconds()))


async def poll_forever(
    poller: Poller,
    post: Callable[[Message], object],
    *,
    campaign_id: int | None = None,
    load_state: StateLoader | None = None,
    idle: float = 2.0,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Poll until cancelled; ``load_state`` runs on a thread after each cycle."""
    failures = 0
    while True:
        post(PollStarted(campaign_id))
        try:
            cycle = await poller.poll_once(campaign_id)
            state = await asyncio.to_thread(load_state, cycle) if load_state else None
            due = await asyncio.to_thread(polling.next_due_at, campaign_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the loop must outlive a locked database or a bad answer
            failures += 1
            post(PollFailed(describe_error(exc)))
            await sleep(min(MAX_BACKOFF, 2.0**failures))
            continue
        failures = 0
        post(StatusesResolved(cycle, campaign_id, state))
        if cycle.checked >= POLL_BATCH:
            await sleep(0)
            continue
        await sleep(next_wait(due, utcnow(), idle))
