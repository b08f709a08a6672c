"""The header of Details: a poll cycle redraws its first line, and that line shows the time."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from textual.app import App, ComposeResult

from notify_tui.store.campaigns import CampaignSummary
from notify_tui.ui.widgets.campaign_header import CampaignHeader

CAMPAIGN = CampaignSummary(
    id=1,
    name="Spring sale",
    body="Hello",
    sender="+15005550006",
    messaging_service_sid=None,
    state="sent",  # type: ignore[arg-type]
    created_at=datetime(2025, 3, 4, 9, 0),
    sent_at=datetime(2025, 3, 4, 9, 30),
    segments=1,
    price_per_segment=Decimal("0.0079"),
    recipients=10,
    delivered=5,
    failed=3,
    unknown=2,
    submitted=10,
    skipped_opted_out=0,
    cost=Decimal("0.079"),
    last_checked_at=None,
    pushed=0,
)


class HeaderApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CampaignHeader(now=lambda: datetime(2025, 3, 4, 10, 0), tz=UTC, live=True)


async def test_a_poll_cycle_redraws_the_first_line_only() -> None:
    app = HeaderApp()
    async with app.run_test(size=(100, 10)) as pilot:
        header = app.query_one(CampaignHeader)
        header.show(CAMPAIGN)
        await pilot.pause()
        compositor = app.screen._compositor
        painted: list[int] = []
        render_update = compositor.render_update

        def counted(*args: object, **kwargs: object) -> object:
            painted.append(sum(region.height for region in compositor._dirty_regions))
            return render_update(*args, **kwargs)

        compositor.render_update = counted  # type: ignore[method-assign]
        header.checked(datetime(2025, 3, 4, 10, 1, 2))
        await pilot.pause()
        assert sum(painted) == 1, painted
        shown = [strip.text for strip in header.render_lines(header.size.region)]
        assert "last checked 10:01:02" in shown[0]
        assert "Sent" in shown[1] and "Hello" in shown[2]
