"""One base for every error that is the user's mistake or their environment's.

Every user-facing error derives from ``NotifyError``; the CLI and the app turn it into one line
with ``user_message``. Anything else is a bug and keeps its traceback. This module sits below
every layer and imports nothing of the package.
"""

from __future__ import annotations

from collections.abc import Callable


class NotifyError(Exception):
    """An error a user can act on: ``explain()`` says what happened, in one line."""

    def explain(self) -> str:
        """The one line the CLI prints and the app notifies (``str(self)`` unless overridden)."""
        return str(self)


Translator = Callable[[BaseException], "NotifyError | None"]
_translators: list[Translator] = []


def add_translator(translate: Translator) -> None:
    """Let a layer explain its driver's exceptions: ``translate`` answers the ``NotifyError``
    an exception amounts to, or ``None``. The store adds one for database errors (a full disk,
    a damaged file, a lost server) when it is imported, so nothing is imported here."""
    if translate not in _translators:
        _translators.append(translate)


def user_message(exc: BaseException) -> str | None:
    """A one-line explanation of ``exc``, or ``None`` when it is a bug."""
    if isinstance(exc, NotifyError):
        return exc.explain()
    for translate in _translators:
        explained = translate(exc)
        if explained is not None:
            return explained.explain()
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return None
