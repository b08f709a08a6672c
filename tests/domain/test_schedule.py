"""Send times, who holds a scheduled campaign, and quiet hours by the recipient's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notify_tui.domain.quiet_hours import QuietHours, hold_for, recipient_clock
from notify_tui.domain.schedule import (
    ScheduleError,
    ScheduleMode,
    parse_send_at,
    provider_send_at,
    schedule_mode,
)

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
CHICAGO = "+13125550100"
NEW_YORK = "+12125550100"
LOS_ANGELES = "+14155550100"
TOLL_FREE = "+18005550100"


def test_a_wall_time_is_read_in_its_zone_and_kept_in_utc() -> None:
    assert parse_send_at("2026-12-10 10:00", "Europe/Berlin") == datetime(
        2026, 12, 10, 9, 0, tzinfo=UTC
    )
    assert parse_send_at("2026-07-10 10:00", "Europe/Berlin").hour == 8  # summer time
    assert parse_send_at("2026-12-10T09:00Z", "Asia/Tokyo").hour == 9  # its own offset wins


@pytest.mark.parametrize(
    ("text", "tz", "says"),
    [
        ("soon", "UTC", "cannot read the time"),
        ("2026-12-10 10:00", "Nowhere/City", "unknown time zone"),
        ("2027-03-28 02:30", "Europe/Berlin", "does not exist"),
    ],
)
def test_a_time_that_cannot_be_used_says_why(text: str, tz: str, says: str) -> None:
    with pytest.raises(ScheduleError, match=says):
        parse_send_at(text, tz)


@pytest.mark.parametrize(
    ("ahead", "service", "mode"),
    [
        (timedelta(hours=2), True, ScheduleMode.PROVIDER),
        (timedelta(minutes=19), True, ScheduleMode.STORE),  # too close for every create
        (timedelta(minutes=21), True, ScheduleMode.PROVIDER),
        (timedelta(days=36), True, ScheduleMode.STORE),
        (timedelta(hours=2), False, ScheduleMode.STORE),
        (timedelta(seconds=-1), True, None),
    ],
)
def test_who_holds_a_scheduled_campaign(
    ahead: timedelta, service: bool, mode: ScheduleMode | None
) -> None:
    assert schedule_mode(NOW + ahead, NOW, messaging_service=service) == mode


def test_a_create_asks_the_provider_only_inside_its_window() -> None:
    at = NOW + timedelta(minutes=17)
    assert provider_send_at(at, NOW, messaging_service=True) == at
    assert provider_send_at(at, NOW + timedelta(minutes=2), messaging_service=True) is None
    assert provider_send_at(at, NOW, messaging_service=False) is None
    assert provider_send_at(None, NOW, messaging_service=True) is None


def test_quiet_hours_span_midnight_or_not() -> None:
    night = QuietHours.parse("21:00-08:00")
    assert str(night) == "21:00-08:00"
    assert night.quiet_at(datetime(2026, 1, 1, 23, 0)) and night.quiet_at(datetime(2026, 1, 1, 7))
    assert not night.quiet_at(datetime(2026, 1, 1, 8, 0))
    lunch = QuietHours.parse("12:00-13:30")
    assert lunch.quiet_at(datetime(2026, 1, 1, 13, 29)) and not lunch.quiet_at(
        datetime(2026, 1, 1, 13, 30)
    )
    for bad in ("21-08", "25:00-08:00", "08:00-08:00"):
        with pytest.raises(ScheduleError):
            QuietHours.parse(bad)


def test_a_recipient_is_held_until_the_window_opens_where_they_are() -> None:
    night = QuietHours.parse("21:00-08:00")
    at = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # 06:00 in Chicago, 07:00 in New York
    chicago = hold_for(CHICAGO, at, night, "UTC")
    assert chicago is not None
    assert chicago.until == datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
    assert chicago.describe() == "held until 08:00 America/Chicago"
    new_york = hold_for(NEW_YORK, at, night, "UTC")
    assert new_york is not None and new_york.until == datetime(2026, 12, 5, 13, 0, tzinfo=UTC)
    assert hold_for("+4930123456", at, night, "UTC") is None  # 13:00 in Berlin


def test_a_number_with_several_zones_waits_until_the_window_is_open_in_all() -> None:
    night = QuietHours.parse("21:00-08:00")
    russia = "+79161234567"  # Moscow... Kamchatka: still eleven zones that share a window
    zones = recipient_clock(russia, "UTC").zones
    assert len(zones) > 5
    hold = hold_for(russia, datetime(2026, 12, 5, 3, 0, tzinfo=UTC), night, "UTC")
    assert hold is not None and not hold.assumed
    for name in zones:
        from zoneinfo import ZoneInfo

        assert not night.quiet_at(hold.until.astimezone(ZoneInfo(name)))


def test_a_toll_free_number_waits_for_the_hours_guam_and_newfoundland_share() -> None:
    night = QuietHours.parse("21:00-08:00")
    hold = hold_for(TOLL_FREE, datetime(2026, 12, 5, 12, 0, tzinfo=UTC), night, "UTC")
    assert hold is not None and not hold.assumed
    assert hold.until == datetime(2026, 12, 5, 22, 0, tzinfo=UTC)  # 08:00 in Guam and Saipan


def test_a_number_without_a_usable_zone_takes_the_campaigns_and_says_so() -> None:
    night = QuietHours.parse("21:00-08:00")
    satellite = "+881612345678"  # phonenumbers: Etc/Unknown
    assert recipient_clock(satellite, "Europe/Berlin").assumed
    hold = hold_for(satellite, datetime(2026, 12, 5, 23, 0, tzinfo=UTC), night, "Europe/Berlin")
    assert hold is not None and hold.assumed and hold.zone == "Europe/Berlin"
    assert hold.until == datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
    assert hold.describe() == (
        "held until 08:00 Europe/Berlin (the campaign's time zone: the number tells none)"
    )
