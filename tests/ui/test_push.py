"""The app with status callbacks configured: Details' header says whether statuses arrive by
push or by polling, and a receiver gone quiet while messages are pending is noticed (a warning;
polling takes over)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from notify_tui.services.runtime import Runtime
from notify_tui.store import callbacks as early_store
from notify_tui.store.models import Message, utcnow
from notify_tui.ui.app import make_app
from notify_tui.ui.widgets.campaign_header import CampaignHeader
from tests.provider.support import number_with
from tests.ui.details_support import open_details
from tests.ui.seed import Person, send_live, wait_until
from tests.ui.shown import lines_of, notifications


async def test_the_header_says_push_then_polling_when_callbacks_stop(runtime: Runtime) -> None:
    # Accepted by the carrier, no receipt yet: pending while push is expected to bring it.
    people = [Person(number_with("sent", prefix=f"+120255{i}"), f"P {i}") for i in "12"]
    campaign_id = await send_live(runtime, "Pushed", people)
    settings = replace(
        runtime.settings, status_callback_url="https://hooks.example.com/s", callback_quiet=60.0
    )
    app_runtime = Runtime(settings, runtime.database, runtime.client)
    early_store.note_received(utcnow())  # a receiver is getting callbacks
    app = make_app(app_runtime, first_run_demo=False)
    async with app.run_test(size=(100, 24), notifications=True) as pilot:
        await open_details(app, pilot, campaign_id)
        header = app.screen.query_one(CampaignHeader)
        await wait_until(pilot, lambda: "live (push)" in lines_of(header)[0])

        # The receiver goes quiet while messages are pending: said once, and polling takes over.
        early_store.note_received(utcnow() - timedelta(minutes=5))
        Message.update(next_poll_at=utcnow()).execute()
        await wait_until(pilot, lambda: "live (polling)" in lines_of(header)[0], tries=600)
        await wait_until(pilot, lambda: bool(notifications(app, "warning")))
        warning = notifications(app, "warning")[0]
        assert warning.startswith("Push stopped:") and "notify-tui callbacks" in warning


async def test_without_callbacks_configured_the_header_is_as_before(runtime: Runtime) -> None:
    people = [Person(number_with("delivered", prefix="+1202553"), "P")]
    campaign_id = await send_live(runtime, "Pulled", people)
    app = make_app(runtime, first_run_demo=False)
    async with app.run_test(size=(100, 24)) as pilot:
        await open_details(app, pilot, campaign_id)
        header = app.screen.query_one(CampaignHeader)
        await pilot.pause(0.2)
        assert "(push)" not in lines_of(header)[0] and "(polling)" not in lines_of(header)[0]
