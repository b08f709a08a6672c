"""The pace of creates (one per sender, shared), and the one thread a run's store calls take."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from notify_tui.services.sender.plan import SendError
from notify_tui.store.models import database
from notify_tui.store.pacing import claim_slots, hold_sender

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
T = TypeVar("T")


class DatabaseThread:
    """Runs store calls on one thread, in order, so the event loop never blocks on them."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify-sender-db")

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args, **kwargs))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.call(_close_connection)
        self._executor.shutdown(wait=False)


def _close_connection() -> None:
    if not database.is_closed():
        database.close()


PACE_SPAN = 0.1
"""Seconds of a sender's pace claimed at a time (at least one slot): few store round trips at
high rates, little claimed ahead of the creates (a stopped run wastes at most this much)."""

UNPACED_BATCH = 500
"""Creates between two looks at the sender's hold when sending with no rate limit."""


class Pacer:
    """Spaces one run's creates on its sender's pace, which every campaign sending from that
    sender shares, in this process and in others (``store.pacing``): ``1 / rate`` seconds apart
    (no burst), or as fast as they come with ``rate`` ``None``; never during a hold.

    ``clock`` and ``sleep`` time the run; ``store_clock`` is the pace's clock, ``None`` for the
    database's own (tests pass the same fake clock to both).
    """

    def __init__(
        self,
        sender: str,
        campaign_id: int,
        rate: float | None,
        db: DatabaseThread,
        clock: Clock,
        sleep: Sleep,
        store_clock: Clock | None = None,
    ) -> None:
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise SendError("the send rate must be a positive number of messages per second")
        self.sender = sender
        self._campaign_id = campaign_id
        self._interval = 1.0 / rate if rate else 0.0
        self._batch = max(1, int(rate * PACE_SPAN)) if rate else UNPACED_BATCH
        self._db = db
        self._clock = clock
        self._sleep = sleep
        self._store_clock = store_clock
        self._lock = asyncio.Lock()
        self._left = 0
        """Slots of the last claim not handed out yet."""
        self._next = -math.inf
        """When the next of them starts, on ``clock``."""
        self._held_until = -math.inf
        self._generation = 0
        """Moves on with every hold: a slot taken before it is taken again after."""
        self.behind: int | None = None
        """Another campaign sending from this sender that the last claim waited behind."""

    async def acquire(self) -> None:
        """Wait for this run's next slot on the sender's pace."""
        while True:
            async with self._lock:
                if self._left == 0:
                    # Claim no further ahead than one batch: the last slot claimed comes first.
                    await self._sleep_until(self._next - self._interval)
                    await self._claim()
                slot = max(self._next, self._held_until)
                self._next = slot + self._interval
                self._left -= 1
                generation = self._generation
            await self._sleep_until(slot)
            if generation == self._generation:
                return

    async def hold(self, seconds: float) -> None:
        """Send nothing from this sender for ``seconds`` (the provider said it is busy): not in
        this run, nor in any other campaign's; slots taken already are taken again after."""
        self._held_until = max(self._held_until, self._clock() + seconds)
        self._generation += 1
        self._left = 0
        now = self._store_clock() if self._store_clock is not None else None
        await self._db.call(hold_sender, self.sender, self._campaign_id, seconds, now)

    async def _claim(self) -> None:
        store_clock = self._store_clock
        now = store_clock() if store_clock is not None else None
        claim = await self._db.call(
            claim_slots, self.sender, self._campaign_id, self._batch, self._interval, now
        )
        if now is None or store_clock is None:
            # The database's clock: the slot is ``wait`` after the claim ran, which was before
            # the answer came back, so counting from now can only move it later, never earlier.
            self._next = self._clock() + claim.wait
        else:
            # The slot on the pace's clock, seen from ours as it is now.
            self._next = self._clock() + (now + claim.wait - store_clock())
        self._left = self._batch
        self.behind = claim.behind

    async def _sleep_until(self, moment: float) -> None:
        delay = moment - self._clock()
        if delay > 0:
            await self._sleep(delay)
