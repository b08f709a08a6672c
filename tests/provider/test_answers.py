"""The edges of the client and the answer checks (issue 12, items 3, 4, 5, 10 and 11):
``Retry-After`` on every retryable answer, pages that stay in their lane, answers capped while
they stream, values outside the API, and each answer checked against its question."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from notify_tui.domain.faults import FaultKind, Operation
from notify_tui.provider import (
    CreateOutcomeUnknownError,
    ProviderFaultError,
    RefusedError,
    ServerError,
    sandbox_client,
)
from notify_tui.provider.answers import (
    ListQuestion,
    check_created,
    check_fetched,
    check_listed,
)
from notify_tui.provider.client import MESSAGE_ANSWER_MAX, answer_cap
from notify_tui.provider.messages import ProviderMessage
from notify_tui.provider.sandbox import SandboxApp

from .support import RecordingSleep
from .test_client import ACCOUNT, MESSAGES, SID, Script, error, make_client, ok, page

OTHER = "AC" + "f" * 32


# ------------------------------------------------------------------ Retry-After


@pytest.mark.parametrize("status", [429, 503, 500, 502])
async def test_retry_after_is_honoured_on_every_retryable_answer(
    status: int, fake_sleep: RecordingSleep
) -> None:
    script = Script(error(status, 20000 + status, **{"Retry-After": "7"}), ok())
    async with make_client(script, fake_sleep) as client:
        message = await client.fetch_message(SID)
    assert message.sid == SID
    assert fake_sleep.delays == [7.0]


async def test_a_retry_after_beyond_the_time_budget_is_not_waited(
    fake_sleep: RecordingSleep,
) -> None:
    script = Script(error(503, 20503, **{"Retry-After": "120"}), ok())
    async with make_client(script, fake_sleep, max_total_delay=60.0) as client:
        with pytest.raises(ServerError) as caught:
            await client.fetch_message(SID)
    assert caught.value.retry_after == 120.0
    assert fake_sleep.delays == []
    assert len(script.requests) == 1


async def test_retry_afters_share_one_budget(fake_sleep: RecordingSleep) -> None:
    script = Script(
        error(503, 20503, **{"Retry-After": "40"}),
        error(500, 20500, **{"Retry-After": "40"}),
        ok(),
    )
    async with make_client(script, fake_sleep, max_total_delay=60.0) as client:
        with pytest.raises(ServerError):
            await client.fetch_message(SID)
    assert fake_sleep.delays == [40.0]


# ---------------------------------------------------------------- next_page_uri


@pytest.mark.parametrize(
    "uri",
    [
        f"/2010-04-01/Accounts/{OTHER}/Messages.json?Page=1",
        f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json?Page=1",
        f"/2010-04-01/Accounts/{ACCOUNT}/Messages/../../{OTHER}/Messages.json",
        f"https://api.example.test/2010-04-01/Accounts/{OTHER}/Messages.json",
        f"//evil.test/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
        "Messages.json?Page=1",
    ],
)
async def test_a_next_page_outside_the_accounts_messages_is_an_error_naming_it(
    uri: str, fake_sleep: RecordingSleep
) -> None:
    script = Script(page([{"sid": SID}], uri), page([{"sid": SID}], None))
    async with make_client(script, fake_sleep) as client:
        pages = client.list_messages()
        assert len(await anext(pages)) == 1
        with pytest.raises(ProviderFaultError) as caught:
            await anext(pages)
    assert uri in str(caught.value)
    assert caught.value.fault.kind is FaultKind.FOREIGN_PAGE
    assert uri in caught.value.fault.answered
    assert len(script.requests) == 1, "never followed"


async def test_a_next_page_of_our_own_list_is_followed(fake_sleep: RecordingSleep) -> None:
    script = Script(
        page([{"sid": SID}], f"{MESSAGES}?PageSize=1&Page=1&PageToken=x"),
        page([{"sid": SID}], None),
    )
    async with make_client(script, fake_sleep) as client:
        seen = [p async for p in client.list_messages(page_size=1)]
    assert len(seen) == 2


# ----------------------------------------------------------------- answer caps


class Endless(httpx.AsyncByteStream):
    """A body of ``size`` bytes of valid JSON, produced 64 KiB at a time; counts what was read."""

    def __init__(self, head: bytes, size: int) -> None:
        self.head = head
        self.size = size
        self.produced = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        self.produced = len(self.head)
        while self.produced < self.size:
            chunk = b" " * 65536
            self.produced += len(chunk)
            yield chunk


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_an_answer_over_the_cap_is_a_fault_and_is_not_read_further(
    declared: bool, fake_sleep: RecordingSleep
) -> None:
    body = Endless(json.dumps({"sid": SID, "to": "+14155552671"}).encode(), 10 * 1024 * 1024)
    headers = {"Content-Length": str(body.size)} if declared else {}
    script = Script(lambda request: httpx.Response(200, stream=body, headers=headers))
    async with make_client(script, fake_sleep, max_retries=0) as client:
        with pytest.raises(ProviderFaultError) as caught:
            await client.fetch_message(SID)
    assert caught.value.fault.kind is FaultKind.OVERSIZED
    assert caught.value.fault.operation is Operation.FETCH
    assert body.produced <= MESSAGE_ANSWER_MAX + 65536, "stopped reading at the cap"


async def test_a_create_answered_beyond_the_cap_has_an_unknown_outcome(
    fake_sleep: RecordingSleep,
) -> None:
    body = Endless(json.dumps({"sid": SID}).encode(), 10 * 1024 * 1024)
    script = Script(lambda request: httpx.Response(201, stream=body))
    async with make_client(script, fake_sleep) as client:
        with pytest.raises(CreateOutcomeUnknownError) as caught:
            await client.create_message("+14155552671", "hi", from_="+15005550006")
    assert isinstance(caught.value.cause, ProviderFaultError)
    assert caught.value.cause.fault.kind is FaultKind.OVERSIZED
    assert len(script.requests) == 1


async def test_the_largest_legitimate_answers_fit_under_their_caps() -> None:
    """A 1,600-character body of astral characters (each escaped as two ``\\uXXXX``), as the
    sandbox answers it: one message under the message cap, a page of 1,000 under the page cap."""
    app = SandboxApp(seed=3)
    body = "\U0001f600" * 800  # 1,600 UTF-16 units: the most a body holds
    try:
        async with sandbox_client(app) as client:
            await client.create_message("+14155550100", body, from_="+15005550006")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://s") as raw:
                answer = await raw.get(
                    f"/2010-04-01/Accounts/{client.config.account_sid}/Messages.json",
                    auth=(client.config.account_sid, "sandbox"),
                )
    finally:
        app.close()
    one = json.loads(answer.content)["messages"][0]
    ascii_json = json.dumps(one).encode()  # every non-ASCII character escaped
    assert len(ascii_json) <= MESSAGE_ANSWER_MAX
    envelope = dict(json.loads(answer.content), messages=[one] * 1000)
    assert len(json.dumps(envelope).encode()) <= answer_cap(1000)


# ------------------------------------------------------------ values outside the API

GOOD: dict[str, Any] = {
    "sid": SID,
    "account_sid": ACCOUNT,
    "to": "+14155552671",
    "from": "+15005550006",
    "status": "undelivered",
    "error_code": 30003,
    "num_segments": "2",
    "price": "-0.00790",
    "price_unit": "USD",
    "direction": "outbound-api",
}


def test_a_sound_message_has_no_flaws() -> None:
    m = ProviderMessage.from_json(GOOD)
    assert m.flaws == ()
    assert m.error_code == 30003 and m.num_segments == 2 and m.price == Decimal("-0.00790")


@pytest.mark.parametrize(
    ("changes", "field", "shown"),
    [
        ({"status": "exploded"}, "status", "exploded"),
        ({"status": "received"}, "status", "inbound"),
        ({"direction": "inbound"}, "direction", "inbound"),
        ({"error_code": -91905527}, "error_code", "-91905527"),
        ({"error_code": 0}, "error_code", "0"),
        ({"error_code": 3000000000}, "error_code", "3000000000"),
        ({"error_code": "30003x"}, "error_code", "30003x"),
        ({"error_code": 12.5}, "error_code", "12.5"),
        ({"num_segments": "99999999999999999999"}, "num_segments", "99999999999999999999"),
        ({"num_segments": "9" * 5000}, "num_segments", "999"),
        ({"price": "-1e20"}, "price", "-1e20"),
        ({"price": "-0.0000001"}, "price", "-0.0000001"),
        ({"price_unit": "US DOLLARS!"}, "price_unit", "US DOLLARS!"),
        ({"sid": "SM1"}, "sid", "SM1"),
        ({"status": "delivered", "error_code": None, "error_message": "boom"}, "status", "boom"),
        ({"status": "delivered"}, "status", "30003"),
    ],
)
def test_values_outside_the_api_are_flaws_never_reasons(
    changes: dict[str, Any], field: str, shown: str
) -> None:
    m = ProviderMessage.from_json({**GOOD, **changes})
    assert m.flaws, changes
    assert any(shown in flaw for flaw in m.flaws), m.flaws
    classification = m.classify()
    assert classification.reason is None and classification.status.value == "unknown"
    assert m.num_segments in (None, 2)
    assert m.error_code in (None, 30003)
    if field in ("error_code", "num_segments", "price", "price_unit", "sid"):
        assert getattr(m, field) is None


def test_a_create_answer_is_checked_against_the_request() -> None:
    m = ProviderMessage.from_json(GOOD)
    assert check_created(m, to="+14155552671", account_sid=ACCOUNT, from_="+15005550006") == []
    # The provider may write the number its own way: compared as E.164.
    spaced = ProviderMessage.from_json({**GOOD, "to": "+1 415-555-2671"})
    assert check_created(spaced, to="+14155552671", account_sid=ACCOUNT) == []
    kinds = {
        f.kind
        for f in check_created(
            ProviderMessage.from_json({**GOOD, "to": "+19999999999", "account_sid": OTHER}),
            to="+14155552671",
            account_sid=ACCOUNT,
            from_="+15550000000",
        )
    }
    assert kinds == {FaultKind.FOREIGN_TO, FaultKind.FOREIGN_ACCOUNT, FaultKind.FOREIGN_SENDER}
    (no_to,) = check_created(ProviderMessage.from_json({"sid": SID}), to="+1", account_sid=ACCOUNT)
    assert no_to.kind is FaultKind.FOREIGN_TO and no_to.answered == "no to"


def test_a_fetch_answer_is_checked_against_the_sid_asked() -> None:
    m = ProviderMessage.from_json(GOOD)
    assert check_fetched(m, sid=SID, account_sid=ACCOUNT, to="+14155552671") == []
    other = "SM" + "e" * 32
    (fault,) = check_fetched(m, sid=other, account_sid=ACCOUNT, to="+14155552671")
    assert fault.kind is FaultKind.FOREIGN_SID
    assert fault.asked == f"sid {other}" and SID in fault.answered
    (fault,) = check_fetched(m, sid=SID, account_sid=ACCOUNT, to="+14155550000")
    assert fault.kind is FaultKind.FOREIGN_TO


def test_a_listed_message_is_checked_against_the_filter_asked() -> None:
    question = ListQuestion(
        ACCOUNT,
        from_="+15005550006",
        date_sent_after=date(2026, 12, 1),
        date_sent_before=date(2026, 12, 3),
    )
    sent = "Wed, 02 Dec 2026 10:00:00 +0000"
    assert check_listed(ProviderMessage.from_json({**GOOD, "date_sent": sent}), question) == []
    late = ProviderMessage.from_json({**GOOD, "date_sent": "Sat, 05 Dec 2026 10:00:00 +0000"})
    assert [f.kind for f in check_listed(late, question)] == [FaultKind.OUTSIDE_DATES]
    stranger = ProviderMessage.from_json({**GOOD, "from": "+15550009999", "account_sid": OTHER})
    assert {f.kind for f in check_listed(stranger, question)} == {
        FaultKind.FOREIGN_SENDER,
        FaultKind.FOREIGN_ACCOUNT,
    }
    assert question.in_dates(datetime(2026, 12, 3, 23, 59, tzinfo=UTC))


@pytest.mark.parametrize("code", [-91905527, 0, 3000000000, "x1"])
async def test_a_refusal_with_a_code_outside_the_api_keeps_no_code(
    code: object, fake_sleep: RecordingSleep
) -> None:
    body = {"code": code, "message": "nope", "status": 400}
    script = Script(httpx.Response(400, json=body))
    async with make_client(script, fake_sleep) as client:
        with pytest.raises(RefusedError) as caught:
            await client.create_message("+14155552671", "hi", from_="+15005550006")
    assert caught.value.code is None
    assert caught.value.http_status == 400
