"""Every row of the delivery-status reference, as data."""

from __future__ import annotations

import pytest

from notify_tui.domain.status import (
    ADVICE,
    CODE_ADVICE,
    CODE_RULES,
    Consequence,
    Reason,
    Status,
    advances,
    advice_for,
    classify_create_refusal,
    classify_fetch_not_found,
    classify_invalid_number,
    classify_message,
    parse_error_code,
)

U, D, F = Status.UNKNOWN, Status.DELIVERED, Status.FAILED


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("accepted", U),
        ("scheduled", U),
        ("queued", U),
        ("sending", U),
        ("sent", U),
        ("partially_delivered", U),
        ("something_new", U),
        (None, U),
        ("", U),
        ("delivered", D),
        ("read", D),
        ("DELIVERED", D),
        ("undelivered", F),
        ("failed", F),
        ("canceled", F),
        ("receiving", U),
        ("received", U),
    ],
)
def test_provider_status_to_user_status(raw: str | None, expected: Status) -> None:
    result = classify_message(raw)
    assert result.status is expected
    assert result.final is (expected is not U)


@pytest.mark.parametrize(
    ("code", "reason", "consequence"),
    [
        (30003, Reason.UNREACHABLE_HANDSET, Consequence.REPEAT),
        (30005, Reason.UNKNOWN_HANDSET, Consequence.REPEAT),
        (30006, Reason.LANDLINE, Consequence.OPT_OUT),
        (30007, Reason.CARRIER_VIOLATION, Consequence.NEVER),
        (30001, Reason.OTHER, Consequence.NEVER),
        (30008, Reason.OTHER, Consequence.NEVER),
        (30034, Reason.OTHER, Consequence.NONE),
        (39999, Reason.OTHER, Consequence.NONE),
        (None, Reason.OTHER, Consequence.NONE),
    ],
)
@pytest.mark.parametrize("raw", ["undelivered", "failed"])
def test_delivery_failures(
    raw: str, code: int | None, reason: Reason, consequence: Consequence
) -> None:
    result = classify_message(raw, code)
    assert (result.status, result.reason, result.code, result.consequence) == (
        F,
        reason,
        code,
        consequence,
    )


@pytest.mark.parametrize(
    ("http_status", "code", "reason", "consequence"),
    [
        (400, 21614, Reason.LANDLINE, Consequence.OPT_OUT),
        (400, 21635, Reason.LANDLINE, Consequence.OPT_OUT),
        (400, 21211, Reason.INVALID_NUMBER, Consequence.FIX_OR_OPT_OUT),
        (400, 21265, Reason.INVALID_NUMBER, Consequence.FIX_OR_OPT_OUT),
        (400, 21268, Reason.INVALID_NUMBER, Consequence.FIX_OR_OPT_OUT),
        (400, 21604, Reason.INVALID_NUMBER, Consequence.FIX_OR_OPT_OUT),
        (400, 21610, Reason.HTTP_400, Consequence.OPT_OUT_STOP),
        (400, 21408, Reason.HTTP_400, Consequence.NEVER),
        (400, 21611, Reason.HTTP_400, Consequence.NEVER),
        (400, 21606, Reason.HTTP_400, Consequence.NONE),
        (400, 21612, Reason.HTTP_400, Consequence.NONE),
        (400, 21999, Reason.HTTP_400, Consequence.NONE),
        (403, None, Reason.HTTP_400, Consequence.NONE),
    ],
)
def test_create_refusals(
    http_status: int, code: int | None, reason: Reason, consequence: Consequence
) -> None:
    result = classify_create_refusal(http_status, code, "provider text")
    assert (result.status, result.reason, result.consequence) == (F, reason, consequence)


def test_reason_texts_are_word_for_word() -> None:
    assert [r.value for r in Reason] == [
        "Unreachable destination handset",
        "Unknown destination handset",
        "Landline or unreachable carrier",
        "Invalid number",
        "Carrier violation",
        "HTTP 400 error - Unable to create record",
        "HTTP 404 error - Unable to fetch record",
        "Canceled",
        "Other",
    ]
    assert set(ADVICE) == set(Reason)


def test_detail_shows_code_and_title() -> None:
    result = classify_create_refusal(400, 21408, "ignored: the title comes from the code")
    assert result.detail == (
        "21408 · Permission to send an SMS has not been enabled for the region indicated by the "
        "'To' number"
    )
    other = classify_message("failed", 30034)
    assert other.detail == "30034 · US A2P 10DLC - Message from an Unregistered Number"
    unknown = classify_message("failed", 39999, "Carrier said no")
    assert unknown.detail == "39999 · Carrier said no"


def test_canceled_is_failed_but_not_a_failure_rate_entry() -> None:
    result = classify_message("canceled")
    assert result.status is F and result.reason is Reason.CANCELED
    assert not result.counts_as_failure
    assert classify_message("failed", 30003).counts_as_failure


def test_fetch_404_and_invalid_number() -> None:
    lost = classify_fetch_not_found()
    assert (lost.status, lost.reason, lost.code) == (F, Reason.HTTP_404, 20404)
    invalid = classify_invalid_number("too short")
    assert (invalid.status, invalid.reason, invalid.code, invalid.detail) == (
        F,
        Reason.INVALID_NUMBER,
        None,
        "too short",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30003, 30003),
        ("30003", 30003),
        (" 21610 ", 21610),
        (30003.0, 30003),
        (None, None),
        ("", None),
        ("abc", None),
        ("²", None),
        ("٣٠٠٠٣", None),
        (True, None),
        ([1], None),
        ({}, None),
    ],
)
def test_error_codes_are_parsed_tolerantly(value: object, expected: int | None) -> None:
    assert parse_error_code(value) == expected


def test_status_only_moves_forward() -> None:
    assert advances(U, D) and advances(U, F)
    assert not advances(D, U) and not advances(F, U) and not advances(D, F) and not advances(U, U)


def test_states_keep_the_values_the_store_holds() -> None:
    # Workspaces written before the states were enums hold these strings: no migration.
    from notify_tui.domain.optout_policy import SuggestionState
    from notify_tui.domain.status import RESUMABLE, UNSENT, CampaignState, SendState

    # New states may come; these stay spelled as the store has always held them.
    stored = {
        "PENDING": "pending",
        "ATTEMPTING": "attempting",
        "SUBMITTED": "submitted",
        "REFUSED": "refused",
        "INVALID": "invalid",
    }
    assert stored.items() <= {s.name: s.value for s in SendState}.items()
    campaigns = {"DRAFT": "draft", "SENDING": "sending", "SENT": "sent"}
    campaigns["INTERRUPTED"] = "interrupted"
    assert campaigns.items() <= {s.name: s.value for s in CampaignState}.items()
    suggested = {"PENDING": "pending", "ACCEPTED": "accepted", "DISMISSED": "dismissed"}
    assert suggested.items() <= {s.name: s.value for s in SuggestionState}.items()
    assert set(UNSENT) == {"pending", "attempting"}
    assert set(RESUMABLE) == {"draft", "sending", "interrupted"}


@pytest.mark.parametrize(
    ("reason", "code", "says"),
    [
        (Reason.HTTP_400, 21610, "opted out by replying STOP"),
        (Reason.HTTP_400, 21408, "geographic permissions"),
        (Reason.HTTP_400, 21606, "badly formatted number"),  # no advice of its own
        (Reason.LANDLINE, 30006, "opt the number out"),
        (None, None, ""),
    ],
)
def test_advice_is_the_codes_own_where_it_has_one_else_the_reasons(
    reason: Reason | None, code: int | None, says: str
) -> None:
    advice = advice_for(reason, code)
    assert says in advice and (says or advice == "")
    for code_with_advice in CODE_ADVICE:
        assert CODE_RULES[code_with_advice].reason is Reason.HTTP_400
