"""Opt-out suggestions: counted in Details and marked in History, reviewed in a dialog."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.pilot import Pilot

from notify_tui.services.runtime import Runtime
from notify_tui.store import suggestions
from notify_tui.store.models import Campaign, Contact, OptOutEvent, OptOutSuggestion
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.dialogs.confirm import ConfirmDialog
from notify_tui.ui.dialogs.suggestions import SuggestionsDialog
from notify_tui.ui.screens.details import DetailsScreen
from notify_tui.ui.screens.history import HistoryScreen
from notify_tui.ui.widgets.campaign_header import CampaignHeader
from notify_tui.ui.widgets.campaign_table import CampaignTable
from notify_tui.ui.widgets.recipient_table import RecipientTable
from notify_tui.ui.widgets.suggestion_table import SuggestionTable
from tests.ui.seed import (
    HOSTILE_NAMES,
    SENT_AT,
    SPRING,
    Person,
    fixed_clock,
    seed_campaign,
    seed_suggestions,
    wait_for_campaigns,
    wait_until,
)
from tests.ui.shown import notifications

GRACE, FRANCES, KEN = "+14155550102", "+14155550107", "+14155550109"


@pytest.fixture
def spring(runtime: Runtime) -> int:
    seed_campaign(
        "Winter newsletter",
        [Person(p, "Earlier", 30005) for p in (GRACE, FRANCES, KEN)],
        sent_at=SENT_AT - timedelta(days=30),
    )
    campaign_id = seed_campaign("Spring sale", SPRING)
    seed_suggestions(campaign_id, [GRACE, FRANCES])
    seed_suggestions(campaign_id, [KEN], held=True)
    return campaign_id


def dialog_table(app: NotifyApp) -> SuggestionTable:
    return app.screen.query_one(SuggestionTable)


def phones(app: NotifyApp) -> list[str]:
    return [s.phone for s in dialog_table(app).suggestions]


def state_of(phone: str) -> str:
    return str(
        OptOutSuggestion.select(OptOutSuggestion.state)
        .where(OptOutSuggestion.phone == phone)
        .scalar()
    )


def opted_out(phone: str) -> bool:
    return bool(Contact.get(Contact.phone == phone).opted_out)


async def open_review(app: NotifyApp, pilot: Pilot, campaign_id: int) -> SuggestionsDialog:
    await app.push_screen(DetailsScreen(campaign_id))
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, DetailsScreen)
    await wait_until(pilot, lambda: screen.loaded)
    await pilot.press("p")
    await wait_until(pilot, lambda: isinstance(app.screen, SuggestionsDialog))
    dialog = app.screen
    assert isinstance(dialog, SuggestionsDialog)
    await wait_until(pilot, lambda: dialog.loaded)
    return dialog


async def test_details_counts_them_and_the_dialog_shows_them(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(DetailsScreen(spring))
        screen = app.screen
        assert isinstance(screen, DetailsScreen)
        await wait_until(pilot, lambda: screen.loaded)
        assert "◆ 3 to opt out? (p)" in app.screen.query_one(CampaignHeader).render().plain
        await app.pop_screen()

        dialog = await open_review(app, pilot, spring)
        assert phones(app) == [GRACE, FRANCES, KEN]
        lines = [dialog_table(app).render_line(y).text for y in range(1, 4)]
        assert all("#1 30005, #2 30003" in line or "#1 30005, #2…" in line for line in lines)
        assert "held" in lines[2] and "held" not in lines[0]
        intro = str(dialog.query_one("#suggestions-intro").render())
        assert "3 numbers to opt out after failures" in intro and "held: the policy" in intro
        detail = str(dialog.query_one("#suggestion-detail").render())
        assert "failed in “Winter newsletter” (30005), “Spring sale” (30003)" in detail


async def test_accept_selected_then_dismiss_the_highlighted(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_review(app, pilot, spring)
        await pilot.press("j", "space")  # select Frances (the cursor moves on to Ken)
        assert dialog_table(app).selected == {dialog_table(app).suggestions[1].id}
        assert "1 selected" in str(dialog.query_one("#suggestions-status").render())
        await pilot.press("a")
        await wait_until(pilot, lambda: phones(app) == [GRACE, KEN])
        assert opted_out(FRANCES) and not opted_out(GRACE) and not opted_out(KEN)
        assert state_of(FRANCES) == "accepted"
        event = OptOutEvent.get(OptOutEvent.phone == FRANCES)
        assert (event.source, event.actor, event.campaign_id) == (
            "policy",
            runtime.settings.operator,
            spring,
        )
        assert event.reason.startswith("suggestion accepted: ")

        await pilot.press("g", "d")  # nothing selected: the highlighted one (Grace)
        await wait_until(pilot, lambda: phones(app) == [KEN])
        assert state_of(GRACE) == "dismissed" and not opted_out(GRACE)

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        details = app.screen
        assert isinstance(details, DetailsScreen)
        header = details.query_one(CampaignHeader)
        await wait_until(pilot, lambda: "◆ 1 to opt out? (p)" in header.render().plain)
        table = details.query_one(RecipientTable)
        frances = next(r for r in table.source.rows(0, 20) if r.phone == FRANCES)
        assert frances.opted_out


async def test_accept_all_asks_then_opts_every_one_out(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await open_review(app, pilot, spring)
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Opt out all 3 numbers?" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SuggestionsDialog))
        assert not opted_out(GRACE)
        await pilot.press("A", "y")
        # Nothing left to review: back to Details, which shows the opt-outs.
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        assert all(opted_out(p) for p in (GRACE, FRANCES, KEN))
        assert suggestions.pending(spring) == []
        table = app.screen.query_one(RecipientTable)
        await wait_until(
            pilot,
            lambda: all(r.opted_out for r in table.source.rows(0, 20) if r.phone == GRACE),
        )
        header = app.screen.query_one(CampaignHeader)
        await wait_until(pilot, lambda: "to opt out?" not in header.render().plain)
        await wait_until(pilot, lambda: any("Opted out 3 numbers" in n for n in notifications(app)))


async def test_dismiss_all_keeps_every_number_in(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_review(app, pilot, spring)
        await pilot.press("D", "y")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        assert not any(opted_out(p) for p in (GRACE, FRANCES, KEN))
        assert {state_of(p) for p in (GRACE, FRANCES, KEN)} == {"dismissed"}


async def test_no_suggestions_no_dialog(runtime: Runtime) -> None:
    campaign_id = seed_campaign("Spring sale", SPRING)
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await app.push_screen(DetailsScreen(campaign_id))
        screen = app.screen
        assert isinstance(screen, DetailsScreen)
        await wait_until(pilot, lambda: screen.loaded)
        await pilot.press("p")
        await pilot.pause()
        assert app.screen is screen
        await wait_until(pilot, lambda: any("suggests no number" in n for n in notifications(app)))


async def test_history_marks_campaigns_with_suggestions(runtime: Runtime, spring: int) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(CampaignTable)
        await wait_for_campaigns(pilot)
        assert _marked(table.render_line(1).text)
        assert not table.render_line(2).text.startswith(" ◆")  # the winter newsletter
        title = app.screen.query_one("#history-title")
        await wait_until(pilot, lambda: "◆ opt-outs to review" in str(title.render()))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        details = app.screen
        await wait_until(pilot, lambda: details.loaded)  # type: ignore[attr-defined]
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, SuggestionsDialog))
        await wait_until(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
        await pilot.press("D", "y")
        await wait_until(pilot, lambda: app.screen is details)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        table = app.screen.query_one(CampaignTable)
        await wait_until(pilot, lambda: _unmarked(table.render_line(1).text))


async def test_history_reviews_a_marked_campaign_s_suggestions(
    runtime: Runtime, spring: int
) -> None:
    """The ◆ in History is reviewable there, not only from Details (issue 14: 23); the key is
    offered on a marked campaign only, and elsewhere says why it does nothing (issue 14: 5)."""
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        history = app.screen
        assert isinstance(history, HistoryScreen)
        table = history.query_one(CampaignTable)
        await wait_for_campaigns(pilot)
        await wait_until(pilot, lambda: _marked(table.render_line(1).text))
        assert history.check_action("review_suggestions", ()) is True
        await pilot.press("j")  # the winter newsletter: nothing suggested
        await wait_until(pilot, lambda: history.check_action("review_suggestions", ()) is False)
        await pilot.press("p")
        await wait_until(pilot, lambda: any("suggests no number" in n for n in notifications(app)))
        assert app.screen is history
        await pilot.press("k", "p")
        await wait_until(pilot, lambda: isinstance(app.screen, SuggestionsDialog))
        await wait_until(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
        assert set(phones(app)) == {GRACE, FRANCES, KEN}
        await pilot.press("D", "y")
        await wait_until(pilot, lambda: app.screen is history)
        await wait_until(pilot, lambda: _unmarked(table.render_line(1).text))
        assert history.check_action("review_suggestions", ()) is False
    assert {state_of(p) for p in (GRACE, FRANCES, KEN)} == {"dismissed"}


async def test_details_header_shows_the_money_opt_outs_saved(runtime: Runtime) -> None:
    campaign_id = seed_campaign("Spring sale", SPRING)
    Campaign.update(skipped_opted_out=25).where(Campaign.id == campaign_id).execute()
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(DetailsScreen(campaign_id))
        await pilot.pause()
        header = app.screen.query_one(CampaignHeader).render().plain
        assert "saved ≈ $0.1975 on 25 opted out" in header.splitlines()[1]


async def test_hostile_names_in_the_dialog_show_literally(runtime: Runtime) -> None:
    people = [Person(f"+1415555{i:04d}", name, 30003) for i, name in enumerate(HOSTILE_NAMES)]
    seed_campaign("[@click=app.quit]Before", people, sent_at=SENT_AT - timedelta(days=3))
    campaign_id = seed_campaign("[bold]Now[/bold] \x1b[2J", people)
    seed_suggestions(campaign_id, [p.phone for p in people])
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(140, 30)) as pilot:
        dialog = await open_review(app, pilot, campaign_id)
        lines = [dialog_table(app).render_line(y).text for y in range(1, 5)]
        for shown in ("[@click=app.quit]x", "Bob [/] Smith", "[bold]x", "␛[31mred␛[0m␛]0;pwned␇"):
            assert any(shown in line for line in lines), shown
        intro = str(dialog.query_one("#suggestions-intro").render())
        assert "“[bold]Now[/bold] ␛[2J”" in intro
        detail = str(dialog.query_one("#suggestion-detail").render())
        assert "“[@click=app.quit]Before” (30005)" in detail
        for row in range(4):
            await pilot.click(SuggestionTable, offset=(30, 1 + row))
            await pilot.pause()
        await pilot.click("#suggestion-detail", offset=(30, 0))
        await pilot.click("#suggestions-intro", offset=(30, 0))
        await pilot.pause()
        assert app.is_running and app.screen is dialog


def _marked(line: str) -> bool:
    """History's first row is Spring sale with the ◆ of pending suggestions (after any alert
    marker: ⚠ comes first)."""
    return "◆ Spring sa" in line


def _unmarked(line: str) -> bool:
    return "Spring sale" in line and "◆" not in line
