"""New campaign: live size and cost, the summary before sending, sending from the app."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static, TextArea

from notify_tui.domain.status import Reason, Status
from notify_tui.provider import sandbox_client
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.runtime import Runtime
from notify_tui.store.campaigns import campaign_page
from notify_tui.store.models import Campaign, Message
from notify_tui.store.optouts import SOURCE_MANUAL, opt_out
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.dialogs.campaign_plan import CampaignPlanDialog
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.screens.compose import ComposeScreen
from notify_tui.ui.screens.history import HistoryScreen
from notify_tui.ui.widgets.campaign_table import CampaignTable
from tests.ui.seed import Person, fixed_clock, seed_contacts, wait_until
from tests.ui.shown import notifications

PEOPLE = [
    Person("+14155550101", "Ada Lovelace"),
    Person("+14155550102", "Grace Hopper"),
    Person("+14155550103", "Alan Turing"),
    Person("+14155550104", "Edsger Dijkstra"),
    Person("+14155550105", "Barbara Liskov"),
    Person("+14155550106", "Donald Knuth"),
]


def text_of(app: NotifyApp, selector: str) -> str:
    """What a ``Static`` shows, as plain text on long lines (a table too)."""
    widget = app.screen.query_one(selector, Static)
    console = Console(width=300, file=io.StringIO(), record=True)
    console.print(widget.content)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()).strip()


@pytest.fixture
def fast(runtime: Runtime) -> Runtime:
    """The runtime, sending ten messages a second (a campaign of a few takes under a second)."""
    runtime.settings = replace(runtime.settings, send_rate=10.0)
    return runtime


async def open_compose(app: NotifyApp, pilot: Pilot) -> ComposeScreen:
    await pilot.press("n")
    await wait_until(pilot, lambda: isinstance(app.screen, ComposeScreen))
    screen = app.screen
    assert isinstance(screen, ComposeScreen)
    return screen


async def write(
    pilot: Pilot, screen: ComposeScreen, *, name: str, body: str, path: str = ""
) -> None:
    """Type the name and the message as a user would; paste the file's path."""
    screen.query_one("#compose-name", Input).focus()
    await pilot.press(*name)
    await pilot.press("enter")  # on to the message
    assert screen.app.focused is screen.query_one("#compose-body", TextArea)
    await pilot.press(*body)
    if path:
        box = screen.query_one("#compose-file", Input)
        box.focus()
        box.insert_text_at_cursor(path)
    await pilot.pause()


async def review(app: NotifyApp, pilot: Pilot) -> CampaignPlanDialog:
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: isinstance(app.screen, CampaignPlanDialog))
    dialog = app.screen
    assert isinstance(dialog, CampaignPlanDialog)
    return dialog


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["phone,name", *(f"{phone},{name}" for phone, name in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_counts_size_encoding_and_cost_as_you_type(runtime: Runtime) -> None:
    seed_contacts(PEOPLE)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="Spring", body="Hi {you}")
        size = text_of(app, "#compose-size")
        # The braces are GSM-7 extension characters: two units each.
        assert "8 characters · GSM-7 · 1 segment (150 to spare)" in size
        assert "$0.0079 a message" in size
        assert "≈ $0.0474 for 6 contacts" in size  # not "≈ $0.05" (issue 14)
        # A field: filled in per recipient, and the screen says so (issue 17).
        assert text_of(app, "#compose-encoding") == (
            "Personal message: {you} filled in for each recipient (the review shows their "
            "segments; {{ and }} are literal braces)."
        )
        body = screen.query_one("#compose-body", TextArea)
        body.text = "Hi {you"
        await pilot.pause()
        assert text_of(app, "#compose-encoding") == (
            "message template, column 4: a '{' that is never closed (write {{ for a literal brace)."
        )
        body = screen.query_one("#compose-body", TextArea)
        body.text = "Hi you"
        await pilot.pause()
        assert text_of(app, "#compose-encoding") == ""
        body.text = "Hi {you}"
        await pilot.pause()

        await pilot.press("ç")  # not in GSM-7 (only the capital is)
        await pilot.pause()
        size = text_of(app, "#compose-size")
        assert "9 characters · UCS-2 · 1 segment (61 to spare)" in size
        encoding = text_of(app, "#compose-encoding")
        assert "UCS-2 because of “ç” (LATIN SMALL LETTER C WITH CEDILLA)" in encoding
        # Typographic quotes, as word processors write them, are the usual culprit.
        screen.query_one("#compose-body", TextArea).text = "It’s spring"
        await pilot.pause()
        encoding = text_of(app, "#compose-encoding")
        assert "UCS-2 because of “’” (RIGHT SINGLE QUOTATION MARK)" in encoding

        body = screen.query_one("#compose-body", TextArea)
        body.text = "x" * 161
        await pilot.pause()
        assert "161 characters · GSM-7 · 2 segments" in text_of(app, "#compose-size")
        # The price of a message is shown to the tenth of a cent, not "$0.02" (issue 14).
        assert "$0.0158 a message · ≈ $0.0948 for 6 contacts" in text_of(app, "#compose-size")
        body.text = "x" * 1601
        await pilot.pause()
        assert "refuses more than 1,600" in text_of(app, "#compose-size")


async def test_the_estimate_leaves_out_opted_out_contacts(runtime: Runtime) -> None:
    from notify_tui.store.optouts import opt_out

    seed_contacts(PEOPLE)
    opt_out(PEOPLE[0].phone, source="manual", reason="asked", actor="ann")
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 24)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="Spring", body="Hi there")
        assert "≈ $0.0395 for 5 contacts" in text_of(app, "#compose-size")
        audience = text_of(app, "#compose-audience")
        assert "All contacts: 6 numbers, 1 of them opted out (skipped)" in audience


async def test_summary_of_a_csv_file_counts_skips_invalid_and_duplicates(
    runtime: Runtime, tmp_path: Path
) -> None:
    seed_contacts(PEOPLE)
    opt_out("+14155550102", source=SOURCE_MANUAL, reason="asked", actor="ann")
    csv = write_csv(
        tmp_path / "audience.csv",
        [
            ("+14155550101", "Ada"),
            ("(415) 555-0102", "Grace (opted out)"),
            ("415-555-0103", "Alan"),
            ("+14155550101", "Ada again"),
            ("555-01", "Typo Tom"),
            ("", "Nobody"),
        ],
    )
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="From a file", body="Hello", path=str(csv))
        assert "The CSV file" in text_of(app, "#compose-audience")
        dialog = await review(app, pilot)
        plan = dialog.plan
        assert (plan.to_send, plan.skipped_opted_out, plan.invalid, plan.duplicates) == (
            2,
            1,
            1,
            1,
        )
        summary = text_of(app, "#plan-summary")
        assert "2 messages" in summary
        assert "1 number skipped · saves ≈ $0.0079" in summary
        assert "1 number: recorded as Failed (Invalid number), never sent" in summary
        assert "1 left out: each number gets one message" in summary
        assert "1 line of the file left out (why: see File)" in summary
        assert "≈ $0.0158 (2 segments at $0.0079)" in summary
        assert "line 6" in summary  # the invalid line, shown in detail
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert Campaign.select().count() == 0  # nothing recorded before Send


async def test_send_to_all_contacts_shows_progress_then_sent(
    fast: Runtime, sandbox: SandboxApp
) -> None:
    seed_contacts(PEOPLE)
    opt_out("+14155550106", source=SOURCE_MANUAL, reason="asked", actor="ann")
    fast.settings = replace(fast.settings, send_rate=3.0)  # five messages: over a second
    app = make_app(fast, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="[@click=app.quit]Sale", body="Hello from the test")
        dialog = await review(app, pilot)
        assert "[@click=app.quit]Sale" in text_of(app, "#plan-summary")
        await pilot.click("#plan-summary")
        assert app.is_running
        assert dialog.plan.to_send == 5 and dialog.plan.skipped_opted_out == 1
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        table = app.screen.query_one(CampaignTable)

        await wait_until(pilot, lambda: "sending" in table.render_line(1).text)
        assert "[@click=app.quit]Sale" in table.render_line(1).text  # literally, not markup
        await wait_until(pilot, lambda: campaign_page()[0].state == "sent")
        await wait_until(pilot, lambda: "sending" not in table.render_line(1).text)
        # The campaign's name shows literally in the toast: it was not parsed as markup.
        sent = "Campaign sent: “[@click=app.quit]Sale”: 5 messages submitted"
        await wait_until(pilot, lambda: any(n.startswith(sent) for n in notifications(app)))
        assert app.is_running
    campaign = campaign_page()[0]
    assert (campaign.recipients, campaign.submitted, campaign.skipped_opted_out) == (5, 5, 1)
    assert sandbox.stats()["create"] == 5


async def test_invalid_numbers_are_recorded_as_failed_and_never_sent(
    fast: Runtime, sandbox: SandboxApp, tmp_path: Path
) -> None:
    csv = write_csv(
        tmp_path / "audience.csv",
        [("+14155550101", "Ada"), ("+14155550103", "Alan"), ("555-01", "Typo Tom")],
    )
    app = make_app(fast, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="With a typo", body="Hello", path=str(csv))
        dialog = await review(app, pilot)
        assert (dialog.plan.to_send, dialog.plan.invalid) == (2, 1)
        await pilot.press("y")
        await wait_until(pilot, lambda: campaign_page()[0].state == "sent")
    typo = Message.get(Message.phone == "555-01")
    assert (typo.status, typo.reason, typo.send_state, typo.sid) == (
        Status.FAILED.value,
        Reason.INVALID_NUMBER.value,
        "invalid",
        None,
    )
    stats = sandbox.stats()
    assert (stats["create"], stats["created"]) == (2, 2)


@pytest.mark.parametrize(
    ("path", "content", "expected"),
    [
        ("missing.csv", None, "cannot read"),
        ("no-phone.csv", "name,email\nAda,ada@example.com\n", "no phone column"),
        ("empty.csv", "", "is empty"),
    ],
)
async def test_file_problems_show_inline(
    runtime: Runtime, tmp_path: Path, path: str, content: str | None, expected: str
) -> None:
    file = tmp_path / path
    if content is not None:
        file.write_text(content, encoding="utf-8")
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="Broken", body="Hello", path=str(file))
        await pilot.press("ctrl+r")
        status = screen.query_one("#compose-status")
        await wait_until(pilot, lambda: expected in str(status.render()))
        assert "Can't send yet" in str(status.render())
        assert "Traceback" not in str(status.render())
        assert app.focused is screen.query_one("#compose-file", Input)
        assert isinstance(app.screen, ComposeScreen)
        await pilot.pause()
        assert notifications(app, "error") == []


async def test_a_name_and_a_message_are_needed(runtime: Runtime) -> None:
    seed_contacts(PEOPLE)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compose(app, pilot)
        await pilot.press("ctrl+r")
        assert "Give the campaign a name." in text_of(app, "#compose-status")
        assert app.focused is screen.query_one("#compose-name", Input)
        await pilot.press(*"Named", "ctrl+r")
        assert "The message is empty." in text_of(app, "#compose-status")
        assert app.focused is screen.query_one("#compose-body", TextArea)


async def test_escape_asks_before_discarding(runtime: Runtime) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compose(app, pilot)
        await pilot.press("escape")  # nothing written: straight back
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        screen = await open_compose(app, pilot)
        await pilot.press(*"Draft", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is screen)
        await pilot.press("escape", "y")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))


async def test_hostile_file_names_and_lines_show_literally(
    runtime: Runtime, tmp_path: Path
) -> None:
    folder = tmp_path / "[bold]x"
    folder.mkdir()
    csv = write_csv(
        folder / "[@click=app.quit]list.csv",
        [("+14155550101", "[@click=app.quit]Ada"), ("[b]555[/b]", "Bob [/] Smith")],
    )
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="Hostile", body="Hello", path=str(csv))
        assert "[bold]x/[@click=app.quit]list.csv" in text_of(app, "#compose-audience")
        await review(app, pilot)
        summary = text_of(app, "#plan-summary")
        assert "[bold]x/[@click=app.quit]list.csv (2 lines)" in summary
        assert "'[b]555[/b]'" in summary  # the invalid line, as written
        await pilot.click("#plan-summary", offset=(20, 2))
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, CampaignPlanDialog)


async def test_a_personal_message_is_previewed_then_each_gets_their_own_text(
    fast: Runtime, sandbox: SandboxApp, tmp_path: Path
) -> None:
    csv = write_csv(
        tmp_path / "audience.csv",
        [("+14155550101", "Ada Lovelace"), ("+14155550103", "Zoë Ng"), ("+14155550104", "")],
    )
    app = make_app(fast, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="Hello", body="Hi {first_name|there}!", path=str(csv))
        await review(app, pilot)
        summary = text_of(app, "#plan-summary")
        assert "22 characters · GSM-7 · 1 segment for the template" in summary
        assert "personal ({first_name|there}), each recipient's own text: 1 segment per" in (
            summary
        )
        assert "1 recipient in UCS-2 because of their values: Zoë Ng (+14155550103) ('ë')" in (
            summary
        )
        assert "Ada Lovelace (+14155550101): Hi Ada!" in summary
        assert "+14155550104: Hi there!" in summary
        await pilot.press("y")
        await wait_until(pilot, lambda: campaign_page()[0].state == "sent")
    assert dict(Message.select(Message.phone, Message.body).tuples()) == {
        "+14155550101": "Hi Ada!",
        "+14155550103": "Hi Zoë!",
        "+14155550104": "Hi there!",
    }
    sent: dict[str, list[str | None]] = {}
    async with sandbox_client(sandbox) as client:
        for phone in ("+14155550101", "+14155550103", "+14155550104"):
            async for page in client.list_messages(to=phone):
                sent.setdefault(phone, []).extend(m.body for m in page)
    assert sent == {
        "+14155550101": ["Hi Ada!"],
        "+14155550103": ["Hi Zoë!"],
        "+14155550104": ["Hi there!"],
    }


async def test_a_blank_field_is_refused_before_anything_is_recorded(
    runtime: Runtime, tmp_path: Path
) -> None:
    csv = write_csv(tmp_path / "audience.csv", [("+14155550101", "Ada"), ("+14155550104", "")])
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="Hello", body="Hi {first_name}", path=str(csv))
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "blank" in text_of(app, "#compose-status"))
        assert "1 recipient would get a blank: +14155550104 has no {first_name}" in text_of(
            app, "#compose-status"
        )
        assert isinstance(app.screen, ComposeScreen)
    assert Campaign.select().count() == 0


async def test_a_semicolon_separated_file_is_read_and_the_summary_says_so(
    runtime: Runtime, tmp_path: Path
) -> None:
    csv = tmp_path / "europe.csv"
    csv.write_text("name;phone\nAda;+14155550101\nAlan;415-555-0103\n", encoding="utf-8")
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="From Excel", body="Hello", path=str(csv))
        dialog = await review(app, pilot)
        assert dialog.plan.to_send == 2
        assert "cells separated by semicolons" in text_of(app, "#plan-summary")


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
async def test_review_buttons_stay_on_screen_with_a_messy_csv_file(
    runtime: Runtime, tmp_path: Path, size: tuple[int, int]
) -> None:
    seed_contacts(PEOPLE)
    rows = [(f"+1415555{i:04d}", f"Person {i}") for i in range(200, 210)]
    rows += [(f"555-{i:02d}", f"Typo {i}") for i in range(12)]  # a dozen lines rejected
    csv = write_csv(tmp_path / "audience.csv", rows)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="From a file", body="Hello", path=str(csv))
        dialog = await review(app, pilot)
        await pilot.pause()
        for button in dialog.query(Button):
            region = button.region
            assert region.height and region.bottom <= size[1], (button.id, region)
            assert region.right <= size[0], (button.id, region)


async def test_ctrl_t_replaces_lookalikes_and_shows_the_saving_first(runtime: Runtime) -> None:
    seed_contacts(PEOPLE)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="Spring", body="Plain text")
        assert "ctrl+t" not in text_of(app, "#compose-encoding")
        assert not screen.check_action("smart_encoding", ())  # not offered: nothing to replace

        body = screen.query_one("#compose-body", TextArea)
        body.text = "Don’t miss it — " + "x" * 60
        await pilot.pause()
        assert "76 characters · UCS-2 · 2 segments" in text_of(app, "#compose-size")
        encoding = text_of(app, "#compose-encoding")
        # Six contacts: 12 segments become 6, at $0.0079 each.
        assert (
            "ctrl+t replaces ’ — with GSM-7 lookalikes: 2 → 1 segments a message, saves "
            "$0.0474 for 6 contacts." in encoding
        )
        assert screen.check_action("smart_encoding", ())

        await pilot.press("ctrl+t")
        await pilot.pause()
        assert body.text == "Don't miss it - " + "x" * 60
        assert "76 characters · GSM-7 · 1 segment" in text_of(app, "#compose-size")
        assert "ctrl+t" not in text_of(app, "#compose-encoding")
        assert text_of(app, "#compose-status") == (
            "2 characters replaced: ’ → ', — → - · ctrl+z puts them back"
        )
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert body.text == "Don’t miss it — " + "x" * 60

        # An emoji has no lookalike: it is named, and the message stays UCS-2.
        body.text = "It’s here 🎉"
        await pilot.pause()
        encoding = text_of(app, "#compose-encoding")
        assert (
            "ctrl+t replaces ’ with GSM-7 lookalikes: 1 segment a message, saves nothing "
            "for 6 contacts (🎉 has none: still UCS-2)." in encoding
        )
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert body.text == "It's here 🎉"


async def test_ctrl_t_keeps_a_personal_message_s_fields(runtime: Runtime, tmp_path: Path) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="Hi", body="x", path=str(tmp_path / "people.csv"))
        body = screen.query_one("#compose-body", TextArea)
        body.text = "Hi {first_name|you…}, it’s ｛SPRING｝"
        await pilot.pause()
        # A file's audience is counted at review: the saving is a message's.
        assert "saves nothing a message" in text_of(app, "#compose-encoding")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert body.text == "Hi {first_name|you...}, it's {{SPRING}}"


async def test_the_review_says_who_quiet_hours_hold_and_until_when(runtime: Runtime) -> None:
    seed_contacts(PEOPLE)  # San Francisco numbers: 04:00 there on the app's clock
    runtime.settings = replace(runtime.settings, quiet_hours="21:00-08:00", timezone="UTC")
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="Early", body="Good morning")
        dialog = await review(app, pilot)
        assert dialog.plan.quiet is not None and dialog.plan.quiet.held == len(PEOPLE)
        summary = text_of(app, "#plan-summary")
        assert (
            f"Quiet hours 21:00-08:00 (recipient's clock): {len(PEOPLE)} recipients held: "
            f"{len(PEOPLE)} until 08:00 America/Los_Angeles"
        ) in summary


async def test_send_at_waits_in_the_store_and_history_says_when(
    fast: Runtime, sandbox: SandboxApp
) -> None:
    seed_contacts(PEOPLE)
    app = make_app(fast, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await open_compose(app, pilot)
        await write(pilot, screen, name="New year", body="Happy new year")
        at = screen.query_one("#compose-at", Input)
        at.focus()
        at.insert_text_at_cursor("2030-01-01 10:00 Mars/Base")
        await pilot.press("ctrl+r")
        await wait_until(
            pilot, lambda: "unknown time zone 'Mars/Base'" in text_of(app, "#compose-status")
        )
        assert app.focused is at
        at.value = "2030-01-01 10:00 Europe/Berlin"
        dialog = await review(app, pilot)
        assert dialog.plan.send_at == datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
        summary = text_of(app, "#plan-summary")
        assert "Waits in the store until 2030-01-01 10:00 Europe/Berlin" in summary
        await pilot.press("y")
        await wait_until(pilot, lambda: campaign_page()[0].state == "scheduled")
        await wait_until(pilot, lambda: any("Campaign scheduled" in n for n in notifications(app)))
    assert sandbox.stats().get("create", 0) == 0
    campaign = campaign_page()[0]
    assert campaign.timezone == "Europe/Berlin" and campaign.wake_at == datetime(2030, 1, 1, 9)
