"""The provider package stands alone: no Textual, no store, no services, no UI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]

PROBE = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "textual" or name.startswith("textual."):
            raise ImportError("textual is blocked in the provider layer")
        return None

sys.meta_path.insert(0, Block())
import notify_tui.provider
import notify_tui.provider.sandbox
import notify_tui.provider.sandbox.server
banned = ("textual", "notify_tui.store", "notify_tui.services", "notify_tui.ui", "notify_tui.cli")
loaded = sorted(m for m in sys.modules if m.startswith(banned))
print(",".join(loaded))
"""


def test_provider_imports_without_textual_store_services_or_ui() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
