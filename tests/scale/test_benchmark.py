"""``benchmarks/run.py --quick`` runs end to end and ends with its JSON line (figures not judged:
speed is the benchmark's business, not the tests')."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")

FIGURES = {
    "details_open_s",
    "details_end_s",
    "rss_mb",
    "history_open_s",
    "startup_s",
    "stock_datatable_100k_s",
    "send_rate",
    "resolve_rate",
    "requests_per_1000_resolved",
    "resolve_rate_with_policy",
}


def test_a_small_run_prints_every_figure(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "TWILIO_"))}
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "run.py"),
        "--quick",
        # Sizes that run every measurement through (the figures are the benchmark's business):
        # the quick run's 100,000 recipients took a minute of a test process's time.
        "--recipients",
        "3000",
        "--campaigns",
        "50",
        "--pending",
        "3000",  # a few list pages: requests per 1,000 resolved says something
        "--sends",
        "100",
        "--datatable-rows",
        "500",
        "--workdir",
        str(tmp_path / "bench"),
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert not FIGURES - set(figures), sorted(FIGURES - set(figures))
    assert all(figures[name] > 0 for name in FIGURES)
    assert figures["details_rows"] == 3000 and figures["history_campaigns"] == 50
    assert figures["requests_per_1000_resolved"] < 2


def test_a_small_run_on_postgresql_prints_every_figure(tmp_path: Path) -> None:
    from tests.conftest import postgres_url

    url = postgres_url()
    if url is None:
        pytest.skip("no PostgreSQL server")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "TWILIO_"))}
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "run.py"),
        "--quick",
        "--database-url",
        url,
        "--only",
        "details,history,startup,datatable,send,resolve,resolve_policy",
        "--recipients",
        "3000",
        "--campaigns",
        "50",
        "--pending",
        "500",
        "--sends",
        "100",
        "--datatable-rows",
        "500",
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["database"] == "postgresql"
    assert not FIGURES - set(figures), sorted(FIGURES - set(figures))
    assert figures["details_rows"] == 3000 and figures["history_campaigns"] == 50
    assert figures["resolve_rate_resolved"] == 500
