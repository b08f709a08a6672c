"""Twilio's request signature: the reference's test vector, and what must change it."""

from __future__ import annotations

import pytest

from notify_tui.provider import signature_matches, twilio_signature

VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
VECTOR_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_the_reference_test_vector() -> None:
    assert twilio_signature("12345", VECTOR_URL, VECTOR_PARAMS) == VECTOR_SIGNATURE
    assert signature_matches("12345", VECTOR_URL, VECTOR_PARAMS, VECTOR_SIGNATURE)


def test_the_order_parameters_arrive_in_does_not_matter() -> None:
    pairs = list(reversed(VECTOR_PARAMS.items()))
    assert twilio_signature("12345", VECTOR_URL, pairs) == VECTOR_SIGNATURE


@pytest.mark.parametrize(
    ("token", "url", "params"),
    [
        ("12346", VECTOR_URL, VECTOR_PARAMS),
        ("12345", "https://mycompany.com/myapp.php?foo=1&bar=3", VECTOR_PARAMS),
        ("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", VECTOR_PARAMS),
        ("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", VECTOR_PARAMS),
        ("12345", VECTOR_URL, {**VECTOR_PARAMS, "Digits": "1235"}),
        ("12345", VECTOR_URL, {**VECTOR_PARAMS, "Extra": ""}),
    ],
)
def test_any_change_breaks_the_signature(token: str, url: str, params: dict[str, str]) -> None:
    assert not signature_matches(token, url, params, VECTOR_SIGNATURE)


def test_a_port_and_a_query_string_are_signed_as_given() -> None:
    url = "https://hooks.example.com:8443/twilio/status?campaign=7&x=a%20b"
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
    signature = twilio_signature("tok", url, params)
    assert signature_matches("tok", url, params, signature)
    assert not signature_matches("tok", url.replace(":8443", ""), params, signature)
    assert not signature_matches("tok", url.replace("%20", "+"), params, signature)


def test_a_repeated_name_signs_each_value() -> None:
    one = twilio_signature("tok", "https://x.test/", [("A", "2"), ("A", "1"), ("B", "x")])
    assert one == twilio_signature("tok", "https://x.test/", {"A": ["1", "2"], "B": "x"})
    assert one != twilio_signature("tok", "https://x.test/", {"A": "1", "B": "x"})


@pytest.mark.parametrize(
    "signature", [None, "", "not base64 at all", "0/KCTR6DLpKmkAf8muzZqo1nDgQ"]
)
def test_missing_or_malformed_signatures_never_match(signature: str | None) -> None:
    assert not signature_matches("12345", VECTOR_URL, VECTOR_PARAMS, signature)


def test_no_token_never_matches() -> None:
    assert not signature_matches("", VECTOR_URL, VECTOR_PARAMS, twilio_signature("", VECTOR_URL))
