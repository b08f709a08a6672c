"""The command line: a user's mistake is one line on stderr and a non-zero exit, and only what
a command uses is loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from notify_tui.cli import build_parser, main
from notify_tui.commands import DEMO_CAMPAIGNS, STATUS_CHOICES, Deferred


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["sandbox", "--callback-drop-rate", "2"], "callback_drop_rate must be between 0 and 1"),
        (["sandbox", "--callback-delay", "-1"], "callback_delay must be a finite number"),
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


# -- start-up: the parser loads argparse alone, each command its own module when it runs --------

ROOT = Path(__file__).resolve().parents[1]

HEAVY = ("httpx", "textual", "rich", "peewee", "phonenumbers", "uvicorn")
"""Packages neither the parser nor ``--help`` needs (nor does ``notify_tui.services``, nor the
modules of the commands): loading them is most of the app's start-up time."""

LOADED_BY = """
import contextlib, io, json, sys
from notify_tui.cli import build_parser, main
for argv in json.loads(sys.argv[1]):
    if argv and argv[-1] in ("--help", "--version"):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main(argv)
    else:
        build_parser().parse_args(argv)
heavy = ("notify_tui.services", "notify_tui.store", "notify_tui.provider", "notify_tui.ui",
         "notify_tui.commands.")
print(" ".join(sorted(
    m for m in sys.modules if m.split(".")[0] in sys.argv[2].split() or m.startswith(heavy)
)))
"""


def loaded_by(*argvs: list[str]) -> list[str]:
    """The heavy modules a fresh interpreter has loaded after parsing each of ``argvs`` (and
    printing the help of those that end in ``--help``)."""
    result = subprocess.run(
        [sys.executable, "-c", LOADED_BY, json.dumps(argvs), " ".join(HEAVY)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_parsing_the_apps_arguments_loads_neither_the_services_nor_httpx_nor_textual() -> None:
    assert loaded_by([], ["--database-url", "sqlite:///x.db", "--provider-url", "http://h"]) == []


COMMANDS = [
    ["campaigns"],
    ["export", "1"],
    ["contacts", "import", "f.csv"],
    ["demo"],
    ["doctor"],
    ["optout", "1"],
    ["optin", "1"],
    ["optouts"],
    ["suggestions"],
    ["poll"],
    ["sandbox"],
    ["send"],
]


FIRST_FRAME = """
import sys
import notify_tui.services.demo, notify_tui.ui.app, notify_tui.ui.screens.history
late = ("notify_tui.provider", "notify_tui.services.poller", "notify_tui.services.sender")
print(" ".join(sorted(
    m for m in sys.modules if m.split(".")[0] in ("httpx", "phonenumbers") or m.startswith(late)
)))
"""


def test_historys_first_frame_loads_neither_httpx_nor_the_provider_nor_the_services() -> None:
    # What the app loads before History's first frame (the app, History, the first-run demo
    # check): the poller and the senders, with httpx and the provider, load once they are used.
    result = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []


def test_help_version_and_parsing_any_command_load_nothing_heavy() -> None:
    helps = [["--help"], ["--version"], ["contacts", "import", "--help"]]
    helps += [[argv[0], "--help"] for argv in COMMANDS]
    assert loaded_by(*helps, *COMMANDS) == []


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_each_command_names_a_handler_that_exists(argv: list[str]) -> None:
    handler = build_parser().parse_args(argv).handler
    assert isinstance(handler, Deferred)
    loaded = handler.load()
    assert callable(loaded) and loaded.__name__ == handler.function


def test_the_parsers_spelled_out_defaults_agree_with_their_sources() -> None:
    from notify_tui.domain.status import Status
    from notify_tui.services.demo import DEMO_CAMPAIGNS as DEMOS

    assert tuple(s.value for s in Status) == STATUS_CHOICES
    assert len(DEMOS) == DEMO_CAMPAIGNS
