"""Reading the provider's Message tolerantly: nulls, garbage and unknown fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from notify_tui.domain.status import Reason, Status
from notify_tui.provider import InvalidResponseError, ProviderError, ProviderMessage

TWILIO_MESSAGE: dict[str, Any] = {
    "account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "api_version": "2010-04-01",
    "body": "testing",
    "date_created": "Fri, 24 May 2019 17:44:46 +0000",
    "date_sent": "Fri, 24 May 2019 17:44:50 +0000",
    "date_updated": "Fri, 24 May 2019 17:44:50 -0700",
    "direction": "outbound-api",
    "error_code": 30003,
    "error_message": "Unreachable destination handset",
    "from": "+12019235161",
    "messaging_service_sid": "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "num_media": "0",
    "num_segments": "3",
    "price": "-0.00750",
    "price_unit": "USD",
    "sid": "SMded05904ccb347238880ca9264e8fe1c",
    "status": "undelivered",
    "subresource_uris": {"media": "/x/Media.json"},
    "to": "+18182008801",
    "uri": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMded.json",
}

FIELDS = [
    "sid",
    "status",
    "error_code",
    "error_message",
    "to",
    "from_",
    "body",
    "num_segments",
    "price",
    "price_unit",
    "date_created",
    "date_sent",
    "date_updated",
    "messaging_service_sid",
    "uri",
]
WIRE_NAMES = {name: ("from" if name == "from_" else name) for name in FIELDS}


def test_reads_every_field_of_a_twilio_message() -> None:
    m = ProviderMessage.from_json(TWILIO_MESSAGE)
    assert m.sid == "SMded05904ccb347238880ca9264e8fe1c"
    assert m.status == "undelivered"
    assert m.error_code == 30003
    assert m.error_message == "Unreachable destination handset"
    assert (m.to, m.from_, m.body) == ("+18182008801", "+12019235161", "testing")
    assert m.num_segments == 3
    assert m.price == Decimal("-0.00750")
    assert m.price is not None and m.price.is_signed()
    assert m.price_unit == "USD"
    assert m.date_created == datetime(2019, 5, 24, 17, 44, 46, tzinfo=UTC)
    assert m.date_sent == datetime(2019, 5, 24, 17, 44, 50, tzinfo=UTC)
    assert m.date_updated is not None
    assert m.date_updated.utcoffset() == timedelta(hours=-7)
    assert m.date_updated == datetime(2019, 5, 25, 0, 44, 50, tzinfo=UTC)
    assert m.messaging_service_sid == "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    assert m.uri == TWILIO_MESSAGE["uri"]


def test_classifies_through_the_domain_rules() -> None:
    seen = ProviderMessage.from_json(TWILIO_MESSAGE).classify()
    assert seen.status is Status.FAILED
    assert seen.reason is Reason.UNREACHABLE_HANDSET
    assert ProviderMessage(status="sent").classify().status is Status.UNKNOWN


def test_null_in_every_field_reads_as_none() -> None:
    m = ProviderMessage.from_json(dict.fromkeys(TWILIO_MESSAGE))
    assert all(getattr(m, name) is None for name in FIELDS)


def test_an_empty_object_reads_as_all_none() -> None:
    assert ProviderMessage.from_json({}) == ProviderMessage()


GARBAGE: list[object] = [
    True,
    [],
    {"a": 1},
    "",
    "garbage",
    "NaN",
    "Infinity",
    "-",
    "Fri, 99 Foo 2019 99:99:99 +0000",
    "x" * 10_000,
]
NOT_A_COUNT = [*GARBAGE, -1, 1.5, float("nan"), "1.5", "-2"]
NOT_A_PRICE = [*GARBAGE, float("nan"), float("inf"), "1,5"]
NOT_A_DATE = [*GARBAGE, 12, 1.5, "2023-08-24T05:01:45Z"]
CASES = [
    *[("num_segments", v) for v in NOT_A_COUNT],
    *[("price", v) for v in NOT_A_PRICE],
    *[(field, v) for field in ("date_created", "date_sent", "date_updated") for v in NOT_A_DATE],
]


@pytest.mark.parametrize(("field", "value"), CASES, ids=lambda v: repr(v)[:30])
def test_garbage_in_a_typed_field_reads_as_none(field: str, value: object) -> None:
    m = ProviderMessage.from_json({**TWILIO_MESSAGE, field: value})
    assert getattr(m, field) is None
    assert m.sid == TWILIO_MESSAGE["sid"], "the rest of the message is still read"


@pytest.mark.parametrize("value", [12, True, [], {"a": 1}, 1.5])
@pytest.mark.parametrize(
    "field", ["sid", "status", "error_message", "to", "from", "body", "price_unit", "uri"]
)
def test_non_string_in_a_text_field_reads_as_none(field: str, value: object) -> None:
    m = ProviderMessage.from_json({**TWILIO_MESSAGE, field: value})
    attribute = "from_" if field == "from" else field
    assert getattr(m, attribute) is None
    assert m.error_code == 30003


@pytest.mark.parametrize(
    ("value", "expected"),
    [("30005", 30005), (" 21211 ", 21211), ("", None), ("abc", None), (True, None), (2.0, 2)],
)
def test_error_code_as_the_provider_may_send_it(value: object, expected: int | None) -> None:
    assert ProviderMessage.from_json({"error_code": value}).error_code == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-0.00790", Decimal("-0.00790")),
        ("0.0079", Decimal("0.0079")),
        ("-1E-3", Decimal("-0.001")),
    ],
)
def test_price_keeps_its_sign_and_digits(value: str, expected: Decimal) -> None:
    price = ProviderMessage.from_json({"price": value}).price
    assert price == expected
    assert str(price) == str(Decimal(value))


def test_date_without_zone_information_is_utc() -> None:
    m = ProviderMessage.from_json({"date_sent": "Thu, 24 Aug 2023 05:01:45 -0000"})
    assert m.date_sent == datetime(2023, 8, 24, 5, 1, 45, tzinfo=UTC)
    assert m.date_sent is not None and m.date_sent.tzinfo is not None


def test_num_segments_rejects_negative_and_non_ascii_digits() -> None:
    assert ProviderMessage.from_json({"num_segments": "-2"}).num_segments is None
    assert ProviderMessage.from_json({"num_segments": "²"}).num_segments is None
    assert ProviderMessage.from_json({"num_segments": 0}).num_segments == 0


def test_unknown_fields_are_ignored() -> None:
    data = {**TWILIO_MESSAGE, "tags": {"x": 1}, "risk_check": "enable", "from_": "nope"}
    assert ProviderMessage.from_json(data) == ProviderMessage.from_json(TWILIO_MESSAGE)


@pytest.mark.parametrize("data", [None, [], [TWILIO_MESSAGE], "message", 12, 1.5, True])
def test_a_non_object_raises_a_provider_error(data: object) -> None:
    with pytest.raises(InvalidResponseError) as caught:
        ProviderMessage.from_json(data)
    assert isinstance(caught.value, ProviderError)


def test_message_is_frozen_and_slotted() -> None:
    m = ProviderMessage(sid="SM1")
    with pytest.raises(AttributeError):
        m.sid = "SM2"  # type: ignore[misc]
    assert not hasattr(m, "__dict__")
