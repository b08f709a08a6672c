"""Scheduling, cancelling, redacting and deleting on the sandbox; media and content creates."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from notify_tui.provider import InvalidResponseError, ProviderConfig, RefusedError, TwilioClient
from notify_tui.provider.sandbox import SandboxApp

from .support import ACCOUNT, FROM, MESSAGES_PATH, FakeClock, number_with

SERVICE = "MG" + "ab" * 16
CONTENT = "HX" + "cd" * 16
ERROR_KEYS = {"code", "message", "more_info", "status"}


def iso(clock: FakeClock, ahead: timedelta) -> str:
    return (datetime.fromtimestamp(clock.now, UTC) + ahead).strftime("%Y-%m-%dT%H:%M:%SZ")


def message_path(sid: str) -> str:
    return f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json"


async def schedule(
    raw: httpx.AsyncClient, clock: FakeClock, to: str, ahead: timedelta = timedelta(hours=1)
) -> dict[str, object]:
    response = await raw.post(
        MESSAGES_PATH,
        data={
            "To": to,
            "MessagingServiceSid": SERVICE,
            "Body": "later",
            "ScheduleType": "fixed",
            "SendAt": iso(clock, ahead),
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_scheduled_message_waits_for_its_time_then_goes_on(
    raw: httpx.AsyncClient, clock: FakeClock
) -> None:
    to = number_with("delivered")
    m = await schedule(raw, clock, to)
    assert m["status"] == "scheduled"
    assert (m["price"], m["date_sent"], m["messaging_service_sid"]) == (None, None, SERVICE)

    clock.advance(3599)
    assert (await raw.get(message_path(str(m["sid"])))).json()["status"] == "scheduled"
    clock.advance(1)
    assert (await raw.get(message_path(str(m["sid"])))).json()["status"] == "queued"
    clock.advance(3600)
    later = (await raw.get(message_path(str(m["sid"])))).json()
    assert later["status"] == "delivered"
    assert later["date_sent"] is not None and later["price"] is not None
    assert later["from"] is not None


async def test_scheduling_without_a_messaging_service_is_dropped_and_sent_at_once(
    raw: httpx.AsyncClient, clock: FakeClock
) -> None:
    response = await raw.post(
        MESSAGES_PATH,
        data={
            "To": number_with("delivered"),
            "From": FROM,
            "Body": "now",
            "ScheduleType": "whatever",
            "SendAt": iso(clock, timedelta(days=2)),
        },
    )
    assert response.status_code == 201
    assert response.json()["status"] == "queued"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"ScheduleType": "fixed"}, 35111),
        ({"ScheduleType": "fixed", "SendAt": ""}, 35111),
        ({"ScheduleType": "fixed", "SendAt": "tomorrow"}, 35114),
        ({"ScheduleType": "fixed", "SendAt": "2030-01-01T09:00:00"}, 35114),  # no zone
        ({"ScheduleType": "fixed", "SendAt": "+14min"}, 35114),
        ({"ScheduleType": "fixed", "SendAt": "+36d"}, 35114),
        ({"ScheduleType": "fixed", "SendAt": "-1h"}, 35114),
        ({"ScheduleType": "fixed", "SendAt": "99999-01-01T00:00:00Z"}, 35114),
        ({"ScheduleType": "optimize", "SendAt": "+1h"}, 35126),
    ],
)
async def test_scheduling_mistakes_are_refused_like_twilio(
    fields: dict[str, str],
    code: int,
    raw: httpx.AsyncClient,
    clock: FakeClock,
    app: SandboxApp,
) -> None:
    relative = {
        "+14min": timedelta(minutes=14, seconds=59),
        "+36d": timedelta(days=35, seconds=1),
        "-1h": timedelta(hours=-1),
        "+1h": timedelta(hours=1),
    }
    send_at = fields.get("SendAt", "")
    if send_at in relative:
        fields = {**fields, "SendAt": iso(clock, relative[send_at])}
    form = {"To": number_with("delivered"), "MessagingServiceSid": SERVICE, "Body": "x", **fields}
    response = await raw.post(MESSAGES_PATH, data=form)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert (body["code"], body["status"]) == (code, 400)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert app.stats()["messages"] == 0


@pytest.mark.parametrize("ahead", [timedelta(minutes=15), timedelta(days=35)])
async def test_the_edges_of_the_scheduling_window_are_accepted(
    ahead: timedelta, raw: httpx.AsyncClient, clock: FakeClock
) -> None:
    assert (await schedule(raw, clock, number_with("delivered"), ahead))["status"] == "scheduled"


async def test_cancel_works_only_while_scheduled(
    raw: httpx.AsyncClient, clock: FakeClock, app: SandboxApp
) -> None:
    m = await schedule(raw, clock, number_with("delivered"))
    path = message_path(str(m["sid"]))
    clock.advance(60)
    canceled = await raw.post(path, data={"Status": "canceled"})
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    clock.advance(7200)  # long past its SendAt: it never went out
    after = (await raw.get(path)).json()
    assert (after["status"], after["price"], after["date_sent"]) == ("canceled", None, None)
    again = await raw.post(path, data={"Status": "canceled"})
    assert (again.status_code, again.json()["code"]) == (400, 30409)

    sent = await raw.post(
        MESSAGES_PATH, data={"To": number_with("delivered"), "From": FROM, "Body": "now"}
    )
    refused = await raw.post(message_path(sent.json()["sid"]), data={"Status": "canceled"})
    assert (refused.status_code, refused.json()["code"]) == (400, 30409)
    assert app.stats()["canceled"] == 1


@pytest.mark.parametrize(
    "form", [{}, {"Status": "delivered"}, {"Body": "new text"}, {"Status": "sent", "Body": ""}]
)
async def test_an_update_other_than_cancel_or_redact_is_refused(
    form: dict[str, str], raw: httpx.AsyncClient, clock: FakeClock
) -> None:
    sent = await raw.post(
        MESSAGES_PATH, data={"To": number_with("delivered"), "From": FROM, "Body": "keep"}
    )
    clock.advance(60)
    response = await raw.post(message_path(sent.json()["sid"]), data=form)
    assert response.status_code == 400
    assert set(response.json()) == ERROR_KEYS
    assert (await raw.get(message_path(sent.json()["sid"]))).json()["body"] == "keep"


async def test_redact_empties_the_body_of_a_sent_message_only(
    raw: httpx.AsyncClient, clock: FakeClock
) -> None:
    sent = (
        await raw.post(
            MESSAGES_PATH, data={"To": number_with("delivered"), "From": FROM, "Body": "secret"}
        )
    ).json()
    path = message_path(sent["sid"])
    early = await raw.post(path, data={"Body": ""})  # still queued
    assert early.status_code == 400
    clock.advance(60)
    redacted = await raw.post(path, data={"Body": ""})
    assert redacted.status_code == 200
    assert (redacted.json()["body"], redacted.json()["status"]) == ("", "delivered")
    assert (await raw.get(path)).json()["body"] == ""


async def test_delete_answers_204_then_the_message_is_gone(
    raw: httpx.AsyncClient, clock: FakeClock, app: SandboxApp
) -> None:
    to = number_with("delivered")
    sent = (await raw.post(MESSAGES_PATH, data={"To": to, "From": FROM, "Body": "x"})).json()
    path = message_path(sent["sid"])
    in_flight = await raw.delete(path)
    assert (in_flight.status_code, in_flight.json()["code"]) == (400, 20009)
    clock.advance(60)
    gone = await raw.delete(path)
    assert (gone.status_code, gone.content) == (204, b"")
    assert "content-type" not in gone.headers
    assert (await raw.get(path)).status_code == 404
    assert (await raw.delete(path)).status_code == 404
    listed = (await raw.get(MESSAGES_PATH, params={"To": to})).json()["messages"]
    assert listed == []
    assert app.stats()["deleted"] == 1


async def test_a_media_only_create_is_an_mms(raw: httpx.AsyncClient, clock: FakeClock) -> None:
    response = await raw.post(
        MESSAGES_PATH,
        data={
            "To": number_with("delivered"),
            "From": FROM,
            "MediaUrl": ["https://example.com/a.png", "https://example.com/b.jpg"],
        },
    )
    assert response.status_code == 201, response.text
    m = response.json()
    assert m["sid"].startswith("MM") and len(m["sid"]) == 34
    assert (m["body"], m["num_media"], m["num_segments"]) == ("", "2", "1")
    clock.advance(60)
    assert (await raw.get(message_path(m["sid"]))).json()["price"] == "-0.02000"


async def test_a_content_only_create_is_accepted(raw: httpx.AsyncClient) -> None:
    response = await raw.post(
        MESSAGES_PATH,
        data={
            "To": number_with("delivered"),
            "MessagingServiceSid": SERVICE,
            "ContentSid": CONTENT,
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["sid"].startswith("SM")


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"MediaUrl": "ftp://example.com/a.png"}, 21620),
        ({"MediaUrl": "not a url"}, 21620),
        ({"MediaUrl": "", "Body": "hi"}, 21620),  # found by the conformance test
        ({"MediaUrl": [f"https://example.com/{i}.png" for i in range(11)]}, 21623),
        ({"ContentSid": "HX1"}, 20001),
    ],
)
async def test_bad_media_and_content_are_refused(
    extra: dict[str, object], code: int, raw: httpx.AsyncClient
) -> None:
    form = {"To": number_with("delivered"), "From": FROM, **extra}
    response = await raw.post(MESSAGES_PATH, data=form)
    assert (response.status_code, response.json()["code"]) == (400, code)


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"RiskCheck": "AAA"}, 20001),  # found by the conformance test
        ({"ContentRetention": "forever"}, 30029),
        ({"AddressRetention": ""}, 30030),
        ({"ProvideFeedback": "maybe"}, 20001),
        ({"ValidityPeriod": "1.5"}, 20001),
        ({"MaxPrice": "cheap"}, 20001),
        ({"ApplicationSid": "AP1"}, 20001),
    ],
)
async def test_typed_parameters_of_the_wrong_type_are_refused(
    extra: dict[str, str], code: int, raw: httpx.AsyncClient
) -> None:
    form = {"To": number_with("delivered"), "From": FROM, "Body": "x", **extra}
    response = await raw.post(MESSAGES_PATH, data=form)
    assert (response.status_code, response.json()["code"]) == (400, code)


async def test_typed_parameters_of_the_right_type_are_accepted(raw: httpx.AsyncClient) -> None:
    form = {
        "To": number_with("delivered"),
        "From": FROM,
        "Body": "x",
        "RiskCheck": "disable",
        "ContentRetention": "retain",
        "ProvideFeedback": "True",
        "ValidityPeriod": "600",
        "MaxPrice": "0.05",
        "ApplicationSid": "AP" + "0" * 32,
    }
    assert (await raw.post(MESSAGES_PATH, data=form)).status_code == 201


async def test_too_many_form_fields_is_a_400_not_a_crash(raw: httpx.AsyncClient) -> None:
    form = {f"X{i}": "1" for i in range(101)}
    response = await raw.post(MESSAGES_PATH, data=form)
    assert (response.status_code, response.json()["code"]) == (400, 20001)


async def test_the_client_schedules_and_cancels(client: TwilioClient, clock: FakeClock) -> None:
    when = datetime.fromtimestamp(clock.now, UTC) + timedelta(hours=2)
    m = await client.create_message(
        number_with("delivered"), "later", messaging_service_sid=SERVICE, send_at=when
    )
    assert (m.status, m.messaging_service_sid) == ("scheduled", SERVICE)
    assert m.sid is not None
    canceled = await client.cancel_message(m.sid)
    assert (canceled.sid, canceled.status) == (m.sid, "canceled")
    # Cancelling again is not an error: the message is cancelled, whoever did it.
    assert (await client.cancel_message(m.sid)).status == "canceled"
    assert canceled.classify().reason is not None


async def test_the_client_refuses_to_cancel_a_message_that_went_out(
    client: TwilioClient, clock: FakeClock
) -> None:
    m = await client.create_message(number_with("delivered"), "now", from_=FROM)
    assert m.sid is not None
    clock.advance(60)
    with pytest.raises(RefusedError) as caught:
        await client.cancel_message(m.sid)
    assert caught.value.code == 30409


async def test_the_client_never_asks_to_schedule_without_a_service(client: TwilioClient) -> None:
    with pytest.raises(ValueError, match="messaging_service_sid"):
        await client.create_message(
            "+14155552671", "x", from_=FROM, send_at=datetime.now(UTC) + timedelta(hours=1)
        )
    with pytest.raises(ValueError, match="aware"):
        await client.create_message(
            "+14155552671", "x", messaging_service_sid=SERVICE, send_at=datetime(2030, 1, 1)
        )


async def test_a_state_file_of_the_first_version_is_upgraded(
    make_app: Callable[..., SandboxApp], tmp_path: Path, raw: httpx.AsyncClient
) -> None:
    path = tmp_path / "old.sqlite3"
    first = make_app(state_path=path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=first), base_url="http://sandbox.invalid"
    ) as c:
        sid = (
            await c.post(MESSAGES_PATH, data={"To": "+14155552671", "From": FROM, "Body": "x"})
        ).json()["sid"]
    first.close()
    db = sqlite3.connect(path)  # turn it back into a version 1 file
    for column in ("send_at_us", "canceled_us", "num_media", "deleted"):
        db.execute(f"ALTER TABLE messages DROP COLUMN {column}")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()

    second = make_app(state_path=path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=second), base_url="http://sandbox.invalid"
    ) as c:
        assert (await c.get(message_path(sid))).json()["body"] == "x"


@pytest.mark.parametrize(
    "callback",
    [
        "http://exa mple.com/status",
        "https://example.com/" + "a" * 4000,
        "http:///no-host",
        "https://example.com/\x00",
    ],
)
async def test_a_status_callback_the_sandbox_could_not_call_is_refused(
    callback: str, raw: httpx.AsyncClient
) -> None:
    form = {"To": number_with("delivered"), "From": FROM, "Body": "x", "StatusCallback": callback}
    response = await raw.post(MESSAGES_PATH, data=form)
    assert (response.status_code, response.json()["code"]) == (400, 21609)


async def test_a_cancel_answered_about_another_message_is_not_taken() -> None:
    asked, other = "SM" + "1" * 32, "SM" + "2" * 32

    def provider(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"sid": other, "status": "canceled"})

    config = ProviderConfig(account_sid=ACCOUNT, password="x", base_url="https://api.test")
    async with TwilioClient(config, httpx.MockTransport(provider), max_retries=0) as client:
        with pytest.raises(InvalidResponseError, match=asked):
            await client.cancel_message(asked)
