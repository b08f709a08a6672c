"""The app against a misbehaving provider (``tests.misbehaving``): answers about other messages
are never applied, the user is told once, and the message's note says why it stays Unknown."""

from __future__ import annotations

from notify_tui.config import load_settings
from notify_tui.provider import sandbox_client
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.runtime import Runtime
from notify_tui.store.models import Contact, Message, OptOutEvent, ProviderFault
from notify_tui.ui.app import NotifyApp, make_app
from tests.misbehaving import FOREIGN_SID, Misbehaving
from tests.ui.details_support import open_details
from tests.ui.seed import Person, send_live, wait_until


def notifications(app: NotifyApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


async def test_answers_about_other_messages_are_told_never_applied() -> None:
    sandbox = SandboxApp(speed=40.0, seed=5)
    provider = Misbehaving(sandbox)
    opened = Runtime.open(load_settings())
    client = sandbox_client(provider, max_retries=0)  # type: ignore[arg-type]
    runtime = Runtime(opened.settings, opened.database, client)
    people = [Person(f"+1415778{i:04d}", f"Person {i}") for i in range(5)]
    campaign_id = await send_live(runtime, "Foreign answers", people)
    provider.modes["foreign_fetch"] = 1
    app = make_app(runtime, first_run_demo=False)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await open_details(app, pilot, campaign_id)
            await wait_until(pilot, lambda: any("Provider fault" in n for n in notifications(app)))
            await wait_until(pilot, lambda: ProviderFault.select().count() >= 5)
            told = [n for n in notifications(app) if "Provider fault" in n]
            assert len(told) == 1, "one notification, however many faults"
            assert "foreign sid" in told[0] and FOREIGN_SID in told[0]
            assert "notify-tui doctor" in told[0]
    finally:
        await runtime.aclose()
        sandbox.close()
    statuses = {s for (s,) in Message.select(Message.status).tuples()}
    assert statuses == {"unknown"}
    notes = {n for (n,) in Message.select(Message.note).tuples()}
    assert all(n and n.startswith("provider fault: foreign sid") for n in notes)
    assert Contact.select().where(Contact.opted_out).count() == 0
    assert OptOutEvent.select().count() == 0
