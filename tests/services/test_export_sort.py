"""``notify-tui export --sort``: the CSV in the order a user asked for."""

from __future__ import annotations

import csv
import io

import pytest

from notify_tui.cli import main
from notify_tui.commands import SORT_CHOICES
from notify_tui.store.recipients import Sort
from tests.ui.seed import SPRING, seed_campaign


@pytest.fixture
def spring(workspace_db: None) -> int:
    return seed_campaign("Spring sale", SPRING)


def exported(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    capsys.readouterr()
    assert main(["export", *args, "--output", "-"]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_the_choices_are_the_orders_of_the_store() -> None:
    assert tuple(sort.value for sort in Sort) == SORT_CHOICES


def test_export_writes_the_rows_in_the_order_asked(
    spring: int, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = [row["name"] for row in exported(capsys, str(spring))]
    assert sent == [person.name for person in SPRING]
    assert [row["name"] for row in exported(capsys, str(spring), "--sort", "name")] == sorted(sent)
    statuses = [row["status"] for row in exported(capsys, str(spring), "--sort", "failures")]
    assert statuses == ["Failed"] * 5 + ["Unknown"] * 2 + ["Delivered"] * 5
    by_reason = exported(capsys, str(spring), "--sort", "reason", "--status", "failed")
    assert [row["name"] for row in by_reason] == [
        "Margaret Hamilton",
        "Dana Whitfield",
        "Edsger Dijkstra",
        "Grace Hopper",
        "Frances Allen",
    ]


def test_an_unknown_order_is_one_line_naming_the_choices(
    spring: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(spring), "--sort", "size"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'size'" in err and "failures" in err
