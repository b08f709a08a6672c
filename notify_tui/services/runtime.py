"""What a process needs for its jobs: the settings, the open workspace and one provider client.

The CLI and the app both build a ``Runtime`` from ``Settings``; nothing is built at import time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from notify_tui.store.db import open_workspace, private_file, private_folder

if TYPE_CHECKING:
    from peewee import Database

    from notify_tui.config import Settings
    from notify_tui.provider import TwilioClient
    from notify_tui.provider.sandbox import SandboxApp
    from notify_tui.services.health import Outage, ProviderHealth
    from notify_tui.services.poller import Poller
    from notify_tui.store.updates import AppliedUpdates

SANDBOX_FROM = "+15005550006"
"""The sender the built-in sandbox sends from when none is configured (Twilio's test From)."""


def build_client(settings: Settings) -> tuple[TwilioClient, SandboxApp | None]:
    """The provider client the settings call for (Twilio, a remote sandbox, or the built-in
    one), and the built-in sandbox app when it is the provider (it must be closed too)."""
    # Imported here, not with the module: the app opens a runtime before its first frame and
    # needs the client (httpx, the provider, the sandbox) only once it polls or sends.
    from notify_tui.provider import (
        DEFAULT_BASE_URL,
        SANDBOX_ACCOUNT_SID,
        ProviderConfig,
        TwilioClient,
        sandbox_client,
    )
    from notify_tui.provider.sandbox import SandboxApp

    if settings.uses_sandbox:
        # Its messages hold the numbers and texts sent: private, like the workspace.
        private_folder(settings.data_dir)
        private_file(settings.sandbox_state_path)
        app = SandboxApp(state_path=settings.sandbox_state_path)
        return sandbox_client(app), app
    username, password = settings.basic_auth() or ("", "")
    config = ProviderConfig(
        account_sid=settings.account_sid or SANDBOX_ACCOUNT_SID,
        username=username,
        password=password,
        base_url=settings.provider_url or DEFAULT_BASE_URL,
    )
    return TwilioClient(config), None


@dataclass
class Runtime:
    """The settings, the open workspace and (built on first use) the provider client."""

    settings: Settings
    database: Database
    _client: TwilioClient | None = field(default=None, repr=False)
    _sandbox: SandboxApp | None = field(default=None, repr=False)
    _health: ProviderHealth | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """Open the workspace the settings name (creating or migrating its schema)."""
        database = open_workspace(settings.database_url, settings.sqlite_path)
        return cls(settings, database)

    @property
    def client(self) -> TwilioClient:
        """The one provider client of this process."""
        if self._client is None:
            self._client, self._sandbox = build_client(self.settings)
        return self._client

    @property
    def health(self) -> ProviderHealth:
        """How the provider has been answering this process: one for its senders and poller,
        so that an outage is seen (and shown) whichever of them meets it."""
        if self._health is None:
            from notify_tui.services.health import ProviderHealth

            if self.settings.provider_url:
                self._health = ProviderHealth.for_url(self.settings.provider_url)
            elif self.settings.uses_sandbox:
                self._health = ProviderHealth("the built-in sandbox")
            else:
                self._health = ProviderHealth("api.twilio.com")
        return self._health

    @property
    def outage(self) -> Outage | None:
        """The provider's current outage; ``None`` also before anything asked the provider
        (without importing the provider's modules: the app's first frame doesn't need them)."""
        return None if self._health is None else self._health.outage

    @property
    def sender(self) -> dict[str, str | None]:
        """The ``From`` or ``MessagingServiceSid`` campaigns are sent from."""
        if self.settings.messaging_service_sid:
            return {"from_": None, "messaging_service_sid": self.settings.messaging_service_sid}
        number = self.settings.from_number or (
            "+15005550006" if self.settings.uses_sandbox else None
        )
        return {"from_": number, "messaging_service_sid": None}

    @property
    def push_options(self) -> dict[str, Any]:
        """What a sender needs to ask for status callbacks (none without
        ``status_callback_url``)."""
        url = self.settings.status_callback_url
        if not url:
            return {}
        return {"status_callback": url, "callback_grace": self.settings.callback_grace}

    @staticmethod
    def load_provider_modules() -> None:
        """Import what the client and the poller are built from (httpx, the provider, the
        sandbox, the poller: about half a second). Safe on a worker thread, so that a UI can
        stay responsive meanwhile; ``make_poller`` then only builds."""
        import notify_tui.provider
        import notify_tui.provider.sandbox
        import notify_tui.services.optout_policy
        import notify_tui.services.poller  # noqa: F401

    def policy_hook(self) -> Callable[[AppliedUpdates], Awaitable[None]]:
        """What a poller or a sender calls after each batch it writes: the opt-out policy of
        the settings judges the batch's resolutions, on a thread (it writes to the store).
        Senders need it too: refusals such as 21614 (landline) resolve at send time."""
        from notify_tui.services.optout_policy import apply_to_updates

        policy = self.settings.policy

        async def apply_policy(applied: AppliedUpdates) -> None:
            await asyncio.to_thread(apply_to_updates, applied, policy)

        return apply_policy

    def make_poller(self, **options: Any) -> Poller:
        """A poller on this runtime's client that applies the opt-out policy as it resolves."""
        from notify_tui.services.poller import Poller

        options.setdefault("health", self.health)
        return Poller(self.client, on_applied=self.policy_hook(), **options)

    async def aclose(self) -> None:
        """Close the client and the workspace."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
        self.close()

    def close(self) -> None:
        """Close the workspace connection of this thread."""
        if not self.database.is_closed():
            self.database.close()
