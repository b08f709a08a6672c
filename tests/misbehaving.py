"""A misbehaving provider: the sandbox behind a front end that answers what was not asked.

It is an ASGI app (in process through ``httpx.ASGITransport``, or over real HTTP on loopback
with ``serve``), so the client reads its answers exactly as it reads a real provider's. The
sandbox does the real work (it creates, keeps and moves every message); this front end rewrites
some answers on their way out, as a broken "Twilio-compatible" service or a proxy might:

============================  ===================================================================
``repeat_sid``                a create answered with the SID an earlier create's answer carried
                              (the sandbox did make a new message, under another SID)
``foreign_to``                a create answered as if sent to ``+19999999999``
``foreign_account``           a create answered from another account
``garbage_create``            a create answered with values outside the API (status, segments,
                              price, direction, error code)
``foreign_fetch``             a fetch answered about another message: ``SMe…`` to
                              ``+19999999999``, ``undelivered`` 30006
``garbage_fetch``             a fetch answered ``exploded`` with error code -91905527
``delivered_with_error``      a fetch answered ``delivered`` with an error code and message
``foreign_cancel``            a cancel answered from another account, ``delivered``
``foreign_page``              each list page also shows messages of another sender and another
                              account, and our SIDs about another recipient
``page_into_other_account``   ``next_page_uri`` into another account's Messages list
``garbled_to``                each list page shows its messages as sent to ``+19999999999``
``huge``                      every answer padded to 10 MB, streamed
============================  ===================================================================

Each mode misbehaves on every ``every``-th answer of its kind (1: all of them).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from notify_tui.provider.sandbox import SandboxApp

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

FOREIGN_TO = "+19999999999"
FOREIGN_SENDER = "+15550009999"
FOREIGN_ACCOUNT = "AC" + "f" * 32
FOREIGN_SID = "SM" + "e" * 32
CREATE_MODES = {"repeat_sid", "foreign_to", "foreign_account", "garbage_create"}
FETCH_MODES = {"foreign_fetch", "garbage_fetch", "delivered_with_error"}
CANCEL_MODES = {"foreign_cancel"}
LIST_MODES = {"foreign_page", "page_into_other_account", "garbled_to"}
MODES = CREATE_MODES | FETCH_MODES | CANCEL_MODES | LIST_MODES | {"huge"}
HUGE = 10 * 1024 * 1024
_FETCH = re.compile(r"/2010-04-01/Accounts/[^/]+/Messages/[^/]+\.json$")


def kind_of(method: str, path: str) -> str:
    """``create``, ``fetch``, ``cancel``, ``list`` or ``other``."""
    if method == "POST" and path.endswith("/Messages.json"):
        return "create"
    if method == "GET" and path.endswith("/Messages.json"):
        return "list"
    if method == "GET" and _FETCH.search(path):
        return "fetch"
    if method == "POST" and _FETCH.search(path):
        return "cancel"
    return "other"


@dataclass
class Misbehaving:
    """The sandbox, with ``modes`` (name -> every how many answers) rewriting its answers."""

    sandbox: SandboxApp
    modes: dict[str, int] = field(default_factory=dict)
    repeat_back: int = 1
    """``repeat_sid`` repeats the SID of the create answered this many answers before."""
    seen: Counter[str] = field(default_factory=Counter)
    """Answers of each kind so far."""
    done: Counter[str] = field(default_factory=Counter)
    """Answers rewritten, by mode."""
    created_sids: list[str] = field(default_factory=list)
    """SIDs the sandbox really gave to creates, in order."""
    answered_sids: list[str] = field(default_factory=list)
    """SIDs the create answers carried, in order (a repeat carries an earlier one)."""
    streamed: int = 0
    """Bytes of ``huge`` answers actually sent."""

    def __post_init__(self) -> None:
        unknown = set(self.modes) - MODES
        assert not unknown, unknown

    def on(self, mode: str) -> bool:
        every = self.modes.get(mode)
        if not every:
            return False
        kinds = {"create": CREATE_MODES, "fetch": FETCH_MODES, "cancel": CANCEL_MODES}
        kind = next((k for k, modes in kinds.items() if mode in modes), "list")
        return self.seen[kind] % every == 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.sandbox(scope, receive, send)
            return
        kind = kind_of(scope["method"], scope["path"])
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.sandbox(scope, receive, capture)
        status = int(start["status"])
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if kind != "other" and 200 <= status < 300:
            self.seen[kind] += 1
            body = self._rewrite(kind, json.loads(body))
            if self.modes.get("huge") and self.seen[kind] % self.modes["huge"] == 0:
                self.done["huge"] += 1
                await self._stream_huge(send, status, headers, body)
                return
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _stream_huge(
        self, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        """The answer, then spaces up to 10 MB (still valid JSON), 64 KiB at a time."""
        await send({"type": "http.response.start", "status": status, "headers": headers})
        chunk = b" " * 65536
        await send({"type": "http.response.body", "body": body, "more_body": True})
        self.streamed = len(body)
        while self.streamed < HUGE:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self.streamed += len(chunk)
        await send({"type": "http.response.body", "body": b""})

    def _rewrite(self, kind: str, data: Any) -> bytes:
        if kind == "create" and isinstance(data, dict):
            self._create(data)
        elif kind == "fetch" and isinstance(data, dict):
            self._fetch(data)
        elif kind == "cancel" and isinstance(data, dict) and self.on("foreign_cancel"):
            self.done["foreign_cancel"] += 1
            data.update(account_sid=FOREIGN_ACCOUNT, status="delivered")
        elif kind == "list" and isinstance(data, dict):
            self._list(data)
        return json.dumps(data).encode()

    def _create(self, data: dict[str, Any]) -> None:
        sid = data["sid"]
        if self.on("repeat_sid") and len(self.answered_sids) >= self.repeat_back:
            self.done["repeat_sid"] += 1
            data["sid"] = self.answered_sids[-self.repeat_back]
        elif self.on("foreign_to"):
            self.done["foreign_to"] += 1
            data["to"] = FOREIGN_TO
        elif self.on("foreign_account"):
            self.done["foreign_account"] += 1
            data["account_sid"] = FOREIGN_ACCOUNT
        elif self.on("garbage_create"):
            self.done["garbage_create"] += 1
            data.update(
                status="received",
                direction="inbound",
                num_segments="99999999999999999999",
                price="-1e20",
                error_code=3000000000,
            )
        self.created_sids.append(sid)
        self.answered_sids.append(data["sid"])

    def _fetch(self, data: dict[str, Any]) -> None:
        if self.on("foreign_fetch"):
            self.done["foreign_fetch"] += 1
            data.update(
                sid=FOREIGN_SID,
                to=FOREIGN_TO,
                status="undelivered",
                error_code=30006,
                error_message="Landline or unreachable carrier",
            )
        elif self.on("garbage_fetch"):
            self.done["garbage_fetch"] += 1
            data.update(status="exploded", error_code=-91905527, num_segments="-3")
        elif self.on("delivered_with_error"):
            self.done["delivered_with_error"] += 1
            data.update(status="delivered", error_code=30006, error_message="x" * 50)

    def _list(self, data: dict[str, Any]) -> None:
        messages = data.get("messages") or []
        if self.on("foreign_page") and messages:
            self.done["foreign_page"] += 1
            template = messages[0]
            strangers = [
                dict(template, sid="SM" + "1" * 32, **{"from": FOREIGN_SENDER}),
                dict(template, sid="SM" + "2" * 32, account_sid=FOREIGN_ACCOUNT),
            ]
            # Our own SIDs, answered about another recipient, failed for a landline.
            for message in messages:
                message.update(to=FOREIGN_TO, status="undelivered", error_code=30006)
            data["messages"] = strangers + messages
        if self.on("garbled_to") and messages:
            self.done["garbled_to"] += 1
            for message in messages:
                message["to"] = FOREIGN_TO
        if self.on("page_into_other_account"):
            self.done["page_into_other_account"] += 1
            data["next_page_uri"] = (
                f"/2010-04-01/Accounts/{FOREIGN_ACCOUNT}/Messages.json?PageSize=50&Page=1"
            )


class Served:
    """An ASGI app served by uvicorn on a loopback port (port 0), in a background thread."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="error", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self._thread.start()
        for _ in range(200):
            if self._server.started:
                return self
            self._thread.join(0.05)
        raise RuntimeError("the server did not start within 10 s")

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()
