"""The hardening tests' marks. Their workspaces (``workspace_url`` on each database,
``sqlite_url``) are the shared ones of ``tests/conftest.py``."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: a long test (the big import); NOTIFY_TEST_IMPORT_LINES sets its size"
    )
