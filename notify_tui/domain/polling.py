"""When to ask the provider again about a message that is still Unknown.

Young messages change fast, old ones rarely: the delay grows with the message's age, and after
the carriers' reporting window the app stops asking.
"""

from __future__ import annotations

from datetime import timedelta

POLL_WINDOW = timedelta(hours=72)
"""Carriers still report within this window; past it a message keeps Unknown for good."""

MIN_DELAY = timedelta(seconds=2)
MAX_DELAY = timedelta(hours=1)


def next_poll_delay(age: timedelta) -> timedelta | None:
    """How long to wait before the next look at a message of this ``age``; ``None``: stop."""
    if age >= POLL_WINDOW:
        return None
    # A quarter of the age: 2 s for a new message, 15 min at one hour, capped at one hour.
    delay = max(MIN_DELAY, age / 4)
    return min(delay, MAX_DELAY)
