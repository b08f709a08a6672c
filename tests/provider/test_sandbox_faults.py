"""Fault injection, the concurrency limit, Basic auth and the stats endpoint of the sandbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from notify_tui.provider import (
    AuthenticationError,
    CreateOutcomeUnknownError,
    NotFoundError,
    ProviderConfig,
    ProviderError,
    RateLimitedError,
    ServerError,
    TransportError,
    TwilioClient,
    sandbox_client,
)
from notify_tui.provider.client import SANDBOX_BASE_URL
from notify_tui.provider.sandbox import Faults, SandboxApp

from .support import ACCOUNT, FROM, MESSAGES_PATH, RecordingSleep, number_with

TO = number_with("delivered")


async def make_message(app: SandboxApp) -> str:
    async with sandbox_client(app) as client:
        sid = (await client.create_message(TO, "hi", from_=FROM)).sid
    assert sid is not None
    return sid


# ---------------------------------------------------------------- faults


async def test_latency_delays_every_answer(make_app: Callable[..., SandboxApp]) -> None:
    app = make_app(faults=Faults(latency=0.05))
    sid = await make_message(app)
    async with sandbox_client(app) as client:
        started = time.perf_counter()
        await client.fetch_message(sid)
        assert time.perf_counter() - started >= 0.05


async def test_injected_5xx_are_retried_by_fetch_then_raised(
    make_app: Callable[..., SandboxApp], fake_sleep: RecordingSleep
) -> None:
    app = make_app()
    sid = await make_message(app)
    app.faults = Faults(error_rate=1.0)
    async with sandbox_client(app, sleep=fake_sleep, max_retries=2) as client:
        with pytest.raises(ServerError) as caught:
            await client.fetch_message(sid)
    assert (caught.value.http_status, caught.value.code) == (500, 20500)
    assert app.stats()["fetch"] == 3
    assert app.stats()["injected_errors"] == 3
    assert len(fake_sleep.delays) == 2


async def test_an_injected_5xx_on_create_is_an_unknown_outcome_sent_once(
    make_app: Callable[..., SandboxApp], fake_sleep: RecordingSleep
) -> None:
    app = make_app(faults=Faults(error_rate=1.0))
    async with sandbox_client(app, sleep=fake_sleep) as client:
        with pytest.raises(CreateOutcomeUnknownError) as caught:
            await client.create_message(TO, "hi", from_=FROM)
    assert isinstance(caught.value.cause, ServerError)
    assert app.stats()["create"] == 1, "never resent"
    assert app.stats()["messages"] == 0


async def test_dropped_connections_look_like_transport_failures(
    make_app: Callable[..., SandboxApp], fake_sleep: RecordingSleep
) -> None:
    app = make_app()
    sid = await make_message(app)
    app.faults = Faults(drop_rate=1.0)
    async with sandbox_client(app, sleep=fake_sleep, max_retries=1) as client:
        with pytest.raises(TransportError) as fetched:
            await client.fetch_message(sid)
        with pytest.raises(CreateOutcomeUnknownError) as created:
            await client.create_message(TO, "hi", from_=FROM)
    assert fetched.value.maybe_sent is True
    assert isinstance(created.value.cause, TransportError)
    stats = app.stats()
    assert stats["fetch"] == 2, "fetch was retried once"
    assert stats["create"] == 2, "one to make the message, one dropped and never resent"
    assert stats["dropped"] == 3
    assert stats["messages"] == 1, "a dropped request creates nothing"


async def test_a_lost_answer_creates_the_message_and_a_lookup_finds_it(
    make_app: Callable[..., SandboxApp], fake_sleep: RecordingSleep
) -> None:
    app = make_app(faults=Faults(lost_answer_rate=1.0))
    async with sandbox_client(app, sleep=fake_sleep) as client:
        with pytest.raises(CreateOutcomeUnknownError) as caught:
            await client.create_message(TO, "lost answer", from_=FROM)
        assert app.stats()["create"] == 1
        assert app.stats()["messages"] == 1, "the message exists"
        app.faults = Faults()
        found = [m async for page in client.list_messages(to=caught.value.to) for m in page]
    assert [m.body for m in found] == ["lost answer"]


async def test_lost_messages_answer_404_on_fetch(
    make_app: Callable[..., SandboxApp], fake_sleep: RecordingSleep
) -> None:
    app = make_app(faults=Faults(lost_rate=1.0))
    async with sandbox_client(app, sleep=fake_sleep) as client:
        created = await client.create_message(TO, "hi", from_=FROM)
        assert created.sid is not None
        with pytest.raises(NotFoundError) as caught:
            await client.fetch_message(created.sid)
        listed = [m async for page in client.list_messages() for m in page]
    assert (caught.value.http_status, caught.value.code) == (404, 20404)
    assert listed == []
    assert fake_sleep.delays == [], "404 is final"


async def fault_trace(app: SandboxApp) -> list[str]:
    """Which of 40 fetches fail, and how."""
    trace = []
    async with sandbox_client(app, max_retries=0) as client:
        sid = (await client.create_message(TO, "hi", from_=FROM)).sid
        assert sid is not None
        app.faults = Faults(error_rate=0.3, drop_rate=0.2)
        for _ in range(40):
            try:
                await client.fetch_message(sid)
                trace.append("ok")
            except ProviderError as exc:
                trace.append(type(exc).__name__)
    return trace


async def test_faults_are_repeatable_with_a_seed(make_app: Callable[..., SandboxApp]) -> None:
    one = await fault_trace(make_app(seed=11))
    two = await fault_trace(make_app(seed=11))
    other = await fault_trace(make_app(seed=12))
    assert one == two
    assert one != other
    assert {"ok", "ServerError", "TransportError"} == set(one)


async def test_faults_endpoint_changes_faults_at_run_time(raw: httpx.AsyncClient) -> None:
    assert (await raw.get("/_sandbox/faults")).json()["error_rate"] == 0
    changed = await raw.post("/_sandbox/faults", json={"error_rate": 1, "latency": 0.01})
    assert changed.status_code == 200
    assert changed.json() == {
        "latency": 0.01,
        "error_rate": 1,
        "drop_rate": 0.0,
        "lost_answer_rate": 0.0,
        "lost_rate": 0.0,
        "callback_drop_rate": 0.0,
        "callback_duplicate_rate": 0.0,
        "callback_delay_rate": 0.0,
        "callback_delay": 0.0,
        "callback_reorder_rate": 0.0,
    }
    assert (await raw.get(MESSAGES_PATH)).status_code == 500
    await raw.post("/_sandbox/faults", json={"error_rate": 0})
    assert (await raw.get(MESSAGES_PATH)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"nope": 1},
        {"error_rate": 2},
        {"latency": -1},
        {"drop_rate": "x"},
        [1],
        "x",
        {"latency": 1e9},
        {"callback_delay": 1e9},
        {"callback_reorder_rate": 1.5},
    ],
)
async def test_faults_endpoint_refuses_bad_faults(body: object, raw: httpx.AsyncClient) -> None:
    response = await raw.post("/_sandbox/faults", json=body)
    assert response.status_code == 400
    assert (await raw.get("/_sandbox/faults")).json()["error_rate"] == 0


def test_faults_validate_on_construction() -> None:
    with pytest.raises(ValueError):
        Faults(lost_rate=1.5)
    with pytest.raises(ValueError):
        Faults(latency=float("nan"))


# ------------------------------------------------------- concurrency limit


async def test_past_the_concurrency_limit_the_sandbox_answers_429(
    make_app: Callable[..., SandboxApp],
) -> None:
    app = make_app(max_concurrency=2, retry_after=3)
    sid = await make_message(app)
    app.faults = Faults(latency=0.1)
    async with sandbox_client(app, max_retries=0) as client:
        results = await asyncio.gather(
            *(client.fetch_message(sid) for _ in range(5)), return_exceptions=True
        )
    limited = [r for r in results if isinstance(r, RateLimitedError)]
    assert len(limited) == 3
    assert all((e.code, e.http_status, e.retry_after) == (20429, 429, 3.0) for e in limited)
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 2
    assert app.stats()["rate_limited"] == 3
    assert app.stats()["in_flight"] == 0


async def test_the_client_waits_out_the_429_and_gets_through(
    make_app: Callable[..., SandboxApp],
) -> None:
    app = make_app(max_concurrency=1, retry_after=0)
    sid = await make_message(app)
    app.faults = Faults(latency=0.02)

    async def short_sleep(delay: float) -> None:
        await asyncio.sleep(0.03)  # long enough for the slot to free up

    async with sandbox_client(app, max_retries=5, sleep=short_sleep) as client:
        results = await asyncio.gather(*(client.fetch_message(sid) for _ in range(3)))
    assert [m.sid for m in results] == [sid] * 3
    assert app.stats()["rate_limited"] >= 2


# -------------------------------------------------------------------- auth


async def test_auth_token_guards_every_api_call(
    make_app: Callable[..., SandboxApp], fake_sleep: RecordingSleep
) -> None:
    app = make_app(auth_token="right-token")
    async with sandbox_client(app, auth_token="right-token") as good:
        created = await good.create_message(TO, "hi", from_=FROM)
    assert created.sid is not None
    async with sandbox_client(app, auth_token="wrong-token", sleep=fake_sleep) as bad:
        with pytest.raises(AuthenticationError) as caught:
            await bad.fetch_message(created.sid)
        with pytest.raises(AuthenticationError):
            await bad.create_message(TO, "hi", from_=FROM)
    assert (caught.value.http_status, caught.value.code) == (401, 20003)
    assert "wrong-token" not in str(caught.value)
    assert fake_sleep.delays == []
    assert app.stats()["unauthorized"] == 2
    assert app.stats()["messages"] == 1


@pytest.mark.parametrize(
    ("user", "password", "status"),
    [
        (ACCOUNT, "right-token", 200),
        ("SK" + "0" * 32, "right-token", 200),
        ("AC" + "1" * 32, "right-token", 401),
        (ACCOUNT, "", 401),
        (None, None, 401),
    ],
)
async def test_auth_accepts_the_account_or_an_api_key(
    user: str | None, password: str | None, status: int, make_app: Callable[..., SandboxApp]
) -> None:
    app = make_app(auth_token="right-token")
    auth = (user, password) if user is not None and password is not None else None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=SANDBOX_BASE_URL, auth=auth
    ) as raw:
        response = await raw.get(MESSAGES_PATH)
    assert response.status_code == status
    if status == 401:
        assert response.json()["code"] == 20003
        assert response.headers["www-authenticate"].startswith("Basic")


async def test_a_garbled_authorization_header_is_401(
    make_app: Callable[..., SandboxApp],
) -> None:
    app = make_app(auth_token="t")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=SANDBOX_BASE_URL
    ) as raw:
        for header in ("Basic !!!", "Bearer abc", "Basic " + "w" * 7):
            response = await raw.get(MESSAGES_PATH, headers={"Authorization": header})
            assert response.status_code == 401


async def test_client_with_api_key_against_the_sandbox(make_app: Callable[..., SandboxApp]) -> None:
    app = make_app(auth_token="secret")
    config = ProviderConfig(
        account_sid=ACCOUNT, username="SK" + "a" * 32, password="secret", base_url=SANDBOX_BASE_URL
    )
    async with TwilioClient(config, httpx.ASGITransport(app=app)) as client:
        created = await client.create_message(TO, "hi", from_=FROM)
    assert created.to == TO


# ------------------------------------------------------------------- stats


async def test_stats_count_requests_by_kind(app: SandboxApp, client: TwilioClient) -> None:
    created = await client.create_message(TO, "hi", from_=FROM)
    assert created.sid is not None
    await client.fetch_message(created.sid)
    await client.fetch_message(created.sid)
    async for _ in client.list_messages():
        pass
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=SANDBOX_BASE_URL
    ) as raw:
        stats = (await raw.get("/_sandbox/stats")).json()
    assert {k: stats[k] for k in ("create", "fetch", "list", "messages")} == {
        "create": 1,
        "fetch": 2,
        "list": 1,
        "messages": 1,
    }
