"""Provider faults: answers that are not about what was asked, or hold values the API never sends.

A fault is never applied to a message and never reaches the opt-out policy: it is recorded (what
was asked, what came back), counted and shown. The checks live in ``provider.answers``; this
module holds only the values, so that the store can keep them without knowing HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Fault", "FaultKind", "Operation", "clip"]


class Operation(StrEnum):
    """The request a fault answered."""

    CREATE = "create"
    FETCH = "fetch"
    LIST = "list"
    CANCEL = "cancel"
    CALLBACK = "callback"
    """A status callback the provider pushed (``notify-tui callbacks``)."""


class FaultKind(StrEnum):
    """What was wrong with an answer. The value is stored, and shown as is."""

    FOREIGN_SID = "foreign sid"
    """A fetch answered about another message than the one asked for."""
    FOREIGN_TO = "foreign to"
    """The answer is about another recipient than the one the request named."""
    FOREIGN_ACCOUNT = "foreign account"
    """The answer belongs to another account than ours."""
    FOREIGN_SENDER = "foreign sender"
    """A list page holds a message of another sender than the one asked for."""
    OUTSIDE_DATES = "outside the dates asked"
    """A list page holds a message sent outside the date range asked for."""
    REPEATED_SID = "repeated sid"
    """A create answered with a SID another message of the workspace already holds."""
    BAD_VALUE = "value outside the API"
    """A status, code, count, price or SID the API never sends (or one that contradicts
    another field, such as error fields on a delivered message)."""
    OVERSIZED = "oversized answer"
    """An answer larger than any legitimate one: read no further."""
    FOREIGN_PAGE = "foreign page"
    """``next_page_uri`` leaves the origin or the account's Messages list."""

    @property
    def mismatch(self) -> bool:
        """True when the answer is not about the question at all (rather than about it, with
        values the API never sends): a create answered so may or may not have made a message."""
        return self is not FaultKind.BAD_VALUE


CLIP = 200
"""Characters of a raw value kept in a fault record or a note."""


def clip(value: object, limit: int = CLIP) -> str:
    """``value`` as printable text of at most ``limit`` characters (a ``repr`` for non-strings)."""
    text = value if isinstance(value, str) else repr(value)
    text = "".join(c if c.isprintable() else "?" for c in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Fault:
    """One provider answer that was not applied, and why."""

    kind: FaultKind
    operation: Operation
    asked: str
    """What the request asked for, e.g. ``sid SMa…`` or ``To +14155550100``."""
    answered: str
    """What came back that did not fit, e.g. ``sid SMe…`` or ``status 'exploded'``."""
    sid: str | None = None
    """The SID the answer carried, when it carried a readable one."""
    message_id: int | None = None
    """Our message the question was about, once the service knows it."""
    campaign_id: int | None = None

    @property
    def text(self) -> str:
        """One line for the user: ``fetch: foreign sid (asked sid SMa…, answered sid SMe…)``."""
        return f"{self.operation}: {self.kind} (asked {self.asked}; answered {self.answered})"

    @property
    def note(self) -> str:
        """What a message's detail column shows of a fault about it."""
        return f"provider fault: {self.kind}: {self.answered}"
