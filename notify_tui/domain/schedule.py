"""When a scheduled campaign goes out, and who waits for it.

A campaign may be given a time to go out (``send --at``, in a time zone). With a Messaging
Service and that time 15 minutes to 35 days ahead, the provider holds each message
(``ScheduleType=fixed``): nothing needs to stay running. Otherwise the campaign waits in the
store and a running process (``notify-tui poll`` or the app) starts it when it is due.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from notify_tui.errors import NotifyError

PROVIDER_MIN_AHEAD = timedelta(minutes=15)
PROVIDER_MAX_AHEAD = timedelta(days=35)
"""Twilio schedules a message only this far ahead of the request (else 35114)."""

CREATE_MARGIN = timedelta(minutes=1)
"""A create asks the provider to schedule only when the time is this much inside its window,
so that a request that waits for its turn or crosses a slow network still lands inside it."""

PLAN_MARGIN = timedelta(minutes=5)
"""Scheduling at the provider is chosen when the whole campaign can be created this much inside
the window (the creates take a while): a time closer than 20 minutes waits in the store."""

DEFAULT_TIMEZONE = "UTC"


class ScheduleError(NotifyError, ValueError):
    """A send time or time zone that cannot be used; the message says why, in one line."""


class ScheduleMode(StrEnum):
    """Who holds a scheduled campaign until its time."""

    PROVIDER = "provider"
    """Each message is created now, scheduled at the provider (a Messaging Service)."""
    STORE = "store"
    """The campaign waits in the store; a running poller or app starts it when due."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Berlin``), or ``ScheduleError``."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r}: use a name like Europe/Berlin") from None


def parse_send_at(text: str, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """``2026-12-10 10:00`` (a wall time in ``tz``) as an aware UTC datetime.

    An ISO-8601 time with its own offset (``2026-12-10T09:00Z``) keeps that offset. A wall time
    that does not exist (skipped by a daylight-saving change) is refused.
    """
    raw = text.strip()
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise ScheduleError(
            f"cannot read the time {text!r}: write it like 2026-12-10 10:00"
        ) from None
    if when.tzinfo is None:
        local = when.replace(tzinfo=zone(tz))
        # A time in a spring-forward gap does not survive the round trip through UTC.
        back = local.astimezone(UTC).astimezone(local.tzinfo).replace(tzinfo=None)
        if back != when:
            raise ScheduleError(f"{raw} does not exist in {tz} (the clocks skip it)")
        when = local
    return when.astimezone(UTC)


def parse_when(text: str, default_tz: str = DEFAULT_TIMEZONE) -> tuple[datetime, str]:
    """``2026-12-10 10:00`` or ``2026-12-10 10:00 Europe/Berlin`` (a zone after the time wins
    over ``default_tz``): the time (aware UTC) and the zone it was written in."""
    words = text.split()
    tz = default_tz
    if len(words) > 1 and ("/" in words[-1] or words[-1].upper() == "UTC"):
        tz = words.pop()
        zone(tz)
    return parse_send_at(" ".join(words), tz), tz


def schedule_mode(
    send_at: datetime, now: datetime, *, messaging_service: bool
) -> ScheduleMode | None:
    """Who holds a campaign due at ``send_at`` (aware), decided at ``now`` (aware); ``None``
    when it is due already (it is sent at once)."""
    ahead = send_at - now
    if ahead <= timedelta(0):
        return None
    if (
        messaging_service
        and PROVIDER_MIN_AHEAD + PLAN_MARGIN <= ahead <= PROVIDER_MAX_AHEAD - PLAN_MARGIN
    ):
        return ScheduleMode.PROVIDER
    return ScheduleMode.STORE


def provider_send_at(
    send_at: datetime | None, now: datetime, *, messaging_service: bool
) -> datetime | None:
    """The ``SendAt`` one create asks for at ``now``: ``send_at`` when the provider can still
    schedule it (with ``CREATE_MARGIN``), else ``None``."""
    if send_at is None or not messaging_service:
        return None
    ahead = send_at - now
    if PROVIDER_MIN_AHEAD + CREATE_MARGIN <= ahead <= PROVIDER_MAX_AHEAD - CREATE_MARGIN:
        return send_at
    return None


def describe_schedule(send_at: datetime, tz: str, mode: ScheduleMode | None) -> str:
    """What will happen to a campaign due at ``send_at``, in one sentence for the user."""
    local = send_at.astimezone(zone(tz))
    when = f"{local:%Y-%m-%d %H:%M} {tz}"
    if mode is None:
        return f"The time {when} has passed: the campaign is sent now."
    if mode is ScheduleMode.PROVIDER:
        return (
            f"Scheduled at the provider for {when}: each message is created now and held by "
            "the Messaging Service; nothing needs to keep running."
        )
    return (
        f"Waits in the store until {when}; notify-tui poll (or the app) must be running "
        "then to start it."
    )
