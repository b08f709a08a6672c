"""The status callback receiver, in-process over ASGI: what it answers and what the store holds.

Every request is signed as Twilio signs (``twilio_signature``) unless the test forges it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from peewee import Database

from notify_tui.domain.status import Classification, Reason, Status
from notify_tui.provider import SANDBOX_ACCOUNT_SID
from notify_tui.provider.signature import twilio_signature
from notify_tui.services import callbacks as callbacks_service
from notify_tui.services.callbacks import MAX_BODY, CallbackReceiver
from notify_tui.store import callbacks as early_store
from notify_tui.store.campaigns import create_campaign, get_campaign
from notify_tui.store.models import EarlyCallback, Message, ProviderFault, utcnow
from notify_tui.store.sending import NewRecipient, add_recipients, count_submitted
from notify_tui.store.updates import StatusUpdate, apply_updates
from tests.invariants import assert_counters_hold

pytestmark = pytest.mark.usefixtures("workspace")

TOKEN = "tok-123"
PUBLIC = "https://hooks.example.com:8443/twilio/status?team=7"
SENDER = "+15005550006"
PHONE = "+14155550100"


def sid(n: int) -> str:
    return f"SM{n:032x}"


def message_with_sid(number: int = 1, phone: str = PHONE) -> tuple[int, int]:
    """A campaign with one submitted message holding ``sid(number)``: (campaign, message)."""
    campaign_id = create_campaign("Push", "Hello", sender=SENDER)
    add_recipients(campaign_id, [NewRecipient(phone)])
    row = Message.get(Message.campaign == campaign_id)
    now = utcnow()
    Message.update(attempted_at=now).where(Message.id == row.id).execute()

    apply_updates(
        [
            StatusUpdate(
                row.id,
                Classification(Status.UNKNOWN),
                provider_status="queued",
                sid=sid(number),
                send_state="submitted",
                next_poll_at=now,
            )
        ]
    )
    count_submitted(campaign_id, 1)
    return campaign_id, row.id


def form(number: int, status: str, phone: str = PHONE, **extra: str) -> dict[str, str]:
    fields = {
        "MessageSid": sid(number),
        "SmsSid": sid(number),
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": SANDBOX_ACCOUNT_SID,
        "From": SENDER,
        "To": phone,
        "ApiVersion": "2010-04-01",
    }
    fields.update(extra)
    return fields


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    app = CallbackReceiver(public_url=PUBLIC, auth_token=TOKEN, account_sid=SANDBOX_ACCOUNT_SID)
    yield app
    await app.stop()


@pytest.fixture
async def http(receiver: CallbackReceiver) -> AsyncIterator[httpx.AsyncClient]:
    # The receiver sits behind a proxy: it is reached on another host than the public URL's.
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.5:8098") as c:
        yield c


async def post(
    http: httpx.AsyncClient,
    fields: dict[str, str],
    *,
    signature: str | None = "sign",
    url: str = PUBLIC,
    token: str = TOKEN,
) -> httpx.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "sign":
        headers["X-Twilio-Signature"] = twilio_signature(token, url, fields)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return await http.post("/twilio/status?team=7", content=urlencode(fields), headers=headers)


def stored(message_id: int) -> Message:
    return Message.get_by_id(message_id)


async def test_a_signed_delivered_callback_resolves_the_message_as_a_poll_would(
    http: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    campaign_id, message_id = message_with_sid()
    answer = await post(http, form(1, "delivered", RawDlrDoneDate="2312051200"))
    assert answer.status_code == 200
    row = stored(message_id)
    assert (row.status, row.provider_status) == ("delivered", "delivered")
    campaign = get_campaign(campaign_id)
    assert (campaign.delivered, campaign.unknown, campaign.pushed) == (1, 0, 1)
    assert_counters_hold(campaign_id)
    assert receiver.stats["resolved"] == 1


async def test_a_failure_carries_its_reason(http: httpx.AsyncClient) -> None:
    _, message_id = message_with_sid()
    answer = await post(http, form(1, "undelivered", ErrorCode="30003"))
    assert answer.status_code == 200
    row = stored(message_id)
    assert (row.status, row.error_code, row.reason) == (
        "failed",
        30003,
        Reason.UNREACHABLE_HANDSET.value,
    )


@pytest.mark.parametrize(
    "signature", [None, "", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", "not base64 at all"]
)
async def test_a_missing_or_forged_signature_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, receiver: CallbackReceiver, signature: str | None
) -> None:
    campaign_id, message_id = message_with_sid()
    answer = await post(http, form(1, "delivered"), signature=signature)
    assert answer.status_code == 403
    assert stored(message_id).status == "unknown"
    assert get_campaign(campaign_id).delivered == 0
    assert receiver.stats["forged"] == 1


async def test_a_signature_over_the_url_the_receiver_sees_is_refused(
    http: httpx.AsyncClient,
) -> None:
    _, message_id = message_with_sid()
    seen = "http://10.0.0.5:8098/twilio/status?team=7"
    assert (await post(http, form(1, "delivered"), url=seen)).status_code == 403
    assert (await post(http, form(1, "delivered"), token="other")).status_code == 403
    assert stored(message_id).status == "unknown"


async def test_a_replayed_callback_with_a_changed_field_is_refused(
    http: httpx.AsyncClient,
) -> None:
    _, message_id = message_with_sid()
    fields = form(1, "undelivered", ErrorCode="30003")
    signature = twilio_signature(TOKEN, PUBLIC, fields)
    changed = {**fields, "MessageStatus": "delivered", "ErrorCode": ""}
    assert (await post(http, changed, signature=signature)).status_code == 403
    assert (await post(http, fields, signature=signature)).status_code == 200
    assert (await post(http, fields, signature=signature)).status_code == 200  # a repeat
    assert stored(message_id).status == "failed"


async def test_another_accounts_callback_is_refused(
    http: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    _, message_id = message_with_sid()
    fields = form(1, "delivered", AccountSid="AC" + "f" * 32)
    assert (await post(http, fields)).status_code == 403
    assert stored(message_id).status == "unknown"
    assert receiver.stats["foreign_account"] == 1


async def test_an_oversized_body_is_refused_unread(
    http: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    _, message_id = message_with_sid()
    fields = form(1, "delivered", Padding="x" * MAX_BODY)
    assert (await post(http, fields)).status_code == 413
    assert stored(message_id).status == "unknown"
    assert receiver.stats["oversized"] == 1


async def test_only_the_public_urls_path_answers(http: httpx.AsyncClient) -> None:
    assert (await http.post("/other", content=b"")).status_code == 404
    assert (await http.get("/twilio/status")).status_code == 405


async def test_a_late_sent_after_delivered_and_repeats_change_nothing(
    http: httpx.AsyncClient,
) -> None:
    campaign_id, message_id = message_with_sid()
    for status in ("delivered", "sent", "queued", "delivered", "sent"):
        assert (await post(http, form(1, status))).status_code == 200
    row = stored(message_id)
    assert (row.status, row.provider_status) == ("delivered", "delivered")
    campaign = get_campaign(campaign_id)
    assert (campaign.delivered, campaign.unknown, campaign.pushed) == (1, 0, 1)
    assert_counters_hold(campaign_id)


async def test_an_intermediate_status_leaves_the_message_to_push_for_the_grace(
    http: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    _, message_id = message_with_sid()
    before = utcnow()
    assert (await post(http, form(1, "sent"))).status_code == 200
    row = stored(message_id)
    assert (row.status, row.provider_status) == ("unknown", "sent")
    assert row.next_poll_at >= before + receiver.grace


async def test_a_callback_about_another_recipient_is_a_fault_never_applied(
    http: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    campaign_id, message_id = message_with_sid()
    answer = await post(http, form(1, "undelivered", phone="+14155550199", ErrorCode="30005"))
    assert answer.status_code == 200
    assert stored(message_id).status == "unknown"
    fault = ProviderFault.get()
    assert (fault.operation, fault.kind, fault.message_id) == ("callback", "foreign to", message_id)
    assert get_campaign(campaign_id).failed == 0


async def test_a_callback_before_its_message_is_kept_then_applied(
    http: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    answer = await post(http, form(9, "delivered"))
    assert answer.status_code == 200
    assert Message.select().where(Message.sid == sid(9)).count() == 0
    assert early_store.early_count() == 1
    campaign_id, message_id = message_with_sid(9)  # the create's answer is recorded now
    await receiver.stop()  # its writer looks every second: this test looks itself, once
    await receiver.settle_early()
    assert stored(message_id).status == "delivered"
    assert early_store.early_count() == 0
    assert get_campaign(campaign_id).pushed == 1


async def test_a_callback_whose_message_never_appears_is_dropped_as_foreign(
    http: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    assert (await post(http, form(9, "delivered"))).status_code == 200
    await receiver.stop()  # its writer looks every second: this test looks itself, once
    receiver.early_ttl = timedelta(0)
    await receiver.settle_early()
    assert early_store.early_count() == 0
    assert Message.select().count() == 0
    fault = ProviderFault.get()
    assert (fault.operation, fault.kind, fault.sid) == ("callback", "foreign sid", sid(9))
    assert receiver.stats["foreign"] == 1


async def test_kept_callbacks_are_bounded(
    http: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    receiver.early_limit = 2  # the callback_early_limit setting
    for n in range(4):
        assert (await post(http, form(100 + n, "delivered"))).status_code == 200
    assert EarlyCallback.select().count() == 2
    assert receiver.stats["dropped"] == 2


async def test_stopping_writes_what_is_queued_before_it_stops(
    http: httpx.AsyncClient, receiver: CallbackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = [message_with_sid(n)[1] for n in range(1, 6)]
    gate = threading.Event()
    apply = callbacks_service.apply_callbacks

    def held(*args: Any, **kwargs: Any) -> Any:
        gate.wait(30)  # the first batch is being written when the stop comes
        return apply(*args, **kwargs)

    monkeypatch.setattr(callbacks_service, "apply_callbacks", held)
    posts = [asyncio.create_task(post(http, form(n, "delivered"))) for n in range(1, 6)]
    while receiver.stats["received"] < len(posts):
        await asyncio.sleep(0.01)
    stopping = asyncio.create_task(receiver.stop())
    await asyncio.sleep(0)  # the stop has begun
    gate.set()
    await stopping
    answers = await asyncio.gather(*posts)
    assert [a.status_code for a in answers] == [200] * len(posts)
    assert [stored(m).status for m in messages] == ["delivered"] * len(messages)


async def test_a_burst_of_bad_requests_never_reaches_the_store_or_the_writer(
    http: httpx.AsyncClient, receiver: CallbackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What makes bad requests unable to slow good ones: each is judged on the event loop from
    its headers and body alone (no SQL statement, no place in the writer's batches), so a good
    callback's commit never waits for one."""
    messages = {n: message_with_sid(n)[1] for n in range(1, 21)}
    statements: list[str] = []
    execute_sql = Database.execute_sql

    def counted(self: Database, sql: str, *args: Any, **kwargs: Any) -> Any:
        statements.append(sql)
        return execute_sql(self, sql, *args, **kwargs)

    monkeypatch.setattr(Database, "execute_sql", counted)
    written: list[str] = []
    apply = callbacks_service.apply_callbacks

    def recorded(batch: Any, **kwargs: Any) -> Any:
        written.extend(params["MessageSid"] for params in batch)
        return apply(batch, **kwargs)

    monkeypatch.setattr(callbacks_service, "apply_callbacks", recorded)

    def bad(n: int) -> Any:
        kind = n % 5
        if kind == 0:
            return post(http, form(n % 20 + 1, "failed"), signature="0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
        if kind == 1:
            return post(http, form(n % 20 + 1, "failed"), token="an attacker's")
        if kind == 2:
            return post(http, form(n % 20 + 1, "failed", AccountSid="AC" + "e" * 32))
        if kind == 3:
            return post(http, form(n % 20 + 1, "failed", Padding="x" * MAX_BODY))
        return http.post("/twilio/status", content=b"MessageSid=%ff%fe", headers={})

    bad_answers = await asyncio.gather(*(bad(n) for n in range(300)))
    assert {a.status_code for a in bad_answers} == {403, 413}
    assert statements == [] and written == []

    # Now good and bad together: only the good reach the writer, every one of them written.
    answers = await asyncio.gather(
        *(bad(n) for n in range(300)),
        *(post(http, form(n, "delivered")) for n in messages),
    )
    assert [a.status_code for a in answers[300:]] == [200] * len(messages)
    assert sorted(written) == sorted(sid(n) for n in messages)
    assert {stored(m).status for m in messages.values()} == {"delivered"}
    assert receiver.stats["forged"] == 2 * 180 and receiver.stats["oversized"] == 2 * 60


async def test_each_campaign_says_how_its_own_statuses_arrived(http: httpx.AsyncClient) -> None:
    """Counted from each message's ``resolved_by``: push, pull, both; a status settled at send
    time (a refused create) is neither."""
    from notify_tui.commands.campaigns import campaign_json

    pushed_only, first = message_with_sid(1, "+14155550101")
    pulled_only, second = message_with_sid(2, "+14155550102")
    both, third = message_with_sid(3, "+14155550103")
    add_recipients(both, [NewRecipient("+14155550104")])
    add_recipients(pushed_only, [NewRecipient("+14155550105")])
    fourth = Message.get(Message.phone == "+14155550104").id
    settled = Message.get(Message.phone == "+14155550105").id
    refused = Classification(Status.FAILED, Reason.INVALID_NUMBER, code=21211)
    apply_updates([StatusUpdate(settled, refused, provider_status="failed")])  # at send
    delivered = Classification(Status.DELIVERED)
    apply_updates([StatusUpdate(second, delivered, provider_status="delivered")], via="pull")
    apply_updates([StatusUpdate(fourth, delivered, provider_status="delivered")], via="pull")
    for number, phone in ((1, "+14155550101"), (3, "+14155550103")):
        assert (await post(http, form(number, "delivered", phone=phone))).status_code == 200

    by = {
        campaign_id: (c["statuses_by"], c["pushed"], c["pulled"])
        for campaign_id in (pushed_only, pulled_only, both)
        if (c := campaign_json(get_campaign(campaign_id)))
    }
    assert by == {pushed_only: ("push", 1, 0), pulled_only: ("pull", 0, 1), both: ("both", 1, 1)}
    kinds = dict(Message.select(Message.id, Message.resolved_by).tuples())
    assert [kinds[m] for m in (first, second, third, fourth, settled)] == [
        "push",
        "pull",
        "push",
        "pull",
        None,
    ]
    assert_counters_hold(pushed_only, pulled_only, both)
