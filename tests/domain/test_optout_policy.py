"""The opt-out policy as a table of histories and what it decides."""

from __future__ import annotations

import pytest

from notify_tui.domain.optout_policy import (
    Attempt,
    OptOutPolicy,
    Rule,
    RuleMode,
    evaluate,
)
from notify_tui.domain.status import Reason, Status

D, F, U = Status.DELIVERED, Status.FAILED, Status.UNKNOWN
DEFAULT = OptOutPolicy()


def history(*outcomes: tuple[Status, int | None] | tuple[Status, int | None, str]) -> list[Attempt]:
    return [
        Attempt(i + 1, o[0], o[1], o[2] if len(o) == 3 else None)  # type: ignore[misc]
        for i, o in enumerate(outcomes)
    ]


@pytest.mark.parametrize(
    ("outcomes", "rule", "mode"),
    [
        ([(F, 30006)], Rule.IMMEDIATE, RuleMode.AUTO),
        ([(F, 21614)], Rule.IMMEDIATE, RuleMode.AUTO),
        ([(F, 21635)], Rule.IMMEDIATE, RuleMode.AUTO),
        ([(F, 21610)], Rule.IMMEDIATE, RuleMode.AUTO),
        ([(D, None), (F, 30006)], Rule.IMMEDIATE, RuleMode.AUTO),
        ([(F, 30003)], None, None),
        ([(F, 30003), (F, 30005)], Rule.REPEAT, RuleMode.SUGGEST),
        ([(F, 30005), (F, 30005), (F, 30005)], Rule.REPEAT, RuleMode.SUGGEST),
        ([(F, 30003), (D, None), (F, 30003)], None, None),
        ([(F, 30003), (F, 30007), (F, 30003)], Rule.REPEAT, RuleMode.SUGGEST),
        ([(F, 30003), (F, 30003), (D, None)], None, None),
        ([(F, 30003), (F, 30003), (U, None)], Rule.REPEAT, RuleMode.SUGGEST),
        ([(F, 30007), (F, 30007), (F, 30007)], None, None),
        ([(F, 21408), (F, 21611), (F, 30001), (F, 30008)], None, None),
        ([(F, 21211, Reason.INVALID_NUMBER.value)], Rule.INVALID, RuleMode.SUGGEST),
        ([(F, None, Reason.INVALID_NUMBER.value)], Rule.INVALID, RuleMode.SUGGEST),
        ([(D, None)], None, None),
        ([], None, None),
    ],
)
def test_default_rules(outcomes: list[tuple], rule: Rule | None, mode: RuleMode | None) -> None:
    decision = evaluate(history(*outcomes), DEFAULT)
    if rule is None:
        assert decision is None
        return
    assert decision is not None
    assert (decision.rule, decision.mode) == (rule, mode)


def test_repeat_evidence_names_the_campaigns_and_codes() -> None:
    decision = evaluate(history((F, 30003), (D, None), (F, 30005), (F, 30003)), DEFAULT)
    assert decision is not None
    assert decision.evidence == ((3, 30005), (4, 30003))
    assert "2 times in a row" in decision.reason


def test_configured_count_and_modes() -> None:
    strict = OptOutPolicy(
        repeat_count=3, repeat_mode=RuleMode.AUTO, immediate_mode=RuleMode.SUGGEST
    )
    assert evaluate(history((F, 30003), (F, 30003)), strict) is None
    decision = evaluate(history((F, 30003), (F, 30003), (F, 30005)), strict)
    assert decision is not None and decision.automatic
    landline = evaluate(history((F, 30006)), strict)
    assert landline is not None and landline.mode is RuleMode.SUGGEST
    # A STOP is the person's own word: always automatic, whatever the policy's mode.
    stop = evaluate(history((F, 21610)), strict)
    assert stop is not None and stop.automatic
    off = OptOutPolicy(immediate_mode=RuleMode.OFF, repeat_mode=RuleMode.OFF)
    assert evaluate(history((F, 30006)), off) is None
    assert evaluate(history((F, 30003), (F, 30003)), off) is None


@pytest.mark.parametrize(
    ("automatic", "recipients", "held"),
    [(49, 100, False), (50, 100, True), (50, 500, False), (51, 500, True), (10, 20, False)],
)
def test_mass_opt_out_threshold(automatic: int, recipients: int, held: bool) -> None:
    assert DEFAULT.holds(automatic, recipients) is held


def test_bad_policy_values_are_refused() -> None:
    with pytest.raises(ValueError, match="repeat_count"):
        OptOutPolicy(repeat_count=0)
    with pytest.raises(ValueError, match="threshold_share"):
        OptOutPolicy(threshold_share=2)


def test_fingerprint_changes_with_the_policy() -> None:
    assert OptOutPolicy().fingerprint == OptOutPolicy().fingerprint
    assert OptOutPolicy(repeat_count=3).fingerprint != OptOutPolicy().fingerprint
