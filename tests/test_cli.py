"""The command line: a user's mistake is one line on stderr and a non-zero exit."""

from __future__ import annotations

import pytest

from notify_tui.cli import main


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["sandbox", "--port", "99999"], "--port must be between 1 and 65535"),
        (["sandbox", "--speed", "0"], "--speed must be above zero"),
        (["--database-url", "mysql://x", "campaigns"], "unsupported database URL"),
        (["export", "42"], "no campaign with id 42"),
        (["optout", "12"], "'12' is not a phone number: too short"),
    ],
)
def test_mistakes_end_in_one_line(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert said in err
    assert "Traceback" not in err and err.count("\n") == 1
