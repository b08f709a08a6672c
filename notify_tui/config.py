"""Settings: command-line flags, then environment, then a TOML file, then defaults.

Nothing here is read at import time: ``load_settings`` builds a ``Settings`` when asked. Secrets
live in ``Secret`` so that no repr, log line or traceback can show them.
"""

from __future__ import annotations

import math
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from notify_tui.domain.optout_policy import OptOutPolicy, RuleMode
from notify_tui.errors import NotifyError

APP_NAME = "notify-tui"


class ConfigError(NotifyError):
    """A setting is missing, malformed or contradictory. The message says which and where."""


class Secret:
    """A string that never shows itself: ``str()`` and ``repr()`` both print asterisks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it (HTTP Basic auth)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Everything the app and the headless commands need to know, resolved once."""

    data_dir: Path
    config_path: Path
    database_url: str | None = None
    provider_url: str | None = None
    account_sid: str | None = None
    auth_token: Secret | None = None
    api_key: str | None = None
    api_secret: Secret | None = None
    sandbox_auth_token: Secret | None = None
    """The password ``notify-tui sandbox`` requires (``--auth-token`` wins)."""
    from_number: str | None = None
    messaging_service_sid: str | None = None
    default_region: str = "US"
    price_per_segment: Decimal = Decimal("0.0079")
    send_rate: float = 1.0
    timezone: str = "UTC"
    """The time zone a campaign's ``--at`` is read in (``--tz`` wins), and the recipients' clock
    for quiet hours where their number tells none."""
    quiet_hours: str | None = None
    """``21:00-08:00``: no campaign texts anyone then, by their own clock (``--quiet-hours``)."""
    outage_limit: float = 300.0
    """Seconds without a successful provider request before ``send`` and ``poll
    --until-settled`` stop (exit 1, saying what failed); the app and a ``poll`` daemon go on."""
    status_callback_url: str | None = None
    """The public URL of ``notify-tui callbacks``: every create asks the provider to POST its
    status changes there, and the receiver answers on its path and checks signatures against it."""
    callback_grace: float = 120.0
    """Seconds a message with status callbacks due is left to them before a poller looks."""
    callback_quiet: float = 300.0
    """Seconds without any callback, while messages are pending, before the app warns that push
    has stopped and polling takes over."""
    callback_early_limit: int = 10_000
    """Callbacks about a SID no message holds yet (they can beat the create's answer) kept at
    most, workspace-wide, waiting for their message; past it, new ones are dropped."""
    callback_early_ttl: float = 300.0
    """Seconds such a callback waits for its message; then it is dropped as foreign."""
    sender_rates: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    """Messages per second of particular senders (``[senders."+1555..."] rate``)."""
    operator: str = field(default_factory=lambda: os.environ.get("USER") or "operator")
    policy: OptOutPolicy = field(default_factory=OptOutPolicy)
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """The app's keys remapped (``[keys]``): binding id (``details.export``) to keys (``x`` or
    ``x,ctrl+e``), applied with Textual's keymap."""
    theme: str | None = None
    """The app's colour theme (a Textual theme name such as ``nord``); one chosen in the
    command palette is remembered until this setting changes."""
    warnings: tuple[str, ...] = ()

    @property
    def uses_sandbox(self) -> bool:
        """No credentials and no provider URL: the built-in sandbox provider answers."""
        has_credentials = bool(self.account_sid and (self.auth_token or self.api_secret))
        return not has_credentials and not self.provider_url

    @property
    def sqlite_path(self) -> Path:
        """Where the default SQLite workspace lives."""
        return self.data_dir / "workspace.db"

    @property
    def sandbox_state_path(self) -> Path:
        """Where the built-in sandbox provider keeps its messages between runs."""
        return self.data_dir / "sandbox.db"

    def rate_for(self, sender: str | None) -> float:
        """The pace of ``sender`` (a From number or Messaging Service SID): its own ``rate`` in
        ``[senders]``, else ``send_rate``. Every campaign sending from it shares this pace."""
        if sender is None:
            return self.send_rate
        return self.sender_rates.get(sender.strip(), self.send_rate)

    def basic_auth(self) -> tuple[str, str] | None:
        """Username and password for HTTP Basic auth: API key first, else account SID."""
        if self.api_key and self.api_secret:
            return self.api_key, self.api_secret.reveal()
        if self.account_sid and self.auth_token:
            return self.account_sid, self.auth_token.reveal()
        return None


ENVIRONMENT: dict[str, str] = {
    "NOTIFY_DATABASE_URL": "database_url",
    "NOTIFY_PROVIDER_URL": "provider_url",
    "NOTIFY_FROM": "from_number",
    "NOTIFY_MESSAGING_SERVICE_SID": "messaging_service_sid",
    "NOTIFY_DEFAULT_REGION": "default_region",
    "NOTIFY_PRICE_PER_SEGMENT": "price_per_segment",
    "NOTIFY_SEND_RATE": "send_rate",
    "NOTIFY_TIMEZONE": "timezone",
    "NOTIFY_QUIET_HOURS": "quiet_hours",
    "NOTIFY_OUTAGE_LIMIT": "outage_limit",
    "NOTIFY_OPERATOR": "operator",
    "NOTIFY_STATUS_CALLBACK_URL": "status_callback_url",
    "NOTIFY_CALLBACK_GRACE": "callback_grace",
    "NOTIFY_CALLBACK_QUIET": "callback_quiet",
    "NOTIFY_CALLBACK_EARLY_LIMIT": "callback_early_limit",
    "NOTIFY_CALLBACK_EARLY_TTL": "callback_early_ttl",
    "TWILIO_ACCOUNT_SID": "account_sid",
    "TWILIO_AUTH_TOKEN": "auth_token",
    "TWILIO_API_KEY": "api_key",
    "TWILIO_API_SECRET": "api_secret",
    "NOTIFY_SANDBOX_AUTH_TOKEN": "sandbox_auth_token",
    "NOTIFY_THEME": "theme",
}
"""Environment variable to setting."""

FILE_KEYS = frozenset(ENVIRONMENT.values())
SECRET_KEYS = frozenset({"auth_token", "api_secret", "sandbox_auth_token"})


def default_data_dir() -> Path:
    """The user's data directory for notify-tui (``NOTIFY_DATA_DIR`` overrides it)."""
    override = os.environ.get("NOTIFY_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def default_config_path() -> Path:
    """The TOML config file (``NOTIFY_CONFIG`` overrides it)."""
    override = os.environ.get("NOTIFY_CONFIG")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


POLICY_KEYS = {
    "immediate_codes",
    "immediate_mode",
    "repeat_codes",
    "repeat_count",
    "repeat_mode",
    "invalid_mode",
    "threshold_share",
    "threshold_min",
}


def _policy(table: object, path: Path) -> OptOutPolicy:
    """The ``[optout]`` table of the config file as a policy; defaults for what is absent."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [optout] must be a table")
    unknown = sorted(set(table) - POLICY_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown [optout] setting(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    modes = ", ".join(m.value for m in RuleMode)
    # Errors name the key, never the value: a secret pasted in the wrong place must not show.
    for key, value in table.items():
        try:
            if key.endswith("_codes"):
                if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
                    raise ValueError
                values[key] = frozenset(value)
            elif key.endswith("_mode"):
                values[key] = RuleMode(str(value))
            elif key == "threshold_share":
                values[key] = float(value)
            else:
                values[key] = int(value)
        except (ValueError, TypeError):
            kind = (
                "a list of error codes"
                if key.endswith("_codes")
                else f"one of {modes}"
                if key.endswith("_mode")
                else "a number"
                if key == "threshold_share"
                else "a whole number"
            )
            raise ConfigError(f"{path}: [optout] {key} must be {kind}") from None
    try:
        return OptOutPolicy(**values)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: [optout] {exc}") from None


SENDER_KEYS = frozenset({"rate"})

MAX_KEY_LENGTH = 100
"""A key string longer than this is a paste gone wrong."""


def _keys(table: object, path: Path) -> Mapping[str, str]:
    """The ``[keys]`` table of the config file: binding id to the keys that do it instead."""
    example = '[keys] maps a binding id to keys, such as "details.export" = "x"'
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {example}")
    keys: dict[str, str] = {}
    for binding, value in table.items():
        name = binding.strip()
        if not isinstance(value, str):
            raise ConfigError(f'{path}: [keys] {name} must be a string of keys, such as "x"')
        spelled = ",".join(key.strip() for key in value.split(",") if key.strip())
        if not name or not spelled or len(spelled) > MAX_KEY_LENGTH:
            raise ConfigError(f"{path}: {example}")
        keys[name] = spelled
    return MappingProxyType(keys)


def _rate(value: object, where: str) -> float:
    """A number of messages per second in range, or a one-line ``ConfigError`` naming ``where``."""
    try:
        rate = math.nan if isinstance(value, bool) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        rate = math.nan
    if not 0 < rate <= MAX_SEND_RATE:  # NaN is in no range
        raise ConfigError(
            f"{where} must be a number of messages per second above 0 and at most {MAX_SEND_RATE:,}"
        )
    return rate


def _sender_rates(table: object, path: Path) -> Mapping[str, float]:
    """The ``[senders."+15551234567"]`` tables of the config file: each sender's own pace."""
    if not isinstance(table, dict):
        raise ConfigError(f'{path}: [senders] must hold tables such as [senders."+15551234567"]')
    rates: dict[str, float] = {}
    for sender, settings in table.items():
        name = sender.strip()
        if not name or not isinstance(settings, dict):
            raise ConfigError(
                f'{path}: [senders] must hold tables such as [senders."+15551234567"], '
                f"one per From number or Messaging Service SID"
            )
        unknown = sorted(set(settings) - SENDER_KEYS)
        if unknown:
            raise ConfigError(
                f'{path}: unknown [senders."{name}"] setting(s): {", ".join(unknown)}'
            )
        if "rate" in settings:
            rates[name] = _rate(settings["rate"], f'{path}: [senders."{name}"] rate')
    return MappingProxyType(rates)


def _read_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    if not path.exists():
        return {}, []
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    warnings: list[str] = []
    if "optout" in raw:
        values["policy"] = _policy(raw["optout"], path)
    if "senders" in raw:
        values["sender_rates"] = _sender_rates(raw["senders"], path)
    if "keys" in raw:
        values["keys"] = _keys(raw["keys"], path)
    for section in (raw, raw.get("twilio", {}) if isinstance(raw.get("twilio"), dict) else {}):
        for key, value in section.items():
            if isinstance(value, dict):
                continue
            if key not in FILE_KEYS:
                warnings.append(f"{path}: unknown setting {key!r} ignored")
                continue
            values[key] = value
    if SECRET_KEYS & values.keys():
        mode = path.stat().st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            warnings.append(
                f"{path} holds a secret and is readable by other users: run chmod 600 {path}"
            )
    return values, warnings


def _coerce(name: str, value: Any, source: str) -> Any:
    if value is None:
        return None
    if name in SECRET_KEYS:
        return Secret(str(value)) if str(value) else None
    if name == "price_per_segment":
        try:
            price = abs(Decimal(str(value)))
        except InvalidOperation:
            price = Decimal("NaN")
        if not price.is_finite() or price > MAX_PRICE_PER_SEGMENT:
            raise ConfigError(
                f"{source}: price_per_segment must be a number from 0 to {MAX_PRICE_PER_SEGMENT}"
            )
        return price
    if name == "send_rate":
        return _rate(value, f"{source}: send_rate")
    if name == "outage_limit":
        try:
            limit = float(value)
        except (TypeError, ValueError):
            limit = math.nan
        if not 1 <= limit <= MAX_OUTAGE_LIMIT:  # NaN is in no range
            raise ConfigError(
                f"{source}: outage_limit must be a number of seconds from 1 to {MAX_OUTAGE_LIMIT:,}"
            )
        return limit
    if name == "callback_early_limit":
        try:
            count = int(str(value).strip().replace("_", ""))
        except ValueError:
            count = -1
        if not 0 <= count <= MAX_EARLY_LIMIT:
            raise ConfigError(
                f"{source}: callback_early_limit must be a whole number from 0 to "
                f"{MAX_EARLY_LIMIT:,}"
            )
        return count
    if name == "callback_early_ttl":
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = math.nan
        if not 1 <= seconds <= MAX_EARLY_TTL:  # NaN is in no range
            raise ConfigError(
                f"{source}: callback_early_ttl must be a number of seconds from 1 to "
                f"{MAX_EARLY_TTL:,}"
            )
        return seconds
    if name in ("callback_grace", "callback_quiet"):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = math.nan
        if not 1 <= seconds <= MAX_OUTAGE_LIMIT:  # NaN is in no range
            raise ConfigError(
                f"{source}: {name} must be a number of seconds from 1 to {MAX_OUTAGE_LIMIT:,}"
            )
        return seconds
    text = str(value).strip()
    if name == "status_callback_url" and text:
        _check_callback_url(text, source)
    if name == "provider_url" and text:
        _check_provider_url(text, source)
    if name == "default_region" and text:
        return _checked_region(text, source)
    if name in ("timezone", "quiet_hours") and text:
        return _checked_schedule(name, text, source)
    if name == "timezone":
        return "UTC"
    return text or None


def _checked_schedule(name: str, text: str, source: str) -> str:
    """A time zone name or a quiet-hours window, checked; anything else a ``ConfigError``."""
    from notify_tui.domain.schedule import ScheduleError, zone

    try:
        if name == "timezone":
            zone(text)
            return text
        from notify_tui.domain.quiet_hours import QuietHours

        return str(QuietHours.parse(text))
    except ScheduleError as exc:
        raise ConfigError(f"{source}: {name}: {exc}") from None


MAX_PRICE_PER_SEGMENT = Decimal(1000)
"""A price per segment above this is a mistake (a misplaced decimal point), in any currency."""

MAX_SEND_RATE = 1_000_000

MAX_OUTAGE_LIMIT = 7 * 24 * 3600

MAX_EARLY_LIMIT = 1_000_000
"""Early callbacks kept at most: each is a row of a few hundred bytes."""

MAX_EARLY_TTL = 24 * 3600
"""A create's answer is recorded within seconds of Twilio's; a day is already far past it."""


def _checked_region(text: str, source: str) -> str:
    """A country code phonenumbers knows (``GB``), upper-cased; anything else a ConfigError."""
    import phonenumbers  # only when a region is configured: the app starts without it

    code = text.upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(
            f"{source}: default_region must be a two-letter country code such as US, GB or DE, "
            f"not {text[:20]!r}"
        )
    return code


def _check_provider_url(url: str, source: str) -> None:
    """A provider URL is ``http(s)://host[:port][/path]``; anything else is a ``ConfigError``."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{source}: the provider URL must be http://host or https://host")
    if port == -1 or port == 0:
        raise ConfigError(f"{source}: the port of the provider URL must be from 1 to 65535")
    if parts.username or parts.password:
        raise ConfigError(
            f"{source}: the provider URL must not carry credentials: set TWILIO_ACCOUNT_SID and "
            "TWILIO_AUTH_TOKEN (or the config file) instead"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{source}: the provider URL takes no ?query or #fragment")


def _check_callback_url(url: str, source: str) -> None:
    """A status callback URL is ``http(s)://host[:port]/path[?query]``, exactly as the provider
    will call it (and sign it); anything else is a ``ConfigError``."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{source}: the status callback URL must be http://host/path or https://host/path"
        )
    if port == -1 or port == 0:
        raise ConfigError(f"{source}: the port of the status callback URL must be from 1 to 65535")
    if parts.username or parts.password or parts.fragment:
        raise ConfigError(f"{source}: the status callback URL takes no credentials or #fragment")


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
    data_dir: Path | None = None,
) -> Settings:
    """Resolve settings: ``flags`` win over ``environ``, which wins over the file and defaults."""
    env = os.environ if environ is None else environ
    path = config_path or default_config_path()
    file_values, warnings = _read_file(path)
    resolved: dict[str, Any] = {}
    for name, value in file_values.items():
        if name in ("policy", "sender_rates", "keys"):
            resolved[name] = value
            continue
        resolved[name] = _coerce(name, value, f"config file {path}")
    for variable, name in ENVIRONMENT.items():
        if env.get(variable):
            resolved[name] = _coerce(name, env[variable], f"environment variable {variable}")
    for name, value in (flags or {}).items():
        if value is not None:
            resolved[name] = _coerce(name, value, f"option --{name.replace('_', '-')}")
    known = {f.name for f in fields(Settings)}
    settings = Settings(
        data_dir=data_dir or default_data_dir(),
        config_path=path,
        **{k: v for k, v in resolved.items() if k in known and v is not None},
    )
    if settings.api_key and not settings.account_sid:
        raise ConfigError(
            "TWILIO_API_KEY needs TWILIO_ACCOUNT_SID too: the account is in every URL"
        )
    if settings.account_sid and not (settings.auth_token or settings.api_secret):
        raise ConfigError(
            "TWILIO_ACCOUNT_SID is set but neither TWILIO_AUTH_TOKEN nor TWILIO_API_SECRET is"
        )
    return replace(settings, warnings=tuple(warnings))
