"""Listing on the sandbox: Twilio's envelope, page tokens, filters, order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from notify_tui.provider import TwilioClient, sandbox_client
from notify_tui.provider.sandbox import SandboxApp

from .support import FROM, MESSAGES_PATH, FakeClock, number_with

ENVELOPE = {
    "messages",
    "next_page_uri",
    "previous_page_uri",
    "first_page_uri",
    "uri",
    "page",
    "page_size",
    "start",
    "end",
}
NUMBERS = [number_with("delivered", prefix=f"+1{area}555") for area in (202, 303, 404, 505, 617)]


async def create(raw: httpx.AsyncClient, to: str, sender: str = FROM) -> str:
    response = await raw.post(MESSAGES_PATH, data={"To": to, "From": sender, "Body": "hi"})
    assert response.status_code == 201, response.text
    sid: str = response.json()["sid"]
    return sid


def query(uri: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(uri).query)


async def test_pages_follow_next_page_uri_with_page_tokens(
    raw: httpx.AsyncClient, clock: FakeClock
) -> None:
    sids = []
    for i in range(7):
        sids.append(await create(raw, NUMBERS[i % 5]))
        clock.advance(2)
    bodies: list[dict[str, Any]] = []
    url: str | None = f"{MESSAGES_PATH}?PageSize=3"
    while url:
        response = await raw.get(url)
        assert response.status_code == 200
        bodies.append(response.json())
        url = bodies[-1]["next_page_uri"]
    assert [set(b) for b in bodies] == [ENVELOPE] * 3
    assert [len(b["messages"]) for b in bodies] == [3, 3, 1]
    assert [b["page"] for b in bodies] == [0, 1, 2]
    assert [(b["start"], b["end"]) for b in bodies] == [(0, 2), (3, 5), (6, 6)]
    assert {b["page_size"] for b in bodies} == {3}
    listed = [m["sid"] for b in bodies for m in b["messages"]]
    assert listed == sids[::-1], "newest first, each message once"
    assert bodies[0]["previous_page_uri"] is None
    assert bodies[2]["next_page_uri"] is None
    for b in bodies:
        assert b["first_page_uri"] == f"{MESSAGES_PATH}?PageSize=3&Page=0"
    second = query(bodies[0]["next_page_uri"])
    assert second["PageSize"] == ["3"] and second["Page"] == ["1"]
    assert second["PageToken"][0].startswith("PA")
    assert bodies[1]["uri"] == bodies[0]["next_page_uri"]


async def test_previous_page_uri_leads_back(raw: httpx.AsyncClient, clock: FakeClock) -> None:
    for i in range(7):
        await create(raw, NUMBERS[i % 5])
        clock.advance(2)
    first = (await raw.get(f"{MESSAGES_PATH}?PageSize=3")).json()
    second = (await raw.get(first["next_page_uri"])).json()
    third = (await raw.get(second["next_page_uri"])).json()
    back_to_second = (await raw.get(third["previous_page_uri"])).json()
    assert back_to_second["messages"] == second["messages"]
    assert back_to_second["page"] == 1
    back_to_first = (await raw.get(back_to_second["previous_page_uri"])).json()
    assert back_to_first["messages"] == first["messages"]
    assert back_to_first["previous_page_uri"] is None
    assert back_to_first["next_page_uri"] is not None


async def test_new_messages_do_not_shift_a_listing_in_progress(
    raw: httpx.AsyncClient, clock: FakeClock
) -> None:
    for i in range(4):
        await create(raw, NUMBERS[i])
        clock.advance(2)
    first = (await raw.get(f"{MESSAGES_PATH}?PageSize=2")).json()
    await create(raw, NUMBERS[4])
    second = (await raw.get(first["next_page_uri"])).json()
    sids = [m["sid"] for m in first["messages"] + second["messages"]]
    assert len(set(sids)) == 4


@pytest.mark.parametrize("size", ["0", "1001", "abc", "-1", "²", "٣"])
async def test_page_size_is_1_to_1000(size: str, raw: httpx.AsyncClient) -> None:
    response = await raw.get(MESSAGES_PATH, params={"PageSize": size})
    assert response.status_code == 400
    assert response.json()["code"] == 20001


@pytest.mark.parametrize("page", ["-1", "x", "1.5", ""])
async def test_page_is_a_whole_number(page: str, raw: httpx.AsyncClient) -> None:
    """Found by the conformance test: ``Page=-1`` was read as page 0."""
    response = await raw.get(MESSAGES_PATH, params={"Page": page})
    assert (response.status_code, response.json()["code"]) == (400, 20001)


async def test_default_page_size_is_50(raw: httpx.AsyncClient, clock: FakeClock) -> None:
    for _ in range(51):
        await create(raw, NUMBERS[0])
    body = (await raw.get(MESSAGES_PATH)).json()
    assert body["page_size"] == 50
    assert len(body["messages"]) == 50
    assert body["next_page_uri"] is not None


async def test_a_bad_page_token_is_refused(raw: httpx.AsyncClient) -> None:
    response = await raw.get(MESSAGES_PATH, params={"PageToken": "PAnothex"})
    assert response.status_code == 400


async def test_filters_by_to_and_from(raw: httpx.AsyncClient) -> None:
    await create(raw, NUMBERS[0])
    await create(raw, NUMBERS[0], sender="+15005550007")
    await create(raw, NUMBERS[1])
    to = (await raw.get(MESSAGES_PATH, params={"To": NUMBERS[0]})).json()
    assert [m["to"] for m in to["messages"]] == [NUMBERS[0]] * 2
    assert query(to["uri"])["To"] == [NUMBERS[0]]
    both = (await raw.get(MESSAGES_PATH, params={"To": NUMBERS[0], "From": FROM})).json()
    assert [(m["to"], m["from"]) for m in both["messages"]] == [(NUMBERS[0], FROM)]


async def test_filters_by_date_sent(make_app: Callable[..., SandboxApp], clock: FakeClock) -> None:
    app = make_app()
    day1 = datetime.fromtimestamp(clock.now, UTC).date()
    day2, day3 = day1 + timedelta(days=1), day1 + timedelta(days=2)
    async with sandbox_client(app) as client:
        first = await client.create_message(NUMBERS[0], "day 1", from_=FROM)
        clock.advance(24 * 3600)
        second = await client.create_message(NUMBERS[1], "day 2", from_=FROM)
        clock.advance(24 * 3600)
        third = await client.create_message(NUMBERS[2], "day 3", from_=FROM)
        clock.advance(10)
        queued = await client.create_message(NUMBERS[3], "not sent yet", from_=FROM)

        async def sids(**filters: Any) -> list[str | None]:
            return [m.sid async for page in client.list_messages(**filters) for m in page]

        assert await sids(date_sent=day2) == [second.sid]
        assert await sids(date_sent_before=day2) == [second.sid, first.sid], "on or before"
        assert await sids(date_sent_after=day2) == [third.sid, second.sid], "on or after"
        assert await sids(date_sent_after=day2, date_sent_before=day2) == [second.sid]
        assert await sids(date_sent=day3, to=NUMBERS[2]) == [third.sid]
        assert await sids(date_sent=day3, to=NUMBERS[1]) == []
        assert await sids(date_sent=day1 - timedelta(days=1)) == []
        # A queued message has no date_sent yet: only unfiltered lists show it.
        assert await sids() == [queued.sid, third.sid, second.sid, first.sid]
        clock.advance(10)
        assert await sids(date_sent=day3) == [queued.sid, third.sid]


async def test_date_sent_keys_arrive_decoded(raw: httpx.AsyncClient, clock: FakeClock) -> None:
    await create(raw, NUMBERS[0])
    clock.advance(10)
    today = datetime.fromtimestamp(clock.now, UTC).date().isoformat()
    url = f"{MESSAGES_PATH}?DateSent%3E={today}&DateSent%3C={today}"
    body = (await raw.get(url)).json()
    assert len(body["messages"]) == 1
    assert query(body["uri"]) == {
        "DateSent<": [today],
        "DateSent>": [today],
        "PageSize": ["50"],
        "Page": ["0"],
    }
    assert "DateSent%3C" in body["uri"]
    bad = await raw.get(MESSAGES_PATH, params={"DateSent": "yesterday"})
    assert bad.status_code == 400


async def test_client_reads_every_page(client: TwilioClient, clock: FakeClock) -> None:
    created = set()
    for i in range(25):
        m = await client.create_message(NUMBERS[i % 5], f"n{i}", from_=FROM)
        created.add(m.sid)
        clock.advance(0.5)
    pages = [page async for page in client.list_messages(page_size=10)]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert {m.sid for p in pages for m in p} == created
