"""Smart encoding: lookalikes replaced in a template's text, the rest left and listed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from notify_tui.domain.segments import count_segments
from notify_tui.domain.smart_encoding import (
    LOOKALIKES,
    is_gsm7,
    replace_lookalikes,
    replaced_line,
    saving,
    segments_change,
    smart_encode,
)
from notify_tui.domain.template import parse


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("“Spring” sale", '"Spring" sale'),
        ("it’s ‘on’ ‚now‛", "it's 'on' 'now'"),
        ("a – b — c ― d − e", "a - b - c - d - e"),
        ("wait…", "wait..."),
        ("10\u00a0am\u202fto\u2009noon", "10 am to noon"),
        ("«ciao» „hallo“", '"ciao" "hallo"'),
        ("½ price", "1/2 price"),
        ("ＳＡＬＥ ２０％", "SALE 20%"),
    ],
)
def test_each_kind_of_lookalike_becomes_gsm7(written: str, sent: str) -> None:
    assert count_segments(written).encoding == "UCS-2"
    assert replace_lookalikes(written) == sent
    assert count_segments(sent).encoding == "GSM-7"


def test_every_replacement_is_gsm7_and_every_replaced_character_is_not() -> None:
    for char, by in LOOKALIKES.items():
        assert not is_gsm7(char), repr(char)
        assert all(is_gsm7(c) for c in by), (char, by)


def test_a_long_message_saves_segments_and_says_what_changed() -> None:
    body = "Don’t miss our spring sale — " + "x" * 100
    result = smart_encode(body)

    assert (result.before.encoding, result.before.segments) == ("UCS-2", 2)
    assert (result.after.encoding, result.after.segments) == ("GSM-7", 1)
    assert result.segments_saved == 1
    assert result.changes == 2
    assert replaced_line(result) == "2 characters replaced: ’ → ', — → -"


def test_emoji_and_letters_without_a_lookalike_are_left_and_listed() -> None:
    result = smart_encode("It’s here 🎉 Zoë")

    assert result.encoded == "It's here 🎉 Zoë"
    assert result.kept == ("🎉", "ë")
    assert result.after.encoding == "UCS-2"
    assert result.segments_saved == 0
    assert replaced_line(result).endswith(
        "left as they are (no GSM-7 lookalike, still UCS-2): 🎉 ë"
    )


def test_nothing_to_replace_says_so_and_changes_nothing() -> None:
    result = smart_encode("Plain text")
    assert result.encoded == "Plain text"
    assert result.replaced == ()
    assert replaced_line(result).startswith("nothing to replace")


def test_a_template_keeps_its_fields_and_fallbacks_are_replaced_too() -> None:
    body = "Hi {first_name|friend…}, it’s {city}’s day"
    encoded = replace_lookalikes(body)

    assert encoded == "Hi {first_name|friend...}, it's {city}'s day"
    template = parse(encoded)
    assert [f.name for f in template.fields] == ["first_name", "city"]
    assert template.render({"city": "Oslo"}) == "Hi friend..., it's Oslo's day"


def test_a_full_width_brace_becomes_a_literal_brace_not_a_field() -> None:
    encoded = replace_lookalikes("Code ｛SPRING｝ for {name}")

    assert encoded == "Code {{SPRING}} for {name}"
    assert parse(encoded).render({"name": "Ann"}) == "Code {SPRING} for Ann"
    # In a fallback a brace would end the field: that one is left alone (and listed).
    result = smart_encode("Hi {name|｛you｝}")
    assert result.encoded == "Hi {name|｛you｝}"
    assert result.kept == ("｛", "｝")


def test_a_body_without_fields_is_measured_as_sent() -> None:
    # {{ goes out as one brace: a GSM-7 extension character, two septets.
    result = smart_encode("{{“x”}}")
    assert result.encoded == '{{"x"}}'
    assert (result.after.encoding, result.after.units) == ("GSM-7", 7)


def test_the_saving_reads_in_exact_money() -> None:
    assert segments_change(2, 1) == "2 → 1 segments"
    assert segments_change(1, 1) == "1 segment"
    assert segments_change(4874, 2437) == "4874 → 2437 segments"
    assert saving(4874, 2437, Decimal("0.0079")) == "saves $19.25"
    assert saving(2, 1, Decimal("0.0079")) == "saves $0.0079"
    assert saving(1, 1, Decimal("0.0079")) == "saves nothing"
