"""Phone normalisation, segment counting and the polling schedule."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify_tui.domain.phone import format_for_humans, normalize, search_digits
from notify_tui.domain.polling import POLL_WINDOW, next_poll_delay
from notify_tui.domain.segments import count_segments, estimate_cost


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "US", "+14155552671"),
        ("+1 415 555 2671", "GB", "+14155552671"),
        ("001 415 555 2671", "FR", "+14155552671"),
        ("07700 900123", "GB", None),
        ("020 7946 0958", "GB", "+442079460958"),
        (" +15005550006 ", "US", "+15005550006"),
    ],
)
def test_normalises_to_e164(raw: str, region: str, e164: str | None) -> None:
    result = normalize(raw, region)
    assert result.e164 == e164
    assert result.ok is (e164 is not None)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("", "empty"),
        (None, "empty"),
        ("12", "too short: US numbers have 10 digits, this has 2"),
        ("hello", "not a phone number"),
        ("+999 1234567", "unknown country code"),
        ("+1 415 555 26711234567", "too long: US numbers have 10 digits, this has 17"),
        (
            "+1 099 555 2671",
            "not a valid number for US: no phone has a number in that range (unassigned, or "
            "reserved like the numbers films use)",
        ),
        (
            "+44 7700 900123",
            "not a valid number for GB: no phone has a number in that range "
            "(unassigned, or reserved like the numbers films use)",
        ),  # the UK's drama range
        ("555-2671", "not a valid number for US: a local number, without its area code"),
        ("+44 20 71", "too short: GB numbers have 7, 9 or 10 digits, this has 4"),
        ("1" * 100, "too long"),
    ],
)
def test_invalid_numbers_say_why(raw: str | None, error: str) -> None:
    result = normalize(raw)
    assert result.e164 is None
    assert result.error == error


@given(st.text(max_size=80))
def test_normalise_never_raises(raw: str) -> None:
    result = normalize(raw)
    assert (result.e164 is None) != (result.error is None)
    if result.e164:
        assert result.e164.startswith("+") and result.e164[1:].isdigit()


def test_human_format() -> None:
    assert format_for_humans("+14155552671") == "+1 415-555-2671"
    assert format_for_humans("not a number") == "not a number"


@pytest.mark.parametrize(
    ("body", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),
        ("€" * 81, "GSM-7", 2),
        ("a" * 152 + "{" + "b" * 10, "GSM-7", 2),
        ("é" * 160, "GSM-7", 1),
        ("ê" * 70, "UCS-2", 1),
        ("ê" * 71, "UCS-2", 2),
        ("ê" * 134, "UCS-2", 2),
        ("ê" * 135, "UCS-2", 3),
        ("😀" * 35, "UCS-2", 1),
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_segments(body: str, encoding: str, segments: int) -> None:
    info = count_segments(body)
    assert (info.encoding, info.segments) == (encoding, segments)


def test_extension_characters_count_twice_and_split_whole() -> None:
    info = count_segments("a" * 152 + "[")
    assert info.units == 154 and info.segments == 1
    # 153 septets per part: the escape pair of "[" can't straddle two parts.
    assert count_segments("a" * 152 + "[" + "a" * 10).segments == 2


def test_ucs2_names_the_character_that_forced_it() -> None:
    assert count_segments("Hi Zoë ✓ thanks").ucs2_trigger == "ë"
    assert count_segments("plain").ucs2_trigger is None
    assert count_segments("x" * 1601).too_long and not count_segments("x" * 1600).too_long


@given(st.text(max_size=400))
def test_segment_count_bounds(body: str) -> None:
    info = count_segments(body)
    per = 153 if info.encoding == "GSM-7" else 67
    assert info.segments >= -(-info.units // (160 if info.encoding == "GSM-7" else 70))
    assert info.segments <= max(1, -(-info.units // (per - 1))) or info.units == 0


def test_cost_estimate() -> None:
    assert estimate_cost(3, Decimal("-0.0079")) == Decimal("0.0237")
    assert estimate_cost(0, Decimal("0.0079")) == 0


def test_polling_backs_off_with_age_and_stops_after_72_hours() -> None:
    assert next_poll_delay(timedelta(0)) == timedelta(seconds=2)
    assert next_poll_delay(timedelta(minutes=4)) == timedelta(minutes=1)
    assert next_poll_delay(timedelta(hours=10)) == timedelta(hours=1)
    assert next_poll_delay(POLL_WINDOW) is None


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        ("(415) 555-0100", "4155550100"),
        ("+1 415.555.0100", "14155550100"),
        ("4155550100", None),  # bare digits are searched as typed
        ("Bob 555", None),  # a name, not a number
        ("²³", None),  # digits to str.isdigit, never in a phone number
        ("(٤١٥) 555", None),
        ("", None),
    ],
)
def test_a_formatted_number_is_searched_by_its_digits(typed: str, digits: str | None) -> None:
    assert search_digits(typed) == digits
