"""``notify-tui callbacks``: its mistakes are one line, before anything listens."""

from __future__ import annotations

import pytest

from notify_tui.cli import main


@pytest.mark.parametrize(
    ("argv", "env", "said"),
    [
        (["callbacks"], {}, "no public URL to answer on: give --public-url"),
        (
            ["callbacks", "--public-url", "ftp://x/status"],
            {},
            "the status callback URL must be http://host/path",
        ),
        (
            ["callbacks", "--public-url", "https://hooks.example.com/s"],
            {
                "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
                "TWILIO_API_KEY": "SK" + "1" * 32,
                "TWILIO_API_SECRET": "secret",
            },
            "needs the account's auth token (TWILIO_AUTH_TOKEN",
        ),
        (
            ["callbacks"],
            {"NOTIFY_STATUS_CALLBACK_URL": "https://u:p@hooks.example.com/s"},
            "takes no credentials",
        ),
    ],
)
def test_mistakes_end_in_one_line(
    argv: list[str],
    env: dict[str, str],
    said: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert said in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert "secret" not in err
