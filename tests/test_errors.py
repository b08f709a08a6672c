"""One error base: every error a user can act on is a ``NotifyError`` and reads as one line."""

from __future__ import annotations

import errno
from datetime import UTC, datetime

import pytest

from notify_tui.commands import CommandError
from notify_tui.config import ConfigError
from notify_tui.errors import NotifyError, user_message
from notify_tui.provider.errors import (
    AuthenticationError,
    CreateOutcomeUnknownError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    TransportError,
)
from notify_tui.services.contacts_import import ContactsFileError
from notify_tui.services.sender import SendError
from notify_tui.store.db import WorkspaceError
from notify_tui.store.optouts import OptInRefused


@pytest.mark.parametrize(
    "error",
    [
        CommandError("no campaign 7"),
        ConfigError("config.toml: send_rate must be above zero"),
        ContactsFileError("contacts.csv: no phone column"),
        SendError("no recipients"),
        WorkspaceError("cannot open the workspace"),
        OptInRefused("+14155550123 replied STOP"),
    ],
)
def test_an_error_a_user_can_act_on_reads_as_its_own_message(error: NotifyError) -> None:
    assert isinstance(error, NotifyError)
    assert user_message(error) == str(error)


def test_provider_errors_say_what_to_check() -> None:
    auth = AuthenticationError("POST /Messages.json refused", http_status=401, code=20003)
    assert "check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" in (user_message(auth) or "")
    missing = NotFoundError("POST /Messages.json: not found", http_status=404, code=20404)
    assert user_message(missing) == (
        "the provider does not know this account or address (POST /Messages.json: not found "
        "(HTTP 404, code 20404)): check TWILIO_ACCOUNT_SID and NOTIFY_PROVIDER_URL"
    )
    busy = RateLimitedError("slow down")
    assert user_message(busy) == "the provider failed: slow down (HTTP 429, code 20429)"
    dropped = TransportError("connection dropped")
    unknown = CreateOutcomeUnknownError(
        "create may have reached the provider",
        to="+14155550123",
        attempted_at=datetime(2026, 1, 1, tzinfo=UTC),
        cause=dropped,
    )
    for error in (dropped, unknown):
        assert isinstance(error, ProviderError)
        assert user_message(error) == f"the provider failed: {error}"


def test_an_environment_failure_is_one_line_and_a_bug_is_none() -> None:
    gone = FileNotFoundError(errno.ENOENT, "No such file or directory", "/tmp/x.csv")
    assert user_message(gone) == "No such file or directory: /tmp/x.csv"
    assert user_message(KeyError("bug")) is None
    assert user_message(ValueError("bug")) is None
