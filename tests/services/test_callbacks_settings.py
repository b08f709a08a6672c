"""How many callbacks about unknown SIDs the receiver keeps, and for how long, are settings
(``callback_early_limit``, ``callback_early_ttl``) that reach the receiver ``notify-tui
callbacks`` builds."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from notify_tui.commands.callbacks import make_receiver
from notify_tui.config import ConfigError, load_settings
from notify_tui.services.runtime import Runtime
from notify_tui.store import callbacks as early_store


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def test_the_defaults_are_the_stated_ones(tmp_path: Path) -> None:
    settings = load_settings(environ={}, config_path=tmp_path / "none.toml", data_dir=tmp_path)
    assert settings.callback_early_limit == early_store.EARLY_LIMIT == 10_000
    assert timedelta(seconds=settings.callback_early_ttl) == early_store.EARLY_TTL


def test_file_and_environment_set_them(tmp_path: Path) -> None:
    config = _config(tmp_path, "callback_early_limit = 500\ncallback_early_ttl = 90\n")
    settings = load_settings(environ={}, config_path=config, data_dir=tmp_path)
    assert (settings.callback_early_limit, settings.callback_early_ttl) == (500, 90.0)
    env = {"NOTIFY_CALLBACK_EARLY_LIMIT": "0", "NOTIFY_CALLBACK_EARLY_TTL": "30"}
    settings = load_settings(environ=env, config_path=config, data_dir=tmp_path)
    assert (settings.callback_early_limit, settings.callback_early_ttl) == (0, 30.0)


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("NOTIFY_CALLBACK_EARLY_LIMIT", "-1", "callback_early_limit must be a whole number"),
        ("NOTIFY_CALLBACK_EARLY_LIMIT", "2.5", "callback_early_limit must be a whole number"),
        ("NOTIFY_CALLBACK_EARLY_LIMIT", "5000000", "from 0 to 1,000,000"),
        ("NOTIFY_CALLBACK_EARLY_TTL", "0", "callback_early_ttl must be a number of seconds"),
        ("NOTIFY_CALLBACK_EARLY_TTL", "nan", "from 1 to 86,400"),
        ("NOTIFY_CALLBACK_EARLY_TTL", "soon", "callback_early_ttl must be a number of seconds"),
    ],
)
def test_a_bad_value_is_one_line_naming_where(
    tmp_path: Path, variable: str, value: str, said: str
) -> None:
    with pytest.raises(ConfigError, match=said) as raised:
        load_settings(environ={variable: value}, config_path=tmp_path / "none.toml")
    assert variable in str(raised.value) and "\n" not in str(raised.value)


async def test_the_receiver_keeps_what_the_settings_say(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOTIFY_CALLBACK_EARLY_LIMIT", "25")
    monkeypatch.setenv("NOTIFY_CALLBACK_EARLY_TTL", "45")
    runtime = Runtime.open(load_settings())
    try:
        receiver = make_receiver(runtime, "https://hooks.example.com/twilio/status")
    finally:
        await runtime.aclose()
    assert receiver.early_limit == 25
    assert receiver.early_ttl == timedelta(seconds=45)
