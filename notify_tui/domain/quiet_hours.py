"""Quiet hours by the recipient's clock: no text reaches anyone while it is, say, 21:00-08:00
where they are.

A number's time zones come from phonenumbers' offline data. A number with several (a country
or area code spanning zones) is texted only when the window is open in all of them. Where the
data knows no zone (``Etc/Unknown``), or the zones never share an open moment (a US toll-free
number spans Guam to Newfoundland), the campaign's own time zone stands in: ``RecipientClock``
says so (``assumed``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as number_zones

from notify_tui.domain.schedule import ScheduleError, zone

_WINDOW = re.compile(r"^\s*([0-2]?[0-9]):([0-5][0-9])\s*-\s*([0-2]?[0-9]):([0-5][0-9])\s*$")

_SEARCH_STEPS = 8
"""Openings tried when a number's zones disagree before giving up on a common window."""


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window (local wall time), ``start`` to ``end``; it may span midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """``21:00-08:00``, or ``ScheduleError``."""
        match = _WINDOW.match(text)
        if not match:
            raise ScheduleError(f"quiet hours {text!r}: write them like 21:00-08:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23:
            raise ScheduleError(f"quiet hours {text!r}: hours go from 00 to 23")
        start, end = time(h1, m1), time(h2, m2)
        if start == end:
            raise ScheduleError(f"quiet hours {text!r}: the start and the end are the same")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def quiet_at(self, local: datetime) -> bool:
        """Whether the wall time of ``local`` is inside the window."""
        now = local.time().replace(second=0, microsecond=0, tzinfo=None)
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def opens_after(self, local: datetime) -> datetime:
        """When the window next closes (texting may start) after ``local``, an aware local
        time inside it; on the day of a daylight-saving change the wall time is as written."""
        candidate = datetime.combine(local.date(), self.end, tzinfo=local.tzinfo)
        if candidate <= local:
            candidate = datetime.combine(
                local.date() + timedelta(days=1), self.end, tzinfo=local.tzinfo
            )
        # Normalise through UTC: a wall time skipped by the clocks becomes the next real one.
        return candidate.astimezone(UTC).astimezone(local.tzinfo)


@dataclass(frozen=True, slots=True)
class RecipientClock:
    """The time zones a number is judged by."""

    zones: tuple[str, ...]
    assumed: bool = False
    """No usable zone from the number: these are the campaign's own."""


@lru_cache(maxsize=4096)
def _number_zones(phone: str) -> tuple[str, ...]:
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = number_zones.time_zones_for_number(number)
    return tuple(z for z in zones if z != "Etc/Unknown")


def recipient_clock(phone: str, default_tz: str) -> RecipientClock:
    """The zones of ``phone`` (E.164), or the campaign's ``default_tz`` (``assumed``)."""
    zones = _number_zones(phone)
    return RecipientClock(zones) if zones else RecipientClock((default_tz,), assumed=True)


@dataclass(frozen=True, slots=True)
class Hold:
    """A recipient inside quiet hours: texted no earlier than ``until`` (aware UTC)."""

    until: datetime
    zone: str
    """The zone whose window opens last: how the hold is shown ("08:00 America/Chicago")."""
    assumed: bool = False
    """The zone is the campaign's: the number told none that could be used."""

    def describe(self) -> str:
        """``held until 08:00 America/Chicago`` (the local time in ``zone``)."""
        local = self.until.astimezone(ZoneInfo(self.zone))
        note = " (the campaign's time zone: the number tells none)" if self.assumed else ""
        return f"held until {local:%H:%M} {self.zone}{note}"


def hold_for(phone: str, now: datetime, quiet: QuietHours, default_tz: str) -> Hold | None:
    """Whether ``phone`` must wait at ``now`` (aware), and until when; ``None``: text it now.

    The window must be open in every zone of the number at once; zones that never agree
    within a few openings count as unknown, and the campaign's zone decides.
    """
    clock = recipient_clock(phone, default_tz)
    found = _common_opening(clock.zones, now, quiet)
    if found is None and not clock.assumed:
        clock = RecipientClock((default_tz,), assumed=True)
        found = _common_opening(clock.zones, now, quiet)
    if found is None:  # pragma: no cover - a single zone always opens within a day
        return None
    at, last = found
    if at == now:
        return None
    return Hold(at.astimezone(UTC), last, clock.assumed)


def _common_opening(
    zones: tuple[str, ...], now: datetime, quiet: QuietHours
) -> tuple[datetime, str] | None:
    """The first moment from ``now`` outside quiet hours in every zone, and the zone that
    opened last; ``None`` when none is found within ``_SEARCH_STEPS`` openings."""
    at, last = now, zones[0]
    for _ in range(_SEARCH_STEPS):
        inside = [z for z in zones if quiet.quiet_at(at.astimezone(zone(z)))]
        if not inside:
            return at, last
        openings = [(quiet.opens_after(at.astimezone(zone(z))).astimezone(UTC), z) for z in inside]
        at, last = max(openings)
    return None
