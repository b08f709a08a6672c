"""The client against scripted answers: wire format, error classes, retries, create safety."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from notify_tui.provider import (
    AuthenticationError,
    CreateOutcomeUnknownError,
    InvalidResponseError,
    NotFoundError,
    ProviderConfig,
    ProviderError,
    ProviderFaultError,
    ProviderTimeoutError,
    RateLimitedError,
    RefusedError,
    ServerError,
    TransportError,
    TwilioClient,
)

from .support import RecordingSleep

ACCOUNT = "AC0123456789abcdef0123456789abcdef"
SECRET = "s3cret-token-value"
BASE = "https://api.example.test"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
SID = "SM0123456789abcdef0123456789abcdef"
MESSAGE = {"sid": SID, "status": "queued", "to": "+14155552671", "num_segments": "1"}

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """A MockTransport handler that plays answers in order and records every request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


def ok(status: int = 200, body: Any = MESSAGE, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def error(status: int, code: int | None, message: str = "nope", **headers: str) -> httpx.Response:
    body = {"code": code, "message": message, "more_info": f"https://e/{code}", "status": status}
    return httpx.Response(status, json=body, headers=headers)


def make_client(
    script: Script, sleep: RecordingSleep, *, jitter: float = 0.5, **options: Any
) -> TwilioClient:
    config = ProviderConfig(account_sid=ACCOUNT, password=SECRET, base_url=BASE)
    return TwilioClient(
        config, httpx.MockTransport(script), sleep=sleep, random=lambda: jitter, **options
    )


def form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


# ------------------------------------------------------------------ config


def test_config_repr_never_shows_the_password() -> None:
    config = ProviderConfig(account_sid=ACCOUNT, username="SKkey", password=SECRET)
    assert SECRET not in repr(config)
    assert "SKkey" in repr(config)
    assert config.base_url == "https://api.twilio.com"


@pytest.mark.parametrize(
    "base_url", ["ftp://x", "api.twilio.com", "https://user:pw@api.twilio.com", "https://"]
)
def test_config_refuses_unusable_base_urls(base_url: str) -> None:
    with pytest.raises(ValueError) as caught:
        ProviderConfig(account_sid=ACCOUNT, password=SECRET, base_url=base_url)
    assert "pw" not in str(caught.value)


# ------------------------------------------------------------- wire format


async def test_create_posts_the_form_with_basic_auth(fake_sleep: RecordingSleep) -> None:
    script = Script(ok(201))
    async with make_client(script, fake_sleep) as client:
        message = await client.create_message(
            "+14155552671", "Hi & bye", from_="+15005550006", status_callback="https://cb/x"
        )
    assert message.sid == SID and message.num_segments == 1
    (request,) = script.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}{MESSAGES}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request) == {
        "To": ["+14155552671"],
        "Body": ["Hi & bye"],
        "From": ["+15005550006"],
        "StatusCallback": ["https://cb/x"],
    }
    expected = base64.b64encode(f"{ACCOUNT}:{SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"


async def test_create_through_a_messaging_service_with_an_api_key(
    fake_sleep: RecordingSleep,
) -> None:
    script = Script(ok(201))
    config = ProviderConfig(account_sid=ACCOUNT, username="SKabc", password=SECRET, base_url=BASE)
    async with TwilioClient(config, httpx.MockTransport(script), sleep=fake_sleep) as client:
        await client.create_message("+14155552671", "Hi", messaging_service_sid="MG1")
    (request,) = script.requests
    assert form(request) == {"To": ["+14155552671"], "Body": ["Hi"], "MessagingServiceSid": ["MG1"]}
    assert request.url.path == MESSAGES, "the account SID stays in the path"
    expected = base64.b64encode(f"SKabc:{SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"


async def test_create_needs_a_sender(fake_sleep: RecordingSleep) -> None:
    script = Script(ok(201))
    async with make_client(script, fake_sleep) as client:
        with pytest.raises(ValueError):
            await client.create_message("+14155552671", "Hi")
    assert script.requests == []


async def test_fetch_quotes_the_sid_into_the_path(fake_sleep: RecordingSleep) -> None:
    script = Script(ok())
    async with make_client(script, fake_sleep) as client:
        message = await client.fetch_message(SID)
        await client.fetch_message("SM../../x?y")
    assert message.status == "queued"
    assert script.requests[0].url.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}.json"
    raw_path = script.requests[1].url.raw_path.decode()
    assert raw_path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages/SM..%2F..%2Fx%3Fy.json"


def page(messages: list[Any], next_page_uri: str | None) -> httpx.Response:
    return ok(body={"messages": messages, "next_page_uri": next_page_uri, "page": 0})


async def test_list_sends_the_filters_and_follows_next_page_uri_verbatim(
    fake_sleep: RecordingSleep,
) -> None:
    second = f"{MESSAGES}?To=%2B14155552671&PageSize=2&Page=1&PageToken=PA%7Eodd+token"
    third = f"{MESSAGES}?PageSize=2&Page=2&PageToken=PAzz"
    script = Script(
        page([MESSAGE, MESSAGE], second), page([MESSAGE, "junk", MESSAGE], third), page([], None)
    )
    async with make_client(script, fake_sleep) as client:
        pages = [
            p
            async for p in client.list_messages(
                to="+14155552671",
                from_="+15005550006",
                date_sent=date(2024, 5, 1),
                date_sent_before=date(2024, 5, 31),
                date_sent_after=datetime(2024, 4, 30, 23, 0, tzinfo=UTC),
                page_size=2,
            )
        ]
    assert [len(p) for p in pages] == [2, 2, 0], "a non-object item is skipped"
    first = script.requests[0]
    assert first.url.path == MESSAGES
    assert first.url.query.decode() == (
        "To=%2B14155552671&From=%2B15005550006&DateSent=2024-05-01"
        "&DateSent%3C=2024-05-31&DateSent%3E=2024-04-30&PageSize=2"
    )
    assert [r.url.raw_path.decode() for r in script.requests[1:]] == [second, third]


async def test_list_refuses_a_next_page_on_another_origin(fake_sleep: RecordingSleep) -> None:
    script = Script(page([MESSAGE], "https://evil.test/steal?PageToken=x"), page([], None))
    async with make_client(script, fake_sleep) as client:
        with pytest.raises(InvalidResponseError):
            async for _ in client.list_messages():
                pass
    assert len(script.requests) == 1, "credentials never go to another host"


async def test_list_follows_an_absolute_uri_on_its_own_origin(fake_sleep: RecordingSleep) -> None:
    script = Script(page([MESSAGE], f"{BASE}{MESSAGES}?Page=1&PageToken=PA1"), page([], None))
    async with make_client(script, fake_sleep) as client:
        pages = [p async for p in client.list_messages()]
    assert len(pages) == 2
    assert str(script.requests[1].url) == f"{BASE}{MESSAGES}?Page=1&PageToken=PA1"


async def test_list_stops_when_next_page_uri_loops(fake_sleep: RecordingSleep) -> None:
    script = Script(page([MESSAGE], f"{MESSAGES}?PageToken=PA1"))
    async with make_client(script, fake_sleep) as client:
        with pytest.raises(InvalidResponseError):
            async for _ in client.list_messages():
                pass
    assert len(script.requests) == 2, "the page that points at itself is read once"


@pytest.mark.parametrize(
    "body", [{"next_page_uri": None}, {"messages": {}, "next_page_uri": None}, [], "x"]
)
async def test_list_without_a_messages_array_is_invalid(
    body: Any, fake_sleep: RecordingSleep
) -> None:
    async with make_client(Script(ok(body=body)), fake_sleep) as client:
        with pytest.raises(InvalidResponseError):
            async for _ in client.list_messages():
                pass


@pytest.mark.parametrize("size", [0, 1001, -5])
async def test_list_page_size_is_bounded(size: int, fake_sleep: RecordingSleep) -> None:
    async with make_client(Script(page([], None)), fake_sleep) as client:
        with pytest.raises(ValueError):
            async for _ in client.list_messages(page_size=size):
                pass


# ------------------------------------------------------------ error classes


@pytest.mark.parametrize(
    ("answer", "cls", "status", "code"),
    [
        (error(401, 20003, "Authenticate"), AuthenticationError, 401, 20003),
        (error(403, 20003), AuthenticationError, 403, 20003),
        (error(404, 20404, "The requested resource was not found"), NotFoundError, 404, 20404),
        (error(429, 20429, **{"Retry-After": "7"}), RateLimitedError, 429, 20429),
        (error(400, 21211, "Invalid 'To' Phone Number"), RefusedError, 400, 21211),
        (error(409, None), RefusedError, 409, None),
        (error(500, 20500), ServerError, 500, 20500),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), ServerError, 502, None),
        (httpx.Response(301, headers={"Location": "https://x"}), InvalidResponseError, 301, None),
        (httpx.Response(200, text="{not json"), InvalidResponseError, 200, None),
        (ok(body=["a", "list"]), InvalidResponseError, None, None),
    ],
)
async def test_each_answer_maps_to_its_error_class(
    answer: httpx.Response,
    cls: type[ProviderError],
    status: int | None,
    code: int | None,
    fake_sleep: RecordingSleep,
) -> None:
    async with make_client(Script(answer), fake_sleep, max_retries=0) as client:
        with pytest.raises(cls) as caught:
            await client.fetch_message(SID)
    assert type(caught.value) is cls
    assert caught.value.http_status == status
    assert caught.value.code == code


async def test_refused_error_carries_the_provider_words(fake_sleep: RecordingSleep) -> None:
    answer = error(400, 21211, "The 'To' number 123 is not a valid phone number.")
    async with make_client(Script(answer), fake_sleep) as client:
        with pytest.raises(RefusedError) as caught:
            await client.create_message("123", "hi", from_="+15005550006")
    e = caught.value
    assert (e.http_status, e.code, e.more_info) == (400, 21211, "https://e/21211")
    assert "The 'To' number 123 is not a valid phone number." in e.message
    assert str(e).endswith("(HTTP 400, code 21211)")


async def test_rate_limited_reads_retry_after_as_seconds_or_date(
    fake_sleep: RecordingSleep,
) -> None:
    answers = [error(429, 20429, **{"Retry-After": v}) for v in ("2.5", "soon", "-3")]
    answers.append(error(429, 20429, **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    seen = []
    for answer in answers:
        async with make_client(Script(answer), fake_sleep, max_retries=0) as client:
            with pytest.raises(RateLimitedError) as caught:
                await client.fetch_message(SID)
        seen.append(caught.value.retry_after)
    assert seen == [2.5, None, 0.0, 0.0]


@pytest.mark.parametrize(
    ("failure", "cls", "maybe_sent"),
    [
        (httpx.ConnectError("refused"), TransportError, False),
        (httpx.ConnectTimeout("slow"), ProviderTimeoutError, False),
        (httpx.PoolTimeout("busy"), ProviderTimeoutError, False),
        (httpx.ReadTimeout("slow"), ProviderTimeoutError, True),
        (httpx.WriteTimeout("slow"), ProviderTimeoutError, True),
        (httpx.ReadError("reset"), TransportError, True),
        (httpx.RemoteProtocolError("Server disconnected"), TransportError, True),
    ],
)
async def test_transport_failures_map_to_transport_errors(
    failure: Exception, cls: type[TransportError], maybe_sent: bool, fake_sleep: RecordingSleep
) -> None:
    async with make_client(Script(failure), fake_sleep, max_retries=0) as client:
        with pytest.raises(cls) as caught:
            await client.fetch_message(SID)
    assert type(caught.value) is cls
    assert caught.value.maybe_sent is maybe_sent
    assert caught.value.http_status is None


async def test_no_error_message_ever_holds_the_password(fake_sleep: RecordingSleep) -> None:
    leaky: list[Answer] = [
        httpx.ConnectError(f"could not reach {ACCOUNT}:{SECRET}@host"),
        error(400, 21211, f"echo {SECRET}"),
        error(500, 20500, f"trace {SECRET}"),
    ]
    for answer in leaky:
        async with make_client(Script(answer), fake_sleep, max_retries=0) as client:
            with pytest.raises(ProviderError) as caught:
                await client.fetch_message(SID)
            with pytest.raises(ProviderError) as on_create:
                await client.create_message("+14155552671", "x", from_="+15005550006")
        for e in (caught.value, on_create.value):
            assert SECRET not in str(e)
            assert SECRET not in e.message
            assert SECRET not in repr(e.args)


# ------------------------------------------------------------------ retries


async def test_fetch_honours_retry_after(fake_sleep: RecordingSleep) -> None:
    script = Script(error(429, 20429, **{"Retry-After": "3"}), ok())
    async with make_client(script, fake_sleep) as client:
        message = await client.fetch_message(SID)
    assert message.sid == SID
    assert fake_sleep.delays == [3.0]
    assert len(script.requests) == 2


async def test_backoff_is_exponential_with_full_jitter(fake_sleep: RecordingSleep) -> None:
    script = Script(error(503, 20503), error(503, 20503), error(429, 20429), ok())
    async with make_client(script, fake_sleep, jitter=0.5, backoff_base=0.5) as client:
        await client.fetch_message(SID)
    # random() * min(cap, base * 2 ** attempt), with random() = 0.5
    assert fake_sleep.delays == [0.25, 0.5, 1.0]


async def test_jitter_spans_zero_to_the_exponential_ceiling(fake_sleep: RecordingSleep) -> None:
    low, high = RecordingSleep(), RecordingSleep()
    for sleep, jitter in ((low, 0.0), (high, 0.999999)):
        script = Script(error(500, 20500))
        async with make_client(
            script, sleep, jitter=jitter, backoff_base=1.0, backoff_cap=4.0, max_retries=4
        ) as client:
            with pytest.raises(ServerError):
                await client.fetch_message(SID)
    assert low.delays == [0.0] * 4
    assert [round(d, 3) for d in high.delays] == [1.0, 2.0, 4.0, 4.0], "capped at backoff_cap"


async def test_retries_stop_at_max_retries(fake_sleep: RecordingSleep) -> None:
    script = Script(error(500, 20500))
    async with make_client(script, fake_sleep, max_retries=3) as client:
        with pytest.raises(ServerError):
            await client.fetch_message(SID)
    assert len(script.requests) == 4
    assert len(fake_sleep.delays) == 3


async def test_retries_stop_at_max_total_delay(fake_sleep: RecordingSleep) -> None:
    script = Script(httpx.ReadError("reset"))
    async with make_client(
        script, fake_sleep, jitter=1.0, backoff_base=0.5, max_total_delay=1.0, max_retries=10
    ) as client:
        with pytest.raises(TransportError):
            await client.fetch_message(SID)
    assert fake_sleep.delays == [0.5, 0.5], "the second wait is cut to what the budget leaves"
    assert sum(fake_sleep.delays) <= 1.0
    assert len(script.requests) == 3


async def test_a_retry_after_beyond_the_budget_gives_up_at_once(
    fake_sleep: RecordingSleep,
) -> None:
    script = Script(error(429, 20429, **{"Retry-After": "120"}), ok())
    async with make_client(script, fake_sleep, max_total_delay=60.0) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.fetch_message(SID)
    assert caught.value.retry_after == 120.0
    assert fake_sleep.delays == []
    assert len(script.requests) == 1


async def test_list_retries_each_page(fake_sleep: RecordingSleep) -> None:
    script = Script(
        page([MESSAGE], f"{MESSAGES}?PageToken=PA1"),
        httpx.ReadTimeout("slow"),
        error(502, None),
        page([MESSAGE], None),
    )
    async with make_client(script, fake_sleep) as client:
        pages = [p async for p in client.list_messages()]
    assert [len(p) for p in pages] == [1, 1]
    assert [r.url.raw_path.decode() for r in script.requests[1:]] == [
        f"{MESSAGES}?PageToken=PA1"
    ] * 3


@pytest.mark.parametrize(
    "answer",
    [
        error(400, 21211),
        error(401, 20003),
        error(404, 20404),
        httpx.Response(200, text="oops"),
    ],
)
async def test_final_answers_are_not_retried(
    answer: httpx.Response, fake_sleep: RecordingSleep
) -> None:
    script = Script(answer, ok())
    async with make_client(script, fake_sleep) as client:
        with pytest.raises(ProviderError):
            await client.fetch_message(SID)
    assert len(script.requests) == 1
    assert fake_sleep.delays == []


# ------------------------------------------------------------- create safety


@pytest.mark.parametrize(
    "first",
    [
        error(429, 20429, **{"Retry-After": "1"}),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow"),
        httpx.PoolTimeout("busy"),
    ],
)
async def test_create_retries_only_what_certainly_created_nothing(
    first: Answer, fake_sleep: RecordingSleep
) -> None:
    script = Script(first, ok(201))
    async with make_client(script, fake_sleep) as client:
        message = await client.create_message("+14155552671", "hi", from_="+15005550006")
    assert message.sid == SID
    assert len(script.requests) == 2
    assert form(script.requests[0]) == form(script.requests[1])


@pytest.mark.parametrize(
    ("failure", "cause", "status"),
    [
        (httpx.ReadTimeout("slow"), ProviderTimeoutError, None),
        (httpx.WriteTimeout("slow"), ProviderTimeoutError, None),
        (httpx.ReadError("reset"), TransportError, None),
        (httpx.RemoteProtocolError("Server disconnected"), TransportError, None),
        (error(500, 20500), ServerError, 500),
        (error(503, 20503, **{"Retry-After": "1"}), ServerError, 503),
        (httpx.Response(201, text="<html>"), InvalidResponseError, 201),
        (ok(201, body={"status": "queued"}), ProviderFaultError, None),
        (ok(201, body=[MESSAGE]), InvalidResponseError, None),
    ],
)
async def test_create_that_may_have_reached_the_provider_is_never_resent(
    failure: Answer, cause: type[ProviderError], status: int | None, fake_sleep: RecordingSleep
) -> None:
    script = Script(failure, ok(201))
    before = datetime.now(UTC)
    async with make_client(script, fake_sleep) as client:
        with pytest.raises(CreateOutcomeUnknownError) as caught:
            await client.create_message("+14155552671", "hi", from_="+15005550006")
    assert len(script.requests) == 1, "sent exactly once"
    assert fake_sleep.delays == []
    e = caught.value
    assert type(e.cause) is cause
    assert e.__cause__ is e.cause
    assert e.http_status == status
    assert e.to == "+14155552671"
    assert before <= e.attempted_at <= datetime.now(UTC)
    assert e.attempted_at.tzinfo is not None


async def test_create_after_a_429_then_a_timeout_is_unknown(fake_sleep: RecordingSleep) -> None:
    script = Script(error(429, 20429), httpx.ReadTimeout("slow"), ok(201))
    async with make_client(script, fake_sleep) as client:
        with pytest.raises(CreateOutcomeUnknownError):
            await client.create_message("+14155552671", "hi", from_="+15005550006")
    assert len(script.requests) == 2


async def test_create_that_never_connected_raises_a_plain_transport_error(
    fake_sleep: RecordingSleep,
) -> None:
    script = Script(httpx.ConnectError("refused"))
    async with make_client(script, fake_sleep, max_retries=2) as client:
        with pytest.raises(TransportError) as caught:
            await client.create_message("+14155552671", "hi", from_="+15005550006")
    assert not isinstance(caught.value, CreateOutcomeUnknownError)
    assert caught.value.maybe_sent is False
    assert len(script.requests) == 3


@pytest.mark.parametrize("answer", [error(400, 21610), error(401, 20003), error(404, 20404)])
async def test_create_refusals_are_raised_as_is(
    answer: httpx.Response, fake_sleep: RecordingSleep
) -> None:
    script = Script(answer)
    async with make_client(script, fake_sleep) as client:
        with pytest.raises(ProviderError) as caught:
            await client.create_message("+14155552671", "hi", from_="+15005550006")
    assert not isinstance(caught.value, CreateOutcomeUnknownError)
    assert caught.value.code == json.loads(answer.content)["code"]
    assert len(script.requests) == 1


async def test_one_pooled_client_with_timeouts(fake_sleep: RecordingSleep) -> None:
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return ok()

    config = ProviderConfig(
        account_sid=ACCOUNT, password=SECRET, base_url=BASE, connect_timeout=2, read_timeout=9
    )
    client = TwilioClient(config, httpx.MockTransport(answer), sleep=fake_sleep)
    await client.fetch_message(SID)
    await client.fetch_message(SID)
    await client.aclose()
    assert seen[0] == {"connect": 2, "read": 9, "write": 30.0, "pool": 10.0}
    with pytest.raises(RuntimeError):
        await client.fetch_message(SID)
