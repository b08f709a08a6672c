"""``notify-tui sandbox`` as a server others can reach: the auth token guards every path (the
control endpoints too), it comes from the environment or the config file so that ``ps`` never
shows it, and without one the server listens on loopback only."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from notify_tui.commands.sandbox import _loopback_only
from notify_tui.provider import SANDBOX_ACCOUNT_SID
from tests.services.test_send_e2e import free_port, stop

from .support import CLI, ROOT, subprocess_env

TOKEN = "right-token-5f1c"
MESSAGES = f"/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Messages.json"


class GuardedSandbox:
    """``notify-tui sandbox`` in its own process, its token given by ``env`` or the config."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *flags: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "sandbox.log"
        command = [*CLI, "sandbox", "--port", str(self.port), "--quiet", *flags]
        command += ["--state", str(tmp_path / "sandbox.db")]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 20
        while True:
            assert self.process.poll() is None, self.log.read_text()
            try:
                httpx.get(f"{self.url}/", timeout=1)
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the sandbox did not start within 20 s"
                time.sleep(0.1)

    def close(self) -> None:
        stop(self.process)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return subprocess_env(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")


@pytest.fixture
def guarded(tmp_path: Path, env: dict[str, str]) -> Iterator[GuardedSandbox]:
    server = GuardedSandbox(tmp_path, {**env, "NOTIFY_SANDBOX_AUTH_TOKEN": TOKEN})
    yield server
    server.close()


def test_every_path_needs_the_token_the_control_endpoints_too(guarded: GuardedSandbox) -> None:
    right = (SANDBOX_ACCOUNT_SID, TOKEN)
    wrong = (SANDBOX_ACCOUNT_SID, "wrong")
    anyone = ("ops", TOKEN)  # the control endpoints take any user name with the token
    with httpx.Client(base_url=guarded.url, timeout=10) as http:
        for auth in (None, wrong):
            assert (
                http.post("/_sandbox/faults", json={"error_rate": 1}, auth=auth).status_code == 401
            )
            assert http.get("/_sandbox/faults", auth=auth).status_code == 401
            assert http.get("/_sandbox/stats", auth=auth).status_code == 401
            assert http.get("/anything/else", auth=auth).status_code == 401
            assert http.get(MESSAGES, auth=auth).status_code == 401
            create = {"To": "+14155550100", "From": "+15005550006", "Body": "Hi"}
            assert http.post(MESSAGES, data=create, auth=auth).status_code == 401
        # Nothing changed while they knocked: no fault switched on, nothing created.
        faults = http.get("/_sandbox/faults", auth=anyone)
        assert faults.status_code == 200 and faults.json()["error_rate"] == 0
        stats = http.get("/_sandbox/stats", auth=right).json()
        assert stats["unauthorized"] >= 12
        assert http.get(MESSAGES, auth=right).json()["messages"] == []
        created = http.post(
            MESSAGES,
            data={"To": "+14155550100", "From": "+15005550006", "Body": "Hi"},
            auth=right,
        )
        assert created.status_code == 201
        assert http.get("/anything/else", auth=right).status_code == 404
        changed = http.post("/_sandbox/faults", json={"latency": 0.01}, auth=anyone)
        assert changed.status_code == 200 and changed.json()["latency"] == 0.01


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc (Linux)")
def test_a_token_from_the_environment_or_the_config_never_shows_in_ps(
    tmp_path: Path, env: dict[str, str], guarded: GuardedSandbox
) -> None:
    cmdline = Path(f"/proc/{guarded.process.pid}/cmdline").read_bytes()
    assert TOKEN.encode() not in cmdline
    assert b"Basic auth required on every path" in guarded.log.read_bytes()
    assert TOKEN not in guarded.log.read_text()

    config = tmp_path / "config.toml"
    config.write_text(f'sandbox_auth_token = "{TOKEN}-file"\n', encoding="utf-8")
    config.chmod(0o600)
    (tmp_path / "second").mkdir()
    server = GuardedSandbox(tmp_path / "second", {**env, "NOTIFY_CONFIG": str(config)})
    try:
        assert TOKEN.encode() not in Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/_sandbox/stats").status_code == 401
            assert http.get("/_sandbox/stats", auth=("x", f"{TOKEN}-file")).status_code == 200
    finally:
        server.close()


def test_without_a_token_it_listens_on_loopback_only_unless_insecure(
    tmp_path: Path, env: dict[str, str]
) -> None:
    state = ["--state", str(tmp_path / "s.db")]
    refused = subprocess.run(
        [*CLI, "sandbox", "--host", "0.0.0.0", "--port", str(free_port()), *state],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "refusing to serve 0.0.0.0 without an auth token" in refused.stderr
    assert "--insecure" in refused.stderr
    # --insecure gets past the question (to an address this machine does not have: 192.0.2.1 is
    # reserved for documentation), and so does a token: neither is refused for want of one.
    for extra in (["--insecure"], ["--auth-token", "t"]):
        tried = subprocess.run(
            [*CLI, "sandbox", "--host", "192.0.2.1", "--port", str(free_port()), *state, *extra],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert tried.returncode == 1, tried.stderr
        assert "cannot listen on 192.0.2.1:" in tried.stderr and "refusing" not in tried.stderr


def test_a_state_file_that_is_not_a_database_is_one_line(
    tmp_path: Path, env: dict[str, str]
) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone,name\n+14155550100,Ann\n", encoding="utf-8")
    done = subprocess.run(
        [*CLI, "sandbox", "--port", str(free_port()), "--state", str(contacts)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr == (
        f"notify-tui: error: cannot keep the sandbox's state in {contacts}: file is not a "
        "database (--state names a file of its own)\n"
    )
    assert contacts.read_text(encoding="utf-8") == "phone,name\n+14155550100,Ann\n"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("::", False)],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert _loopback_only(host) is loopback


def test_the_bounded_body_still_holds_over_http(guarded: GuardedSandbox) -> None:
    with httpx.Client(base_url=guarded.url, timeout=10) as http:
        huge = http.post(
            MESSAGES, content=b"Body=" + b"x" * 2_000_000, auth=(SANDBOX_ACCOUNT_SID, TOKEN)
        )
    assert huge.status_code == 413


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip(reason="POSIX processes")
