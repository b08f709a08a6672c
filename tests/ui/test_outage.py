"""The app during an outage (issue 12, item 8): a line at the top says since when and the last
error, the app stays responsive and keeps trying, and the line goes once the provider answers."""

from __future__ import annotations

import httpx
from textual.widgets import Input

from notify_tui.config import load_settings
from notify_tui.provider import (
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AUTH_TOKEN,
    ProviderConfig,
    TwilioClient,
)
from notify_tui.provider.client import SANDBOX_BASE_URL
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.runtime import Runtime
from notify_tui.store.models import Message, utcnow
from notify_tui.ui.app import make_app
from notify_tui.ui.widgets.outage_banner import OutageBanner
from tests.provider.support import number_with
from tests.ui.seed import Person, send_live, wait_until

DNS = "[Errno -2] Name or service not known"


class Switch(httpx.AsyncBaseTransport):
    """The sandbox, or no route to it (the name does not resolve) while ``down``."""

    def __init__(self, sandbox: SandboxApp) -> None:
        self.inner = httpx.ASGITransport(app=sandbox)
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError(DNS, request=request)
        return await self.inner.handle_async_request(request)


async def test_an_outage_shows_at_the_top_and_goes_when_the_provider_answers(
    runtime: Runtime, sandbox: SandboxApp
) -> None:
    people = [Person(number_with("delivered", prefix=f"+120255{i}"), f"P {i}") for i in "12"]
    await send_live(runtime, "Live", people)
    switch = Switch(sandbox)
    config = ProviderConfig(
        account_sid=SANDBOX_ACCOUNT_SID, password=SANDBOX_AUTH_TOKEN, base_url=SANDBOX_BASE_URL
    )
    client = TwilioClient(config, switch, backoff_base=0.001, max_total_delay=0.01)
    app_runtime = Runtime(load_settings(), runtime.database, client)
    switch.down = True
    Message.update(next_poll_at=utcnow()).execute()  # due now
    app = make_app(app_runtime, first_run_demo=False)
    async with app.run_test(size=(100, 24)) as pilot:
        banner = app.screen.query_one(OutageBanner)
        await wait_until(pilot, lambda: banner.has_class("-down"))
        shown = banner.render().plain  # type: ignore[union-attr]
        assert "Provider unreachable since" in shown and "retrying" in shown
        assert "Name or service not known" in shown
        # Still answering keys meanwhile.
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press("escape")

        switch.down = False
        Message.update(next_poll_at=utcnow()).execute()
        await wait_until(pilot, lambda: not banner.has_class("-down"), tries=600)
        assert not banner.display
    await client.aclose()
