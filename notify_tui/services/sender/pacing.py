"""The pace of creates, and the one thread a run's store calls take."""

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


class Pacer:
    """Spaces creates ``1 / rate`` seconds apart (no burst), or lets them all through."""

    def __init__(self, rate: float | None, clock: Clock, sleep: Sleep) -> None:
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise SendError("the send rate must be a positive number of messages per second")
        self._interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = clock()

    async def acquire(self) -> None:
        now = self._clock()
        slot = max(self._next, now)
        self._next = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (the provider said it is busy)."""
        self._next = max(self._next, self._clock() + seconds)
