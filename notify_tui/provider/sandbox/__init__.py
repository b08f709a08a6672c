"""A provider that speaks Twilio's Messages API, in process or over HTTP, for tests and demos.

Build one with ``SandboxApp(...)``; mount it in process with
``notify_tui.provider.sandbox_client(app)``, or serve it with ``run_sandbox_server(...)``.
"""

from notify_tui.provider.sandbox.app import (
    DEFAULT_PRICE_PER_SEGMENT,
    FAILED_MESSAGE_FEE,
    SandboxApp,
)
from notify_tui.provider.sandbox.faults import ConnectionDropped, Faults
from notify_tui.provider.sandbox.outcomes import OUTCOMES, TEST_NUMBERS, Outcome, outcome_for
from notify_tui.provider.sandbox.state import MEMORY

__all__ = [
    "DEFAULT_PRICE_PER_SEGMENT",
    "FAILED_MESSAGE_FEE",
    "MEMORY",
    "OUTCOMES",
    "TEST_NUMBERS",
    "ConnectionDropped",
    "Faults",
    "Outcome",
    "SandboxApp",
    "outcome_for",
]
