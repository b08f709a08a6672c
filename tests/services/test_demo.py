"""The first-run demo: real campaigns sent through the sandbox, older ones resolved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from peewee import fn

from notify_tui.config import load_settings
from notify_tui.domain.alerts import AlertKind
from notify_tui.domain.insights import Dimension
from notify_tui.domain.status import Reason
from notify_tui.services.demo import DEMO_CAMPAIGNS, build_demo, needs_demo
from notify_tui.services.runtime import Runtime
from notify_tui.store import followups, insights, optouts
from notify_tui.store.campaigns import campaign_page, tally_series
from notify_tui.store.models import Campaign, Message, database, utcnow
from notify_tui.store.recipients import reason_counts

pytestmark = pytest.mark.usefixtures("workspace")


async def test_demo_builds_resolved_history_and_one_live_campaign() -> None:
    runtime = Runtime(load_settings(), database.obj)
    assert needs_demo(runtime)
    events = []
    ids = await build_demo(runtime, events.append, recipients=40)
    await runtime.client.aclose()
    # With the newsletter's follow-up (when any of its 40 failed for a cause that may pass).
    assert len(DEMO_CAMPAIGNS) <= len(ids) <= len(DEMO_CAMPAIGNS) + 1
    assert not needs_demo(runtime)
    assert events[-1].done == events[-1].total == 40 * len(DEMO_CAMPAIGNS)
    campaigns = {c.name: c for c in campaign_page()}
    newsletter = campaigns["Autumn newsletter"]
    assert newsletter.sent_at is not None
    assert newsletter.sent_at < utcnow() - timedelta(days=9)
    assert newsletter.delivered > 25 and newsletter.unknown <= 5
    live = campaigns["Flash sale: 2 hours only"]
    assert live.sent_at is not None and live.sent_at > utcnow() - timedelta(minutes=5)
    assert live.unknown > 25 and live.delivered == 0
    # The opt-out policy ran at send time: the landline is out, and so is the STOP.
    sources = {r.phone: r.source for r in optouts.list_optouts()}
    assert sources["+15005550009"] == "policy" and sources["+15005550004"] == "provider"
    # Resolution times come from the provider: days ago for the older campaigns.
    # (Which minute the first resolutions fall in depends on the wall clock: the first one may
    # hold only failures.)
    long_ago = utcnow() - timedelta(days=8)
    series = tally_series(newsletter.id)
    assert series[0][0] < long_ago
    assert sum(delivered for minute, delivered, _ in series if minute < long_ago) > 0
    for campaign in Campaign.select():
        counts = dict(
            Message.select(Message.status, fn.COUNT(Message.id))
            .where(Message.campaign == campaign.id)
            .group_by(Message.status)
            .tuples()
        )
        assert campaign.delivered == counts.get("delivered", 0)
        assert campaign.unknown == counts.get("unknown", 0)
        assert campaign.recipients == sum(counts.values())


def test_a_real_provider_never_gets_demo_data() -> None:
    settings = load_settings(environ={"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "secret"})
    assert not needs_demo(Runtime(settings, database.obj))


async def test_each_demo_campaign_tells_its_own_story_and_every_reason_shows() -> None:
    runtime = Runtime(load_settings(), database.obj)
    older = [c for c in DEMO_CAMPAIGNS if c.age]
    ids = await build_demo(runtime, campaigns=older, recipients=600)
    await runtime.client.aclose()
    counters = {
        (c.delivered, c.failed, c.unknown) for c in Campaign.select().where(Campaign.id.in_(ids))
    }
    originals = [c for c in Campaign.select().where(Campaign.id.in_(ids)) if not c.followup_of]
    assert len(originals) == len(older)
    assert len(counters) == len(ids)  # no two campaigns end with the same figures
    by_name = {c.name: dict(reason_counts(c.id)) for c in Campaign.select()}
    lost = by_name["Autumn newsletter"]
    assert lost.get(Reason.HTTP_404.value, 0) > 0  # records lost at the provider
    landlines = by_name["Appointment reminders (week 47)"].get(Reason.LANDLINE.value, 0)
    assert landlines >= 0.15 * 600 * 0.9  # a list full of landlines
    filtered = by_name["Black Friday early access"].get(Reason.CARRIER_VIOLATION.value, 0)
    assert filtered >= 0.06 * 600 * 0.9  # a promotion carriers filter
    seen = {reason for counts in by_name.values() for reason in counts}
    for reason in (
        Reason.UNREACHABLE_HANDSET,
        Reason.UNKNOWN_HANDSET,
        Reason.LANDLINE,
        Reason.INVALID_NUMBER,
        Reason.CARRIER_VIOLATION,
        Reason.HTTP_400,
        Reason.HTTP_404,
    ):
        assert reason.value in seen, reason
    # A campaign to several countries, and a follow-up of the newsletter.
    tour = Campaign.get(Campaign.name == "Summer tour: tickets on sale")
    countries = {g.key for g in insights.breakdown(tour.id, Dimension.COUNTRY)}
    assert {"US", "GB", "FR", "DE", "ES", "IE", "AU", "IN"} <= countries
    carriers = insights.breakdown(tour.id, Dimension.CARRIER)
    assert len(carriers) >= 5
    newsletter = Campaign.get(Campaign.name == "Autumn newsletter")
    (followup,) = followups.followups_of(newsletter.id)
    again = Campaign.get_by_id(followup)
    assert again.name == "Follow-up: Autumn newsletter" and again.recipients > 0
    assert again.sent_at < utcnow() - timedelta(days=8)
    recovery = followups.recovered(newsletter.id)
    assert recovery.of == again.recipients
    # As phones do: some were switched back on, some are gone for good.
    assert 0 < recovery.recovered < recovery.of, recovery
    # The carrier-filtered promotion raises its alert.
    promotion = Campaign.get(Campaign.name == "Black Friday early access")
    assert AlertKind.CARRIER_VIOLATION in {a.kind for a in insights.alerts(promotion.id)}
