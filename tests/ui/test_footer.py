"""The footer at 80 and 60 columns (issue 14, item 18): the keys that matter on each screen are
shown whole, the least useful give way first, and F1 says ``More`` when some did."""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey

from notify_tui.services.runtime import Runtime
from notify_tui.ui.app import NotifyApp, make_app
from notify_tui.ui.dialogs.suggestions import SuggestionsDialog
from notify_tui.ui.screens.details import DetailsScreen
from notify_tui.ui.widgets.campaign_table import CampaignTable
from tests.ui.seed import (
    fixed_clock,
    seed_history,
    seed_suggestions,
    wait_for_campaigns,
    wait_until,
)

SPRING_FAILED = "+14155550102"
"""One of Spring sale's failed numbers (``tests.ui.seed.SPRING``)."""


def _keys(app: NotifyApp) -> list[FooterKey]:
    return [key for key in app.screen.query(FooterKey) if key.display]


async def _shown(pilot: object, app: NotifyApp, width: int, *wanted: str) -> list[str]:
    """The footer's keys (``s Sort``) once it shows ``wanted`` (descriptions), all whole."""

    def ready() -> bool:
        keys = _keys(app)
        whole = all(key.region.right <= width and key.region.width > 0 for key in keys)
        shown = {key.description for key in keys}
        return bool(keys) and whole and all(want in shown for want in wanted)

    try:
        await wait_until(pilot, ready)
    except AssertionError:
        raise AssertionError([f"{k.key_display} {k.description}" for k in _keys(app)]) from None
    return [f"{key.key_display} {key.description}".strip() for key in _keys(app)]


@pytest.fixture
def ids() -> dict[str, int]:
    ids = seed_history()
    seed_suggestions(ids["Spring sale"], [SPRING_FAILED])
    return ids


@pytest.mark.parametrize(
    ("size", "wanted"),
    [
        # What the selected campaign offers (p, D: offered only there), then what History is for.
        ((80, 24), ["p Suggestions", "D Delete", "a Archive", "n New", "/ Filter", "s Sort"]),
        ((60, 20), ["p Suggestions", "D Delete", "n New", "/ Filter", "s Sort"]),
    ],
)
async def test_history_keeps_the_keys_that_matter(
    runtime: Runtime, ids: dict[str, int], size: tuple[int, int], wanted: list[str]
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await wait_for_campaigns(pilot)
        table = app.screen.query_one(CampaignTable)
        await pilot.press("down")  # Spring sale: suggestions to review, deletable (the sandbox's)
        await wait_until(pilot, lambda: table.current_row.name == "Spring sale")  # type: ignore[union-attr]
        shown = await _shown(pilot, app, size[0], "Suggestions", "Delete")
        assert all(key in shown for key in wanted), shown
        # Some gave way (A Archived first of History's own): F1 lists them.
        assert "A Archived" not in shown and shown[-1] == "f1 More", shown


async def test_history_offers_resume_at_80_columns(runtime: Runtime, ids: dict[str, int]) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_campaigns(pilot)  # Restock alert: interrupted mid-send, resumable
        shown = await _shown(pilot, app, 80, "Resume")
        assert all(key in shown for key in ["R Resume", "n New", "/ Filter", "s Sort"]), shown


@pytest.mark.parametrize(
    ("size", "wanted"),
    [
        ((80, 24), ["esc Back", "/ Search", "F Follow up", "p Suggestions", "e Export"]),
        # Both offered here: at 60 columns they take Search's room (F1 still lists it).
        ((60, 20), ["esc Back", "F Follow up", "p Suggestions"]),
    ],
)
async def test_details_keeps_the_keys_that_matter(
    runtime: Runtime, ids: dict[str, int], size: tuple[int, int], wanted: list[str]
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await wait_for_campaigns(pilot)
        await app.push_screen(DetailsScreen(ids["Spring sale"]))
        await wait_until(pilot, lambda: getattr(app.screen, "loaded", False))
        shown = await _shown(pilot, app, size[0], "Suggestions", "Follow up")
        assert all(key in shown for key in wanted), shown
        # The status keys stay together, as a group: d f u a Show.
        assert [k for k in shown if len(k) == 1] == ["d", "f", "u", "a"], shown
        assert shown[-1] == "f1 More", shown


async def test_a_wide_footer_says_help(runtime: Runtime, ids: dict[str, int]) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for_campaigns(pilot)
        shown = await _shown(pilot, app, 160, "Help")
        assert "⏎ Details" in shown and "^q Quit" in shown, shown


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_the_suggestions_dialog_keeps_its_way_out(
    runtime: Runtime, ids: dict[str, int], size: tuple[int, int]
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await wait_for_campaigns(pilot)
        await app.push_screen(SuggestionsDialog(ids["Spring sale"], "Spring sale"))
        await wait_until(pilot, lambda: getattr(app.screen, "loaded", False))
        shown = await _shown(pilot, app, size[0], "Close", "Accept", "Dismiss")
        assert "space Select" in shown, shown


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
@pytest.mark.parametrize(
    ("key", "title", "wanted"),
    [
        ("c", "Contacts", ["esc Back", "/ Search", "o Opt out"]),
        ("O", "Opt-outs", ["esc Back", "/ Search", "o Opt back in"]),
        ("n", "New campaign", ["^r Review & send", "esc Back"]),
    ],
)
async def test_the_other_screens_keep_their_keys(
    runtime: Runtime,
    ids: dict[str, int],
    size: tuple[int, int],
    key: str,
    title: str,
    wanted: list[str],
) -> None:
    app = make_app(runtime, poll=False, first_run_demo=False, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await wait_for_campaigns(pilot)
        await pilot.press(key)
        await wait_until(pilot, lambda: title == app.screen.TITLE)
        shown = await _shown(pilot, app, size[0], *(want.split(" ", 1)[1] for want in wanted))
        assert all(want in shown for want in wanted), shown
        assert any(k.startswith("f1 ") for k in shown), shown


def test_every_footer_priority_names_an_action_of_its_screen() -> None:
    from notify_tui.ui.keymap import _classes

    checked = 0
    for cls in _classes():
        priority = getattr(cls, "FOOTER_PRIORITY", ())
        if not priority or "FOOTER_PRIORITY" not in vars(cls):
            continue
        actions = {
            binding.action.split("(")[0]
            for bindings in cls._merge_bindings().key_to_bindings.values()
            for binding in bindings
        }
        # A renamed action would silently lose its place: say which.
        assert set(priority) <= actions, (cls.__name__, set(priority) - actions)
        checked += 1
    assert checked >= 4
