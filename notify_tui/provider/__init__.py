"""The provider: a Twilio Messages API client over httpx, its errors, and a sandbox provider.

Never imports Textual, the store, the services or the UI.
"""

from notify_tui.provider.client import (
    API_VERSION,
    DEFAULT_BASE_URL,
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AUTH_TOKEN,
    ProviderConfig,
    TwilioClient,
    sandbox_client,
)
from notify_tui.provider.errors import (
    AuthenticationError,
    CreateOutcomeUnknownError,
    InvalidResponseError,
    NotFoundError,
    ProviderError,
    ProviderFaultError,
    ProviderTimeoutError,
    RateLimitedError,
    RefusedError,
    ServerError,
    TransportError,
)
from notify_tui.provider.messages import ProviderMessage
from notify_tui.provider.signature import SIGNATURE_HEADER, signature_matches, twilio_signature

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "SANDBOX_ACCOUNT_SID",
    "SANDBOX_AUTH_TOKEN",
    "SIGNATURE_HEADER",
    "AuthenticationError",
    "CreateOutcomeUnknownError",
    "InvalidResponseError",
    "NotFoundError",
    "ProviderConfig",
    "ProviderError",
    "ProviderFaultError",
    "ProviderMessage",
    "ProviderTimeoutError",
    "RateLimitedError",
    "RefusedError",
    "ServerError",
    "TransportError",
    "TwilioClient",
    "sandbox_client",
    "signature_matches",
    "twilio_signature",
]
