"""One line for the user from an exception that is their mistake or their environment's.

The CLI and the app both use this: anything it recognises becomes a sentence; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations


def user_message(exc: BaseException) -> str | None:
    """A one-line explanation of ``exc``, or ``None`` when it is a bug."""
    from notify_tui.services.contacts_import import ContactsFileError
    from notify_tui.services.sender import SendError
    from notify_tui.store.db import WorkspaceError

    if isinstance(exc, WorkspaceError | ContactsFileError | SendError):
        return str(exc)
    try:
        from notify_tui.provider.errors import AuthenticationError, NotFoundError, ProviderError
    except ImportError:  # pragma: no cover - the provider package is always there
        ProviderError = AuthenticationError = NotFoundError = ()  # type: ignore[misc,assignment]
    if isinstance(exc, AuthenticationError):
        return (
            "the provider refused the credentials (20003): check TWILIO_ACCOUNT_SID and "
            "TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)"
        )
    if isinstance(exc, NotFoundError):
        # Only a create reaches the user with a 404: the account or the address is wrong.
        return (
            f"the provider does not know this account or address ({exc}): check "
            "TWILIO_ACCOUNT_SID and NOTIFY_PROVIDER_URL"
        )
    if isinstance(exc, ProviderError):
        return f"the provider failed: {exc}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return None
