"""The client and the sandbox over real HTTP on loopback (uvicorn in a background thread)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from notify_tui.provider import (
    AuthenticationError,
    CreateOutcomeUnknownError,
    ProviderConfig,
    ProviderTimeoutError,
    TransportError,
    TwilioClient,
)
from notify_tui.provider.sandbox import Faults, SandboxApp

from .support import ACCOUNT, FROM, FakeClock, LiveServer, RecordingSleep, number_with

TO = number_with("delivered")


def http_client(
    server: LiveServer, sleep: RecordingSleep, *, password: str = "tok", **options: float
) -> TwilioClient:
    config = ProviderConfig(
        account_sid=ACCOUNT,
        password=password,
        base_url=server.base_url,
        read_timeout=options.pop("read_timeout", 5.0),
    )
    return TwilioClient(config, sleep=sleep, max_retries=int(options.pop("max_retries", 2)))


async def test_create_fetch_and_list_over_http(
    make_app: Callable[..., SandboxApp],
    serve: Callable[[SandboxApp], LiveServer],
    clock: FakeClock,
    fake_sleep: RecordingSleep,
) -> None:
    server = serve(make_app(auth_token="tok"))
    async with http_client(server, fake_sleep) as client:
        created = [await client.create_message(TO, f"hello {i}", from_=FROM) for i in range(3)]
        assert created[0].status == "queued"
        clock.advance(60)
        assert created[0].sid is not None
        fetched = await client.fetch_message(created[0].sid)
        pages = [p async for p in client.list_messages(to=TO, page_size=2)]
    assert fetched.status == "delivered" and fetched.body == "hello 0"
    assert [len(p) for p in pages] == [2, 1]
    assert {m.sid for p in pages for m in p} == {m.sid for m in created}


async def test_wrong_credentials_over_http(
    make_app: Callable[..., SandboxApp],
    serve: Callable[[SandboxApp], LiveServer],
    fake_sleep: RecordingSleep,
) -> None:
    server = serve(make_app(auth_token="tok"))
    async with http_client(server, fake_sleep, password="nope") as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.create_message(TO, "hi", from_=FROM)
    assert caught.value.code == 20003
    assert "nope" not in str(caught.value)


async def test_a_dropped_connection_over_http(
    make_app: Callable[..., SandboxApp],
    serve: Callable[[SandboxApp], LiveServer],
    fake_sleep: RecordingSleep,
) -> None:
    app = make_app(faults=Faults(drop_rate=1.0))
    server = serve(app)
    async with http_client(server, fake_sleep, max_retries=1) as client:
        with pytest.raises(TransportError) as fetched:
            await client.fetch_message("SM" + "0" * 32)
        with pytest.raises(CreateOutcomeUnknownError) as created:
            await client.create_message(TO, "hi", from_=FROM)
    assert fetched.value.maybe_sent is True
    assert not isinstance(fetched.value, ProviderTimeoutError)
    assert isinstance(created.value.cause, TransportError)
    stats = app.stats()
    assert (stats["fetch"], stats["create"], stats["messages"]) == (2, 1, 0)


async def test_raw_http_sees_the_connection_close_without_a_status_line(
    make_app: Callable[..., SandboxApp], serve: Callable[[SandboxApp], LiveServer]
) -> None:
    server = serve(make_app(faults=Faults(drop_rate=1.0)))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"GET /2010-04-01/Accounts/" + ACCOUNT.encode() + b"/Messages.json "
            b"HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert sock.recv(1024) == b"", "closed, not answered (no 500)"


async def test_a_lost_answer_over_http(
    make_app: Callable[..., SandboxApp],
    serve: Callable[[SandboxApp], LiveServer],
    fake_sleep: RecordingSleep,
) -> None:
    app = make_app(faults=Faults(lost_answer_rate=1.0))
    server = serve(app)
    async with http_client(server, fake_sleep) as client:
        with pytest.raises(CreateOutcomeUnknownError):
            await client.create_message(TO, "maybe", from_=FROM)
        assert app.stats()["create"] == 1
        app.faults = Faults()
        found = [m async for p in client.list_messages(to=TO) for m in p]
    assert [m.body for m in found] == ["maybe"]


async def test_a_read_timeout_over_http(
    make_app: Callable[..., SandboxApp],
    serve: Callable[[SandboxApp], LiveServer],
    fake_sleep: RecordingSleep,
) -> None:
    app = make_app(faults=Faults(latency=0.5))
    server = serve(app)
    async with http_client(server, fake_sleep, read_timeout=0.1, max_retries=1) as client:
        with pytest.raises(ProviderTimeoutError) as fetched:
            await client.fetch_message("SM" + "0" * 32)
        with pytest.raises(CreateOutcomeUnknownError) as created:
            await client.create_message(TO, "slow", from_=FROM)
    assert fetched.value.maybe_sent is True
    assert isinstance(created.value.cause, ProviderTimeoutError)
    assert app.stats()["fetch"] == 2
    assert app.stats()["create"] == 1


async def test_nobody_listening_is_a_safe_transport_error(fake_sleep: RecordingSleep) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ProviderConfig(account_sid=ACCOUNT, password="x", base_url=f"http://127.0.0.1:{port}")
    attempts = 0

    class Counting(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return await super().handle_async_request(request)

    async with TwilioClient(config, Counting(), sleep=fake_sleep, max_retries=2) as client:
        with pytest.raises(TransportError) as caught:
            await client.create_message(TO, "hi", from_=FROM)
    assert not isinstance(caught.value, CreateOutcomeUnknownError)
    assert caught.value.maybe_sent is False
    assert attempts == 3, "a create that never connected is safe to resend"
