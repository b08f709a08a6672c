"""The status callback receiver (``notify-tui callbacks``): Twilio's push, checked and applied.

An ASGI app. Every request is judged before it costs a database round trip: the path of the
public URL, ``POST``, a small body, the ``X-Twilio-Signature`` over the public URL (never the
Host header: the receiver sits behind a proxy) and our ``AccountSid``. What passes is queued for
one writer, which applies whatever has queued meanwhile in one transaction through the poller's
path (``store.updates.apply_updates``: classification, forward-only status, counters; then the
opt-out policy), and only then answers 200: a callback answered is a callback kept.

A callback is a provider answer: one about another recipient or sender is a provider fault,
recorded, never applied. A callback about a SID no message holds yet (it can beat the create's
answer to the store) is kept in the store (at most ``early_limit`` in all, for ``early_ttl``:
the ``callback_early_*`` settings), applied when the SID appears, and after that counted as
foreign and dropped. Out of order and repeated callbacks need nothing
special: a status only moves forward, and a repeat changes nothing.

While a message's callbacks are due, pollers leave it alone: each callback that leaves it
Unknown moves its next look ``grace`` ahead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from notify_tui.domain.faults import Fault, FaultKind, Operation
from notify_tui.domain.polling import POLL_WINDOW
from notify_tui.provider.answers import callback_message, check_callback
from notify_tui.provider.signature import signature_matches
from notify_tui.store import callbacks as store
from notify_tui.store.faults import record_faults
from notify_tui.store.models import database, utcnow
from notify_tui.store.updates import AppliedUpdates, StatusUpdate, apply_updates

__all__ = [
    "MAX_BODY",
    "AppliedCallbacks",
    "CallbackReceiver",
    "PushState",
    "apply_callbacks",
    "push_state",
]

log = logging.getLogger("notify_tui.callbacks")

MAX_BODY = 4096
"""Bytes of a callback's body at most: Twilio's are a few hundred; larger is answered 413."""

BATCH = 2000
"""Callbacks applied in one transaction at most."""

EARLY_EVERY = 1.0
"""Seconds between looks for kept callbacks whose message has appeared (and expired ones)."""

NOTE_EVERY = timedelta(seconds=1)
"""How often a receiver tells the workspace it is receiving callbacks (``push_state``)."""

_SIGNATURE = b"x-twilio-signature"


@dataclass(frozen=True, slots=True)
class PushState:
    """Whether statuses are arriving by push, as the app shows it."""

    last: datetime | None
    """When any receiver of the workspace last received a callback."""
    quiet: bool
    """No callback for the quiet time while messages are pending: polling has taken over."""

    @property
    def mode(self) -> str:
        """``push`` or ``polling``."""
        return "polling" if self.quiet or self.last is None else "push"


def push_state(*, pending: int, quiet_after: timedelta, now: datetime | None = None) -> PushState:
    """Push's state for a workspace whose sends ask for callbacks: quiet when messages are
    pending and no receiver has had a callback for ``quiet_after``."""
    now = now or utcnow()
    last = store.last_received()
    silent = last is None or now - last > quiet_after
    return PushState(last, quiet=bool(pending) and silent)


@dataclass
class AppliedCallbacks:
    """What one batch of callbacks did."""

    applied: AppliedUpdates = field(default_factory=AppliedUpdates)
    early: list[dict[str, str]] = field(default_factory=list)
    """Callbacks about SIDs no message holds yet."""
    faults: list[Fault] = field(default_factory=list)


def apply_callbacks(
    batch: Sequence[Mapping[str, str]],
    *,
    account_sid: str,
    grace: timedelta,
    now: datetime | None = None,
) -> AppliedCallbacks:
    """Apply verified callbacks (their form fields) in one transaction, as the poller applies
    its answers; callbacks about unknown SIDs come back in ``early``, unapplied."""
    now = now or utcnow()
    result = AppliedCallbacks()
    messages = [callback_message(params) for params in batch]
    with database.atomic():
        found = store.targets([m.sid for m in messages if m.sid])
        updates: list[StatusUpdate] = []
        for params, message in zip(batch, messages, strict=True):
            target = found.get(message.sid or "")
            if target is None:
                result.early.append(dict(params))
                continue
            faults = check_callback(
                message,
                sid=message.sid or "",
                account_sid=account_sid,
                to=target.phone,
                from_=target.sender,
                messaging_service_sid=target.messaging_service_sid,
            )
            if faults:
                result.faults.extend(replace(f, message_id=target.message_id) for f in faults)
                continue
            classification = message.classify()
            young = target.attempted_at is None or now - target.attempted_at < POLL_WINDOW
            updates.append(
                StatusUpdate(
                    target.message_id,
                    classification,
                    provider_status=message.api_status,
                    next_poll_at=now + grace if young else None,
                )
            )
        record_faults(result.faults, now)
        result.applied = apply_updates(updates, now, via="push")
    return result


@dataclass
class _Queued:
    params: dict[str, str]
    done: asyncio.Future[None]


class CallbackReceiver:
    """The ASGI app of ``notify-tui callbacks``.

    ``public_url``: what the provider calls (and signs); ``auth_token``: the account's, which
    signs; ``on_applied``: called after each batch written (the opt-out policy). ``stats``
    counts what came and what became of it.
    """

    def __init__(
        self,
        *,
        public_url: str,
        auth_token: str,
        account_sid: str,
        grace: timedelta = timedelta(seconds=120),
        on_applied: Callable[[AppliedUpdates], Awaitable[None]] | None = None,
        clock: Callable[[], datetime] = utcnow,
        early_ttl: timedelta = store.EARLY_TTL,
        early_limit: int = store.EARLY_LIMIT,
    ) -> None:
        self.public_url = public_url
        self.path = urlsplit(public_url).path or "/"
        self._token = auth_token
        self.account_sid = account_sid
        self.grace = grace
        self.early_ttl = early_ttl
        self.early_limit = early_limit
        self._on_applied = on_applied
        self._clock = clock
        self.stats: Counter[str] = Counter()
        self.last_callback_at: datetime | None = None
        self._noted: datetime | None = None
        self._queue: asyncio.Queue[_Queued | None] | None = None
        self._writer: asyncio.Task[None] | None = None

    # -- the writer ------------------------------------------------------------------------

    def _start(self) -> asyncio.Queue[_Queued | None]:
        if self._queue is None or self._writer is None or self._writer.done():
            self._queue = asyncio.Queue()
            self._writer = asyncio.create_task(self._write(self._queue), name="callback writer")
        return self._queue

    async def stop(self) -> None:
        """Stop the writer once what is queued is written (each caller then has its answer);
        cancelled meanwhile, it stops at once, and what was not written is not answered 200."""
        writer, self._writer = self._writer, None
        if writer is None or writer.done() or self._queue is None:
            return
        self._queue.put_nowait(None)  # after everything queued so far
        try:
            await asyncio.shield(writer)
        except asyncio.CancelledError:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            raise

    async def _write(self, queue: asyncio.Queue[_Queued | None]) -> None:
        loop = asyncio.get_running_loop()
        next_early = loop.time()
        stopping = False
        while not stopping:
            batch: list[_Queued] = []
            try:
                item = await asyncio.wait_for(queue.get(), timeout=EARLY_EVERY)
                while True:
                    if item is None:
                        stopping = True
                        break
                    batch.append(item)
                    if len(batch) >= BATCH or queue.empty():
                        break
                    item = queue.get_nowait()
            except TimeoutError:
                pass
            try:
                if batch:
                    await self._apply(batch)
                if not stopping and loop.time() >= next_early:
                    next_early = loop.time() + EARLY_EVERY
                    await self.settle_early()
            except asyncio.CancelledError:
                for queued in batch:
                    if not queued.done.done():
                        queued.done.cancel()
                raise
            except Exception as exc:  # the store failed: no 200 for what was not written
                log.warning("could not write callbacks: %s", exc)
                for queued in batch:
                    if not queued.done.done():
                        queued.done.set_exception(exc)

    async def _apply(self, batch: list[_Queued]) -> None:
        now = self._clock()
        result = await asyncio.to_thread(
            apply_callbacks,
            [item.params for item in batch],
            account_sid=self.account_sid,
            grace=self.grace,
            now=now,
        )
        if result.early:
            kept = await asyncio.to_thread(
                store.keep_early,
                [(p.get("MessageSid", ""), p) for p in result.early],
                now,
                self.early_limit,
            )
            self.stats["early"] += kept
            self.stats["dropped"] += len(result.early) - kept
        if self._noted is None or now - self._noted >= NOTE_EVERY:
            self._noted = now
            await asyncio.to_thread(store.note_received, now)
        self._count(result)
        for item in batch:
            if not item.done.done():
                item.done.set_result(None)
        if self._on_applied is not None and result.applied.resolutions:
            await self._on_applied(result.applied)

    def _count(self, result: AppliedCallbacks) -> None:
        self.stats["faults"] += len(result.faults)
        self.stats["applied"] += len(result.applied.changed_ids)
        self.stats["resolved"] += len(result.applied.resolutions)
        for fault in result.faults:
            log.warning("callback rejected, not applied: %s", fault.text)

    async def settle_early(self) -> None:
        """Apply kept callbacks whose message has appeared; drop (as foreign) the expired."""
        now = self._clock()
        ttl = self.early_ttl

        def settle() -> AppliedCallbacks:
            with database.atomic():
                ready = store.take_early(now)
                result = apply_callbacks(
                    ready, account_sid=self.account_sid, grace=self.grace, now=now
                )
            expired = store.expire_early(now, ttl)
            if expired:
                faults = [
                    Fault(
                        FaultKind.FOREIGN_SID,
                        Operation.CALLBACK,
                        "a message of ours",
                        f"sid {p.get('MessageSid', '')[:40]} (none after {ttl})",
                        p.get("MessageSid"),
                    )
                    for p in expired
                ]
                record_faults(faults, now)
                result.faults.extend(faults)
            return result

        result = await asyncio.to_thread(settle)
        if result.faults:
            self.stats["foreign"] += sum(f.kind is FaultKind.FOREIGN_SID for f in result.faults)
        self._count(result)
        if self._on_applied is not None and result.applied.resolutions:
            await self._on_applied(result.applied)

    # -- HTTP ------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        status = await self._handle(scope, receive)
        body = b"" if status == 200 else _REASONS.get(status, b"")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(self, scope: dict[str, Any], receive: Any) -> int:
        self.stats["requests"] += 1
        if scope["path"] != self.path:
            self.stats["not_found"] += 1
            return 404
        if scope["method"] != "POST":
            self.stats["bad_method"] += 1
            return 405
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            self.stats["oversized"] += 1
            return 413
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                self.stats["oversized"] += 1
                return 413
            if not message.get("more_body"):
                break
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
        except (UnicodeDecodeError, ValueError):
            pairs = None
        signature = headers.get(_SIGNATURE)
        if pairs is None or not signature_matches(
            self._token,
            self.public_url,
            pairs,
            signature.decode("latin-1") if signature is not None else None,
        ):
            self.stats["forged"] += 1
            # Never the body: it is whoever's, and may be large or hostile.
            log.warning(
                "callback refused (403): %s signature from %s",
                "no" if signature is None else "a wrong",
                _client(scope),
            )
            return 403
        params = dict(pairs)
        if params.get("AccountSid") != self.account_sid:
            self.stats["foreign_account"] += 1
            log.warning("callback refused (403): another account's, from %s", _client(scope))
            return 403
        if not params.get("MessageSid") or not params.get("MessageStatus"):
            self.stats["malformed"] += 1
            return 400
        self.stats["received"] += 1
        self.last_callback_at = self._clock()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._start().put_nowait(_Queued(params, done))
        try:
            await done
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if done.cancelled() and task is not None and not task.cancelling():
                return 503  # the writer was stopped before writing it
            raise
        except Exception:
            return 503  # not written: the provider's retry or the poller will bring it
        return 200


_REASONS = {
    400: b"MessageSid and MessageStatus are required\n",
    403: b"forbidden\n",
    404: b"not found\n",
    405: b"POST only\n",
    413: b"too large\n",
    503: b"try again\n",
}


def _client(scope: Mapping[str, Any]) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "an unknown client"
