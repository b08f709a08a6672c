"""Breakdowns and delivery times come from tallies kept with the messages, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from notify_tui.domain.alerts import AlertKind
from notify_tui.domain.insights import Dimension
from notify_tui.domain.numbers import LineType
from notify_tui.domain.status import Reason, Status, classify_message
from notify_tui.store import counters, followups, insights, optouts
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.db import SCHEMA_VERSION, open_workspace, schema_version
from notify_tui.store.models import (
    DeliveryTally,
    GroupTally,
    Message,
    NumberProfile,
    SchemaInfo,
    database,
)
from notify_tui.store.recipients import RecipientFilter, count_recipients, recipients_after
from notify_tui.store.sending import NewRecipient, add_recipients, claim_for_submit
from notify_tui.store.updates import StatusUpdate, apply_updates
from tests.invariants import assert_counters_hold, assert_insights_hold

pytestmark = pytest.mark.usefixtures("workspace")

US_1 = "+14155550101"
US_2 = "+14155550102"
US_FREE = "+18005550100"
GB_FIXED = "+442079460000"
FR_MOBILE = "+33612345678"
DE_MOBILE = "+4915112345678"
SENT = datetime(2026, 3, 2, 10, 0, 0)


def _campaign(*phones: str, invalid: tuple[str, ...] = ()) -> int:
    campaign_id = create_campaign("Insights", "Hello", sender="+15005550006")
    add_recipients(
        campaign_id,
        [NewRecipient(p) for p in phones]
        + [NewRecipient(p, invalid_reason="bad") for p in invalid],
    )
    return campaign_id


def _ids(campaign_id: int) -> dict[str, int]:
    select = Message.select(Message.phone, Message.id).where(Message.campaign == campaign_id)
    return dict(select.tuples())


def _resolve(message_id: int, status: str, code: int | None = None, *, after: int = 5) -> None:
    apply_updates(
        [
            StatusUpdate(
                message_id,
                classify_message(status, code),
                provider_status=status,
                price=Decimal("-0.0079"),
                date_sent=SENT,
                resolved_at=SENT + timedelta(seconds=after),
            )
        ],
        now=SENT + timedelta(minutes=10),
    )


def test_a_recorded_recipient_is_grouped_by_country_carrier_and_line_type() -> None:
    campaign_id = _campaign(US_1, US_2, US_FREE, GB_FIXED, FR_MOBILE, invalid=("12",))
    by_country = {g.key: g for g in insights.breakdown(campaign_id, Dimension.COUNTRY)}
    assert {k: g.recipients for k, g in by_country.items()} == {"US": 3, "GB": 1, "FR": 1, "": 1}
    assert by_country["US"].unknown == 3 and by_country[""].failed == 1
    assert by_country[""].label == "Unknown country"
    assert by_country[""].top_reason == Reason.INVALID_NUMBER.value
    by_line = {g.key: g.recipients for g in insights.breakdown(campaign_id, Dimension.LINE_TYPE)}
    assert by_line == {
        LineType.FIXED_OR_MOBILE.value: 2,
        LineType.TOLL_FREE.value: 1,
        LineType.FIXED_LINE.value: 1,
        LineType.MOBILE.value: 1,
        LineType.INVALID.value: 1,
    }
    by_carrier = {g.label: g.recipients for g in insights.breakdown(campaign_id, Dimension.CARRIER)}
    assert by_carrier == {"Unknown carrier": 5, "SFR": 1}
    assert_counters_hold(campaign_id)


def test_statuses_reasons_and_cost_move_the_groups_as_they_resolve() -> None:
    campaign_id = _campaign(US_1, US_2, FR_MOBILE, DE_MOBILE)
    ids = _ids(campaign_id)
    _resolve(ids[US_1], "delivered")
    _resolve(ids[US_2], "undelivered", 30007)
    _resolve(ids[FR_MOBILE], "undelivered", 30003)
    groups = {g.key: g for g in insights.breakdown(campaign_id, Dimension.COUNTRY)}
    us = groups["US"]
    assert (us.recipients, us.delivered, us.failed, us.unknown) == (2, 1, 1, 0)
    assert us.cost == 2 * 7900  # whole millionths
    assert us.top_reason == Reason.CARRIER_VIOLATION.value and us.top_reason_count == 1
    assert (us.delivered_pct, us.failed_pct) == (50.0, 50.0)
    assert groups["DE"].unknown == 1 and groups["DE"].top_reason is None
    reasons = insights.breakdown(campaign_id, Dimension.REASON)
    assert {(g.key, g.failed) for g in reasons} == {
        (Reason.CARRIER_VIOLATION.value, 1),
        (Reason.UNREACHABLE_HANDSET.value, 1),
    }
    failures = {(f.code, f.region): f.messages for f in insights.snapshot(campaign_id).failures()}
    assert failures == {(30007, "US"): 1, (30003, "FR"): 1}
    assert_counters_hold(campaign_id)


def test_delivery_times_run_from_the_provider_send_date_to_the_final_status() -> None:
    phones = [f"+1415555{i:04d}" for i in range(100)]
    campaign_id = _campaign(*phones)
    ids = _ids(campaign_id)
    for i, phone in enumerate(phones):
        _resolve(ids[phone], "delivered", after=3 if i < 80 else 400)
    times = insights.delivery_times(campaign_id)
    assert times.counted == 100
    assert times.p50 is not None and 3 <= times.p50 < 4
    assert times.p90 is not None and 300 <= times.p90 < 420
    bars = {bar.label: bar.count for bar in times.histogram()}
    assert bars["<10 s"] == 80 and bars["5 min-15 min"] == 20
    (us,) = insights.breakdown(campaign_id, Dimension.COUNTRY)
    assert us.delivery.counted == 100
    assert_counters_hold(campaign_id)


def test_a_failed_message_has_no_delivery_time_and_a_late_price_still_counts() -> None:
    campaign_id = _campaign(US_1)
    (message_id,) = _ids(campaign_id).values()
    apply_updates([StatusUpdate(message_id, classify_message("undelivered", 30003))])
    apply_updates(
        [StatusUpdate(message_id, classify_message("undelivered", 30003), price=Decimal("-0.01"))]
    )
    (group,) = insights.breakdown(campaign_id, Dimension.COUNTRY)
    assert group.cost == 10_000 and group.failed == 1
    assert insights.delivery_times(campaign_id).counted == 0
    assert_counters_hold(campaign_id)


def test_a_recipient_dropped_at_submit_for_an_opt_out_leaves_the_groups() -> None:
    campaign_id = _campaign(US_1, FR_MOBILE)
    ids = _ids(campaign_id)
    optouts.opt_out(FR_MOBILE, source="manual", reason="asked", actor="test")
    claim_for_submit(campaign_id, sorted(ids.values()))
    assert [g.key for g in insights.breakdown(campaign_id, Dimension.COUNTRY)] == ["US"]
    assert_counters_hold(campaign_id)


def test_a_recount_rebuilds_damaged_tallies() -> None:
    campaign_id = _campaign(US_1, FR_MOBILE)
    _resolve(_ids(campaign_id)[US_1], "delivered")
    GroupTally.update(messages=GroupTally.messages + 5).execute()
    DeliveryTally.delete().execute()
    with pytest.raises(AssertionError):
        assert_insights_hold(campaign_id)
    counters.recount([campaign_id])
    assert_insights_hold(campaign_id)
    assert insights.delivery_times(campaign_id).counted == 1


def test_group_filters_name_the_profiles_of_a_group() -> None:
    campaign_id = _campaign(US_1, US_FREE, FR_MOBILE)
    us = insights.group_profile_ids(Dimension.COUNTRY, "US")
    in_us = Message.select(Message.phone).where(
        (Message.campaign == campaign_id) & Message.profile_id.in_(us)
    )
    assert sorted(p for (p,) in in_us.tuples()) == [US_1, US_FREE]
    fr = RecipientFilter(profiles=tuple(insights.group_profile_ids(Dimension.COUNTRY, "FR")))
    assert [r.phone for r in recipients_after(campaign_id, fr, None, 10)] == [FR_MOBILE]
    assert count_recipients(campaign_id, fr) == 1 and not fr.is_everything
    with pytest.raises(ValueError):
        insights.group_profile_ids(Dimension.REASON, "x")


def test_an_older_workspace_gets_its_profiles_and_tallies_when_migrated(
    workspace_url: str,
) -> None:
    campaign_id = _campaign(US_1, GB_FIXED, FR_MOBILE)
    _resolve(_ids(campaign_id)[US_1], "delivered")
    Message.update(profile_id=None).execute()
    GroupTally.delete().execute()
    DeliveryTally.delete().execute()
    SchemaInfo.update(value="8").where(SchemaInfo.key == "version").execute()
    database.close()
    db = open_workspace(workspace_url)
    assert schema_version(db) == SCHEMA_VERSION
    assert Message.select().where(Message.profile_id.is_null()).count() == 0
    assert {g.key for g in insights.breakdown(campaign_id, Dimension.COUNTRY)} == {"US", "GB", "FR"}
    assert insights.delivery_times(campaign_id).counted == 1
    assert_counters_hold(campaign_id)


def test_alerts_come_from_the_tallies_and_link_to_the_rows_they_are_about() -> None:
    earlier = _campaign(*[f"+1415555{i:04d}" for i in range(10)])
    _resolve(_ids(earlier)["+14155550000"], "undelivered", 30003)
    campaign_id = _campaign(*[f"+1212555{i:04d}" for i in range(50)])
    ids = sorted(_ids(campaign_id).values())
    for message_id in ids[:3]:
        _resolve(message_id, "undelivered", 30007)
    found = insights.alerts(campaign_id)
    assert [a.kind for a in found] == [AlertKind.CARRIER_VIOLATION]
    assert found[0].messages == 3 and "3 of 50" in found[0].seen
    shown = RecipientFilter(
        status=Status.FAILED, reason=found[0].filter.reason, codes=found[0].filter.codes
    )
    assert count_recipients(campaign_id, shown) == 3
    assert insights.sender_history(campaign_id).unreachable_shares == (0.1,)
    assert insights.sender_history(earlier).unreachable_shares == ()
    assert insights.alerts_for([campaign_id, earlier, 999]) == {
        campaign_id: found,
        earlier: insights.alerts(earlier),
    }


def test_many_campaigns_alerts_agree_with_each_ones_and_use_the_senders_history() -> None:
    sent = []
    for round_ in range(4):
        campaign_id = _campaign(*[f"+1312555{round_}{i:03d}" for i in range(100)])
        ids = sorted(_ids(campaign_id).values())
        unreachable = 2 if round_ < 3 else 30  # a spike in the last one
        for message_id in ids[:unreachable]:
            _resolve(message_id, "undelivered", 30003)
        sent.append(campaign_id)
    together = insights.alerts_for(sent)
    assert together == {cid: insights.alerts(cid) for cid in sent}
    assert [a.kind for a in together[sent[-1]]] == [AlertKind.UNREACHABLE_SPIKE]
    assert "2.0% usually" in together[sent[-1]][0].seen


def test_a_status_within_a_group_or_of_codes_is_counted_not_read_off_the_campaign() -> None:
    campaign_id = _campaign(US_1, US_2, FR_MOBILE)
    ids = _ids(campaign_id)
    _resolve(ids[US_1], "undelivered", 30003)
    _resolve(ids[FR_MOBILE], "undelivered", 30007)
    fr = tuple(insights.group_profile_ids(Dimension.COUNTRY, "FR"))
    assert count_recipients(campaign_id, RecipientFilter(status=Status.FAILED)) == 2
    assert count_recipients(campaign_id, RecipientFilter(status=Status.FAILED, profiles=fr)) == 1
    filtered = RecipientFilter(status=Status.FAILED, codes=(30007,))
    assert count_recipients(campaign_id, filtered) == 1


def test_a_version_8_postgres_workspace_gains_the_columns_and_tables(
    workspace_url: str,
) -> None:
    if not _postgres():
        # SQLite cannot drop a column with a foreign key: the committed version-1 workspace
        # (tests/hardening/test_database.py) migrates through version 9 there.
        pytest.skip("PostgreSQL only")
    campaign_id = _campaign(US_1, FR_MOBILE)
    _resolve(_ids(campaign_id)[US_1], "delivered")
    db = database.obj
    schema = db.execute_sql("SELECT current_schema()").fetchone()[0]
    for table, column in (("message", "profile_id"), ("campaign", "followup_of_id")):
        for index in db.get_indexes(table, schema):
            if column in index.columns:
                db.execute_sql(f'DROP INDEX "{index.name}"')
        db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    db.drop_tables([NumberProfile, GroupTally, DeliveryTally])
    SchemaInfo.update(value="8").where(SchemaInfo.key == "version").execute()
    database.close()
    db = open_workspace(workspace_url)
    assert schema_version(db) == SCHEMA_VERSION
    assert {g.key for g in insights.breakdown(campaign_id, Dimension.COUNTRY)} == {"US", "FR"}
    assert insights.delivery_times(campaign_id).counted == 1
    followup = create_campaign("Again", "Hello")
    followups.link(followup, campaign_id)
    assert followups.followups_of(campaign_id) == [followup]
    assert_counters_hold(campaign_id)


def _postgres() -> bool:
    from peewee import PostgresqlDatabase

    return isinstance(database.obj, PostgresqlDatabase)


def test_a_price_that_came_while_unknown_moves_with_the_message_when_it_resolves() -> None:
    campaign_id = _campaign(US_1)
    (message_id,) = _ids(campaign_id).values()
    unknown = classify_message("sent")
    apply_updates([StatusUpdate(message_id, unknown, "sent", price=Decimal("-0.0079"))])
    apply_updates([StatusUpdate(message_id, classify_message("delivered"), "delivered")])
    (group,) = insights.breakdown(campaign_id, Dimension.COUNTRY)
    assert (group.delivered, group.unknown, group.cost) == (1, 0, 7900)
    assert_counters_hold(campaign_id)
