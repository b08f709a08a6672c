"""One base for every error that is the user's mistake or their environment's.

Every user-facing error derives from ``NotifyError``; the CLI and the app turn it into one line
with ``user_message``. Anything else is a bug and keeps its traceback. This module sits below
every layer and imports nothing of the package.
"""

from __future__ import annotations


class NotifyError(Exception):
    """An error a user can act on: ``explain()`` says what happened, in one line."""

    def explain(self) -> str:
        """The one line the CLI prints and the app notifies (``str(self)`` unless overridden)."""
        return str(self)


def user_message(exc: BaseException) -> str | None:
    """A one-line explanation of ``exc``, or ``None`` when it is a bug."""
    if isinstance(exc, NotifyError):
        return exc.explain()
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return None
