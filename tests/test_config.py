"""Configuration precedence, secrets and warnings."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from notify_tui.config import ConfigError, Secret, load_settings


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_defaults_use_the_sandbox(tmp_path: Path) -> None:
    settings = load_settings(environ={}, config_path=tmp_path / "none.toml", data_dir=tmp_path)
    assert settings.uses_sandbox
    assert settings.default_region == "US"
    assert settings.sqlite_path == tmp_path / "workspace.db"


def test_flags_beat_environment_beat_file(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "c.toml",
        'from_number = "+15550000001"\ndefault_region = "GB"\nprice_per_segment = "0.01"\n',
    )
    env = {"NOTIFY_FROM": "+15550000002", "NOTIFY_DEFAULT_REGION": "FR"}
    settings = load_settings({"from_number": "+15550000003"}, env, config, tmp_path)
    assert settings.from_number == "+15550000003"
    assert settings.default_region == "FR"
    assert settings.price_per_segment == Decimal("0.01")


def test_credentials_switch_off_the_sandbox_and_never_show(tmp_path: Path) -> None:
    env = {"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "supersecret-token"}
    settings = load_settings(environ=env, config_path=tmp_path / "x.toml", data_dir=tmp_path)
    assert not settings.uses_sandbox
    assert settings.basic_auth() == ("AC123", "supersecret-token")
    assert "supersecret" not in repr(settings) and "supersecret" not in str(settings)
    assert str(Secret("abc")) == "Secret('********')"


def test_api_key_wins_over_auth_token(tmp_path: Path) -> None:
    env = {
        "TWILIO_ACCOUNT_SID": "AC123",
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_API_KEY": "SK1",
        "TWILIO_API_SECRET": "s",
    }
    settings = load_settings(environ=env, config_path=tmp_path / "x.toml", data_dir=tmp_path)
    assert settings.basic_auth() == ("SK1", "s")


def test_half_configured_credentials_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        load_settings(environ={"TWILIO_ACCOUNT_SID": "AC1"}, config_path=tmp_path / "x.toml")


def test_a_readable_secret_file_gets_a_warning(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "c.toml", '[twilio]\naccount_sid = "AC1"\nauth_token = "tok"\n', 0o644
    )
    settings = load_settings(environ={}, config_path=config, data_dir=tmp_path)
    assert any("chmod 600" in w for w in settings.warnings)
    assert all("tok" not in w.replace(str(tmp_path), "") for w in settings.warnings)
    private = _write(tmp_path / "p.toml", '[twilio]\naccount_sid = "AC1"\nauth_token = "tok"\n')
    assert load_settings(environ={}, config_path=private, data_dir=tmp_path).warnings == ()


def test_bad_file_and_bad_values_say_where(tmp_path: Path) -> None:
    broken = _write(tmp_path / "broken.toml", "from_number = \n")
    with pytest.raises(ConfigError, match=r"broken\.toml is not valid TOML"):
        load_settings(environ={}, config_path=broken)
    with pytest.raises(ConfigError, match="NOTIFY_SEND_RATE"):
        load_settings(environ={"NOTIFY_SEND_RATE": "fast"}, config_path=tmp_path / "x.toml")
    unknown = _write(tmp_path / "u.toml", 'colour = "blue"\n')
    assert "unknown setting 'colour'" in load_settings(environ={}, config_path=unknown).warnings[0]


def test_each_sender_may_have_its_own_pace(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "c.toml",
        'send_rate = 2\n[senders."+15551234567"]\nrate = 3\n[senders."MG0123"]\nrate = 0.5\n',
    )
    settings = load_settings(environ={}, config_path=config, data_dir=tmp_path)
    assert settings.rate_for("+15551234567") == 3
    assert settings.rate_for("MG0123") == 0.5
    assert settings.rate_for("+15550000000") == settings.rate_for(None) == 2


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[senders."+15551234567"]\nrate = 0\n',
            r'\[senders\."\+15551234567"\] rate must be a number',
        ),
        (
            '[senders."+15551234567"]\nrate = -2\n',
            "rate must be a number of messages per second above 0",
        ),
        ('[senders."+15551234567"]\nrate = "fast"\n', "rate must be a number of messages per"),
        ('[senders."+15551234567"]\nrate = true\n', "rate must be a number of messages per"),
        (
            '[senders."+15551234567"]\nrate = nan\n',
            "rate must be a number of messages per second above 0",
        ),
        ('[senders."+15551234567"]\nrat = 3\n', r"unknown \[senders\.\"\+15551234567\"\] setting"),
        ("senders = 3\n", r"\[senders\] must hold tables"),
        ("[senders]\n'+15551234567' = 3\n", r"\[senders\] must hold tables"),
        ("send_rate = inf\n", "send_rate must be a number of messages per second above 0"),
    ],
)
def test_a_bad_sender_pace_is_one_line_naming_it(tmp_path: Path, toml: str, message: str) -> None:
    config = _write(tmp_path / "c.toml", toml)
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings(environ={}, config_path=config, data_dir=tmp_path)
    assert "\n" not in str(raised.value)


def test_keys_and_theme_come_from_the_file_and_the_theme_from_the_environment(
    tmp_path: Path,
) -> None:
    config = _write(
        tmp_path / "c.toml",
        'theme = "nord"\n[keys]\n"details.export" = "x"\n"app.help" = " f2 , ctrl+h "\n',
    )
    settings = load_settings(environ={}, config_path=config, data_dir=tmp_path)
    assert dict(settings.keys) == {"details.export": "x", "app.help": "f2,ctrl+h"}
    assert settings.theme == "nord"
    assert not settings.warnings
    settings = load_settings(
        environ={"NOTIFY_THEME": "dracula"}, config_path=config, data_dir=tmp_path
    )
    assert settings.theme == "dracula"
    assert load_settings(environ={}, config_path=tmp_path / "none.toml").keys == {}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("keys = 3\n", r"\[keys\] maps a binding id to keys"),
        ('[keys]\n"details.export" = 3\n', r"\[keys\] details.export must be a string of keys"),
        ('[keys]\n"details.export" = " , "\n', r"\[keys\] maps a binding id to keys"),
        ('[keys]\n"details.export" = ["x"]\n', r"\[keys\] details.export must be a string"),
    ],
)
def test_a_bad_keys_table_is_one_line_naming_it(tmp_path: Path, toml: str, message: str) -> None:
    config = _write(tmp_path / "c.toml", toml)
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings(environ={}, config_path=config, data_dir=tmp_path)
    assert "\n" not in str(raised.value)
