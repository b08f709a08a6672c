"""The auth token and the API secret never show: not in reprs, errors, logs, exports, command
output, the process's command line or the screen."""

from __future__ import annotations

import asyncio
import base64
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from notify_tui.cli import main
from notify_tui.config import ConfigError, Secret, load_settings
from notify_tui.provider import (
    SANDBOX_ACCOUNT_SID,
    ProviderConfig,
    ProviderError,
    TwilioClient,
)
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.export import export_campaign
from notify_tui.services.runtime import Runtime, build_client
from notify_tui.services.sender import prepare_campaign
from notify_tui.store.sending import NewRecipient
from tests.provider.support import LiveServer

from .support import CLI, ROOT, SENDER, subprocess_env

TOKEN = "tok_S3cr3t-4uth-T0ken-9f8e7d"
API_SECRET = "sec_Ap1-K3y-S3cr3t-1a2b3c"
API_KEY = "SK" + "0" * 32
SERVER_TOKEN = "srv_R1ght-T0ken-5555"


def never_shows(text: str, *secrets: str) -> None:
    """None of ``secrets`` is in ``text``, nor their Basic auth encodings."""
    for secret in secrets or (TOKEN, API_SECRET, SERVER_TOKEN):
        assert secret not in text
        for user in (SANDBOX_ACCOUNT_SID, API_KEY):
            assert base64.b64encode(f"{user}:{secret}".encode()).decode() not in text


def credentials(provider_url: str | None = None, *, api_key: bool = False) -> dict[str, str]:
    env = {"TWILIO_ACCOUNT_SID": SANDBOX_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TOKEN}
    if api_key:
        env.update({"TWILIO_API_KEY": API_KEY, "TWILIO_API_SECRET": API_SECRET})
    if provider_url:
        env["NOTIFY_PROVIDER_URL"] = provider_url
    return env


@pytest.fixture
def guarded_sandbox() -> Iterator[LiveServer]:
    """A sandbox over real HTTP that wants ``SERVER_TOKEN``, which our credentials are not."""
    app = SandboxApp(auth_token=SERVER_TOKEN, seed=5)
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()
    app.close()


def test_settings_and_provider_config_never_show_secrets(tmp_path: Path) -> None:
    settings = load_settings(environ=credentials(api_key=True), config_path=tmp_path / "none")
    for text in (repr(settings), str(settings), f"{settings}", repr(settings.auth_token)):
        never_shows(text)
    assert settings.basic_auth() == (API_KEY, API_SECRET)  # the one place that reveals it
    assert repr(Secret(TOKEN)) == str(Secret(TOKEN)) == "Secret('********')"
    client, _ = build_client(settings)
    try:
        never_shows(repr(client.config))
        never_shows(repr(client))
    finally:
        asyncio.run(client.aclose())
    runtime = Runtime.open(settings)
    try:
        never_shows(repr(runtime))
    finally:
        runtime.close()


@pytest.mark.parametrize(
    "content",
    [
        f'auth_token = "{TOKEN}',  # unterminated string
        f"auth_token = {TOKEN}\n",  # not a string at all
        f'[twilio]\naccount_sid = "AC1"\nauth_token = "{TOKEN}"\nauth_token = "{TOKEN}"\n',
        f'auth_tokn = "{TOKEN}"\n',  # a misspelt key: warned about by name, not by value
        f'[optout]\nimmediate_mode = "{TOKEN}"\n',
    ],
)
def test_config_errors_and_warnings_never_show_secrets(
    tmp_path: Path,
    content: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(content)
    path.chmod(0o644)
    try:
        settings = load_settings(environ={}, config_path=path)
    except ConfigError as exc:
        never_shows(str(exc), TOKEN)
    else:
        never_shows(" ".join(settings.warnings), TOKEN)
    # The same file through the command: one line, no secret.
    monkeypatch.setenv("NOTIFY_CONFIG", str(path))
    main(["campaigns"])
    captured = capsys.readouterr()
    never_shows(captured.out + captured.err, TOKEN)


def test_a_password_in_the_database_url_never_shows(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://notify:Db-Pa55word-XYZ@127.0.0.1:1/notify"
    assert main(["--database-url", url, "campaigns"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("notify-tui: error: cannot open the workspace at postgresql://")
    assert "Db-Pa55word-XYZ" not in err and "********" in err


def test_a_401_from_the_provider_never_shows_the_token(
    guarded_sandbox: LiveServer,
    tmp_path: Path,
    sqlite_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name, value in credentials(guarded_sandbox.base_url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NOTIFY_FROM", SENDER)
    caplog.set_level(logging.DEBUG)
    campaign_id = prepare_campaign(
        "Auth", "Hi", [NewRecipient("+14155550100")], sender=SENDER
    ).campaign_id

    assert main(["--database-url", sqlite_url, "send", "--resume", str(campaign_id)]) == 1
    send = capsys.readouterr()
    assert "the provider refused the credentials (HTTP 401, code 20003)" in send.err
    assert send.err.count("\n") == 1
    assert main(["--database-url", sqlite_url, "poll", "--once"]) == 0
    poll = capsys.readouterr()
    export = tmp_path / "export.csv"
    export_campaign(campaign_id, export)
    never_shows(send.out + send.err + poll.out + poll.err + export.read_text())
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    # httpx logged the request and httpcore every step of it, over real HTTP, at DEBUG...
    assert "HTTP Request: POST" in logged and "httpcore" in logged
    never_shows(logged)  # ...and not one of them carries a credential


async def test_provider_errors_and_debug_logs_never_show_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Even a provider (or proxy) that echoes the credentials back in its errors."""
    basic = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()

    def echo(request: httpx.Request) -> httpx.Response:
        header = request.headers["authorization"]
        assert header == f"Basic {basic}"  # it was sent, as it must be
        if request.method == "POST":
            body = {"code": 21211, "message": f"bad To; you sent {API_SECRET} ({header})"}
            return httpx.Response(400, json=body)
        if request.url.path.endswith("Messages.json"):
            return httpx.Response(500, json={"code": 20500, "message": f"oops {API_SECRET}"})
        return httpx.Response(404, json={"code": 20404, "message": f"{header} {API_SECRET}"})

    caplog.set_level(logging.DEBUG)
    config = ProviderConfig(
        account_sid=SANDBOX_ACCOUNT_SID,
        username=API_KEY,
        password=API_SECRET,
        base_url="https://api.example.test",
    )
    errors: list[ProviderError] = []
    async with TwilioClient(config, httpx.MockTransport(echo), max_retries=1, backoff_base=0) as c:
        for call in (
            c.create_message("+14155550100", "Hi", from_=SENDER),
            c.fetch_message("SM" + "1" * 32),
            anext(c.list_messages(to="+14155550100")),
        ):
            with pytest.raises(ProviderError) as caught:
                await call
            errors.append(caught.value)
    for error in errors:
        never_shows(f"{error} {error!r} {error.message} {error.args}", API_SECRET)
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "httpx" in logged  # httpx did log the requests...
    never_shows(logged, API_SECRET)  # ...without the credentials


@pytest.mark.skipif(sys.platform != "linux", reason="needs /proc")
def test_the_token_is_never_on_the_command_line_of_the_process(
    tmp_path: Path, sqlite_url: str, guarded_sandbox: LiveServer
) -> None:
    env = subprocess_env(tmp_path, sqlite_url, **credentials(guarded_sandbox.base_url))
    process = subprocess.Popen(
        [*CLI, "poll", "--timeout", "20"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        cmdline = Path(f"/proc/{process.pid}/cmdline")
        seen = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and process.poll() is None and len(seen) < 4:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode() if cmdline.exists() else ""
            if "notify_tui" in text:  # empty, or the parent's, until the child has started
                seen.append(text)
            time.sleep(0.2)
        assert seen, "the process ended before its command line could be read"
        for text in seen:
            never_shows(text)
            assert "poll" in text
    finally:
        process.kill()
        process.wait(10)


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_this_process_s_title_carries_no_secret_after_the_app_is_configured() -> None:
    settings = load_settings(environ=credentials(api_key=True))
    client, _ = build_client(settings)
    asyncio.run(client.aclose())
    never_shows(Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode())


async def test_the_screen_never_shows_the_token(
    guarded_sandbox: LiveServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("textual")
    from notify_tui.ui.app import make_app

    for name, value in credentials(guarded_sandbox.base_url, api_key=True).items():
        monkeypatch.setenv(name, value)
    settings = load_settings(flags={"database_url": sqlite_url})
    prepare_campaign("On screen", "Hi", [NewRecipient("+14155550100")], sender=SENDER)
    runtime = Runtime.open(settings)
    try:
        app = make_app(runtime, first_run_demo=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            screens = [app.export_screenshot()]
            await pilot.press("enter")
            await pilot.pause(0.5)
            screens.append(app.export_screenshot())
            await pilot.press("f1")
            await pilot.pause(0.2)
            screens.append(app.export_screenshot())
        for svg in screens:
            never_shows(svg)
    finally:
        await runtime.aclose()
