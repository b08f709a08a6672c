"""The sandbox's status callbacks: Twilio's push, from a background task, signed as Twilio signs.

When a create carries ``StatusCallback``, the message's status changes are planned at once from
its timeline (``queued``, ``sent``, then ``delivered`` / ``undelivered``, or ``queued`` then
``failed``; a cancelled scheduled message gets ``canceled``) and each is POSTed, form-encoded,
when the app's clock reaches it: so they follow ``--speed`` and a test's movable clock alike.
The fields are Twilio's (``MessageSid``, ``MessageStatus``, ``SmsSid``, ``SmsStatus``,
``AccountSid``, ``From``, ``To``, ``ApiVersion``, ``ErrorCode`` on a failure, and
``MessagingServiceSid`` / ``RawDlrDoneDate`` where Twilio adds them), with ``X-Twilio-Signature``.

Like Twilio, the sandbox never retries a callback: a receiver that is down or answers an error
misses it (Twilio logs 11200), and polling must cover the gap. Planned callbacks live in memory:
a sandbox that restarts forgets the ones not yet due. The callback faults (``Faults``) drop,
duplicate, delay and reorder them.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from random import Random

import httpx

from notify_tui.provider.sandbox.faults import Faults
from notify_tui.provider.sandbox.state import StoredMessage
from notify_tui.provider.signature import SIGNATURE_HEADER, twilio_signature

__all__ = ["Callback", "CallbackDispatcher"]

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
TICK = 0.02
"""Longest wait, in wall seconds, before looking at the clock again (it may have been moved)."""
POSTERS = 8
"""POSTs in flight at once, each worker on its own kept-alive connection."""
POST_TIMEOUT = 15.0
"""Twilio gives a status callback URL 15 seconds to answer."""


@dataclass(frozen=True, slots=True)
class Callback:
    """One POST to make."""

    url: str
    params: dict[str, str]

    @property
    def sid(self) -> str:
        return self.params["MessageSid"]


_Due = tuple[int, int, StoredMessage, str, int | None, int]
"""A planned callback: due instant, sequence number, message, status, error code, the instant
it reports. Kept small (the message is shared by its callbacks): a big campaign plans millions."""


class CallbackDispatcher:
    """Plans, holds and POSTs status callbacks. Not thread-safe: one event loop uses it.

    ``token`` signs (the account's auth token, as Twilio signs); ``clock`` answers seconds since
    the epoch; ``rng`` draws the faults; ``transport`` is for tests (httpx's default otherwise).
    """

    def __init__(
        self,
        *,
        token: str,
        clock: Callable[[], float],
        rng: Random,
        counters: dict[str, int],
        speed: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._token = token
        self._clock = clock
        self._rng = rng
        self._counters = counters
        for name in ("sent", "failed", "dropped", "duplicated", "delayed", "reordered"):
            counters.setdefault(f"callbacks_{name}", 0)
        self._speed = speed
        self._transport = transport
        self._heap: list[_Due] = []
        self._seq = itertools.count()
        self._canceled: dict[str, int] = {}
        """Sids whose planned callbacks are void: sid -> the last sequence number voided."""
        self._handed_out = 0
        """Taken from the heap by the running dispatcher, not yet answered."""
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    @property
    def pending(self) -> int:
        """Callbacks planned and not yet answered (or failed)."""
        return len(self._heap) + self._handed_out

    # ------------------------------------------------------------- planning

    def plan(self, message: StoredMessage, *, queued_us: int, faults: Faults, now_us: int) -> None:
        """Plan the callbacks of a new message (nothing if it asked for none)."""
        if message.status_callback is None or message.lost:
            return
        steps: list[tuple[int, str, int | None]] = [(queued_us, "queued", None)]
        if message.final_status == "failed":
            steps.append((message.final_us, "failed", message.error_code))
        else:
            steps.append((message.sent_us, "sent", None))
            if message.final_status in ("delivered", "undelivered"):
                steps.append((message.final_us, message.final_status, message.error_code))
        self._schedule(message, steps, faults, now_us)

    def plan_canceled(self, message: StoredMessage, *, faults: Faults, now_us: int) -> None:
        """Void a cancelled message's planned callbacks and plan its ``canceled`` one."""
        self._canceled[message.sid] = next(self._seq)
        if message.status_callback is not None and not message.lost:
            self._schedule(message, [(now_us, "canceled", None)], faults, now_us)

    def _schedule(
        self,
        message: StoredMessage,
        steps: list[tuple[int, str, int | None]],
        faults: Faults,
        now_us: int,
    ) -> None:
        times = [at for at, _, _ in steps]
        # Reordering: a status goes out after the next one (the receiver sees "delivered", then
        # a late "sent").
        for i in range(len(times) - 1):
            if self._chance(faults.callback_reorder_rate):
                times[i], times[i + 1] = times[i + 1] + 1, times[i]
                self._counters["callbacks_reordered"] += 1
        for at, (_, status, code) in zip(times, steps, strict=True):
            if self._chance(faults.callback_drop_rate):
                self._counters["callbacks_dropped"] += 1
                continue
            if faults.callback_delay and self._chance(faults.callback_delay_rate):
                extra = self._rng.uniform(0, faults.callback_delay) / self._speed
                at += int(extra * 1_000_000)
                self._counters["callbacks_delayed"] += 1
            due = max(at, now_us)
            heapq.heappush(self._heap, (due, next(self._seq), message, status, code, at))
            if self._chance(faults.callback_duplicate_rate):
                self._counters["callbacks_duplicated"] += 1
                heapq.heappush(self._heap, (due + 1, next(self._seq), message, status, code, at))
        self._poke()

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    # -------------------------------------------------------------- running

    def ensure_running(self) -> None:
        """Start the background task on the running loop (again, if that loop changed)."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._loop is loop:
            return
        self.close()  # one dispatcher at a time: the heap is not shared across loops
        self._loop = loop
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run(), name="sandbox-callbacks")

    def _poke(self) -> None:
        loop = self._loop
        if self._wake is None or loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        wake = self._wake
        assert wake is not None
        # Workers each on their own kept-alive connection: one shared pool spends its time
        # matching queued requests to connections.
        queue: asyncio.Queue[Callback] = asyncio.Queue(maxsize=2 * POSTERS)
        outstanding = [0]  # this run's share of _handed_out
        workers = [asyncio.create_task(self._worker(queue, outstanding)) for _ in range(POSTERS)]
        try:
            while True:
                now_us = int(self._clock() * 1_000_000)
                while self._heap and self._heap[0][0] <= now_us:
                    _, seq, message, status, code, at = heapq.heappop(self._heap)
                    if self._canceled.get(message.sid, -1) > seq:
                        continue
                    self._handed_out += 1
                    outstanding[0] += 1
                    await queue.put(_callback(message, status, code, at))
                wait = TICK
                if self._heap:
                    wait = min(TICK, max(0.0, (self._heap[0][0] - now_us) / 1_000_000))
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), wait)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            # What the workers held is lost with them, as in a crash.
            self._handed_out -= outstanding[0]

    async def _worker(self, queue: asyncio.Queue[Callback], outstanding: list[int]) -> None:
        async with httpx.AsyncClient(
            timeout=POST_TIMEOUT,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            transport=self._transport,
            headers={"User-Agent": "TwilioProxy/1.1 (notify-tui sandbox)"},
            follow_redirects=False,
        ) as http:
            while True:
                callback = await queue.get()
                ok = await self._post(http, callback)
                self._counters["callbacks_sent" if ok else "callbacks_failed"] += 1
                self._handed_out -= 1
                outstanding[0] -= 1

    async def _post(self, http: httpx.AsyncClient, callback: Callback) -> bool:
        try:
            signature = twilio_signature(self._token, callback.url, callback.params)
            response = await http.post(
                callback.url, data=callback.params, headers={SIGNATURE_HEADER: signature}
            )
        except Exception as exc:  # whatever the receiver does, the sandbox carries on
            log.info("callback to %s failed: %s", callback.url, type(exc).__name__)
            return False
        if not 200 <= response.status_code < 300:
            log.info("callback to %s answered %s", callback.url, response.status_code)
            return False
        return True

    def close(self) -> None:
        """Stop the background task (callbacks not yet POSTed are forgotten)."""
        if self._task is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._task = None

    async def aclose(self) -> None:
        """Stop the background task and wait for it to let go of its connections."""
        if self._loop is not asyncio.get_running_loop():
            self.close()
            return
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _callback(message: StoredMessage, status: str, code: int | None, at_us: int) -> Callback:
    params = {
        "AccountSid": message.account_sid,
        "ApiVersion": API_VERSION,
        "From": message.from_ or "",
        "MessageSid": message.sid,
        "MessageStatus": status,
        "SmsSid": message.sid,
        "SmsStatus": status,
        "To": message.to,
    }
    if message.messaging_service_sid is not None:
        params["MessagingServiceSid"] = message.messaging_service_sid
    if status in ("failed", "undelivered") and code is not None:
        params["ErrorCode"] = str(code)
    if status in ("delivered", "undelivered"):
        params["RawDlrDoneDate"] = time.strftime("%y%m%d%H%M", time.gmtime(at_us // 1_000_000))
    assert message.status_callback is not None
    return Callback(message.status_callback, params)
