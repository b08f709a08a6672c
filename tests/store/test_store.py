"""The workspace store, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from notify_tui.domain.status import (
    Reason,
    Status,
    classify_create_refusal,
    classify_message,
)
from notify_tui.store import optouts, polling
from notify_tui.store.campaigns import (
    campaign_page,
    count_campaigns,
    create_campaign,
    get_campaign,
    tally_series,
)
from notify_tui.store.db import SCHEMA_VERSION, schema_version
from notify_tui.store.models import Message, OptOutEvent, database, utcnow
from notify_tui.store.recipients import (
    RecipientFilter,
    Sort,
    count_recipients,
    iter_recipients,
    reason_counts,
    recipients_after,
    recipients_at,
)
from notify_tui.store.sending import NewRecipient, add_recipients, count_submitted
from notify_tui.store.updates import StatusUpdate, apply_updates
from tests.invariants import assert_counters_hold

pytestmark = pytest.mark.usefixtures("workspace")


def _campaign(n: int, name: str = "Spring sale") -> int:
    campaign_id = create_campaign(name, "Hello!", sender="+15005550006", segments=1)
    add_recipients(
        campaign_id,
        [NewRecipient(f"+1415555{i:04d}", f"Person {i}") for i in range(n)],
    )
    return campaign_id


def _submit_all(campaign_id: int) -> list[int]:
    ids = [
        m.id
        for m in Message.select(Message.id)
        .where(Message.campaign == campaign_id)
        .order_by(Message.id)
    ]
    now = utcnow()
    for i in ids:
        Message.update(
            sid=f"SM{i:032x}", send_state="submitted", attempted_at=now, next_poll_at=now
        ).where(Message.id == i).execute()
    count_submitted(campaign_id, len(ids))
    return ids


def test_new_workspace_records_its_schema_version() -> None:
    assert schema_version(database.obj) == SCHEMA_VERSION


def test_add_recipients_queues_valid_records_invalid_and_skips_opted_out() -> None:
    optouts.opt_out("+14155550002", source="manual", reason="asked", actor="ann")
    campaign_id = create_campaign("Promo", "Hi", sender="+15005550006")
    added = add_recipients(
        campaign_id,
        [
            NewRecipient("+14155550001", "Ann"),
            NewRecipient("+14155550002", "Opted"),
            NewRecipient("+14155550001", "Ann again"),
            NewRecipient("12", "Bad", invalid_reason="too short"),
        ],
    )
    assert (added.queued, added.invalid, added.skipped_opted_out, added.duplicates) == (1, 1, 1, 1)
    campaign = get_campaign(campaign_id)
    assert campaign is not None
    assert (campaign.recipients, campaign.unknown, campaign.failed) == (2, 1, 1)
    assert campaign.skipped_opted_out == 1
    bad = Message.get(Message.phone == "12")
    assert (bad.status, bad.reason, bad.detail) == ("failed", "Invalid number", "too short")
    again = add_recipients(campaign_id, [NewRecipient("+14155550001", "Ann")])
    assert again.queued == 0 and again.duplicates == 1
    assert_counters_hold(campaign_id)


def test_campaigns_newest_first_with_name_search() -> None:
    first = create_campaign("Spring sale", "a")
    second = create_campaign("100% off_today", "b")
    create_campaign("Winter", "c")
    assert [c.name for c in campaign_page()] == ["Winter", "100% off_today", "Spring sale"]
    assert [c.id for c in campaign_page("SPRING")] == [first]
    assert [c.id for c in campaign_page("0% off_")] == [second]
    assert count_campaigns("%") == 1
    assert campaign_page("", offset=1, limit=1)[0].id == second


def test_status_moves_forward_only_and_counters_follow() -> None:
    campaign_id = _campaign(3)
    a, b, c = _submit_all(campaign_id)
    delivered = classify_message("delivered")
    sent = classify_message("sent")
    failed = classify_message("undelivered", 30003)
    applied = apply_updates(
        [
            StatusUpdate(a, delivered, provider_status="delivered", price=Decimal("-0.0079")),
            StatusUpdate(b, failed, provider_status="undelivered", error_message="x"),
            StatusUpdate(c, sent, provider_status="sent", next_poll_at=utcnow()),
        ]
    )
    assert {r.message_id for r in applied.resolutions} == {a, b}
    # Stale answers arrive later: they must not move anything back.
    later = apply_updates(
        [
            StatusUpdate(a, sent, provider_status="sent"),
            StatusUpdate(b, classify_message("queued"), provider_status="queued"),
            StatusUpdate(a, classify_message("read"), provider_status="read"),
        ]
    )
    assert later.resolutions == []
    ma, mb, mc = (Message.get_by_id(i) for i in (a, b, c))
    assert (ma.status, ma.provider_status, ma.price) == ("delivered", "read", Decimal("-0.0079"))
    assert (mb.status, mb.reason, mb.error_code) == (
        "failed",
        "Unreachable destination handset",
        30003,
    )
    assert mb.detail == "30003 · Unreachable destination handset"
    assert mc.status == "unknown" and mc.next_poll_at is not None
    campaign = get_campaign(campaign_id)
    assert campaign is not None
    assert (campaign.delivered, campaign.failed, campaign.unknown) == (1, 1, 1)
    assert campaign.cost == Decimal("0.0079")
    assert_counters_hold(campaign_id)
    series = tally_series(campaign_id)
    assert sum(d for _, d, _ in series) == 1 and sum(f for _, _, f in series) == 1


def test_a_final_status_is_not_replaced_by_another_final_status() -> None:
    campaign_id = _campaign(1)
    (a,) = _submit_all(campaign_id)
    apply_updates([StatusUpdate(a, classify_message("failed", 30006), provider_status="failed")])
    apply_updates([StatusUpdate(a, classify_message("delivered"), provider_status="delivered")])
    message = Message.get_by_id(a)
    assert (message.status, message.reason) == ("failed", "Landline or unreachable carrier")
    assert_counters_hold(campaign_id)


def test_create_refusal_records_the_reason() -> None:
    campaign_id = _campaign(1)
    (a,) = Message.select(Message.id).where(Message.campaign == campaign_id).tuples()
    refusal = classify_create_refusal(400, 21408, "Permission to send ...")
    apply_updates([StatusUpdate(a[0], refusal, send_state="refused")])
    message = Message.get_by_id(a[0])
    assert message.reason == Reason.HTTP_400.value
    assert message.detail.startswith("21408 · Permission to send an SMS")
    assert message.send_state == "refused"


def test_pages_are_stable_from_either_end() -> None:
    campaign_id = _campaign(250)
    everything = RecipientFilter()
    all_ids = [r.id for r in iter_recipients(campaign_id, everything, batch=40)]
    assert len(all_ids) == 250 and all_ids == sorted(all_ids)
    assert [r.id for r in recipients_at(campaign_id, everything, 0, 10)] == all_ids[:10]
    assert [r.id for r in recipients_at(campaign_id, everything, 245, 10)] == all_ids[245:]
    assert [r.id for r in recipients_at(campaign_id, everything, 120, 7)] == all_ids[120:127]
    assert [r.id for r in recipients_after(campaign_id, everything, all_ids[99], 3)] == all_ids[
        100:103
    ]
    assert recipients_at(campaign_id, everything, 250, 10) == []


def test_filters_by_status_reason_and_search() -> None:
    campaign_id = _campaign(20)
    ids = _submit_all(campaign_id)
    apply_updates(
        [StatusUpdate(i, classify_message("delivered")) for i in ids[:10]]
        + [StatusUpdate(i, classify_message("undelivered", 30005)) for i in ids[10:13]]
        + [StatusUpdate(i, classify_message("failed", 30007)) for i in ids[13:15]]
    )
    assert count_recipients(campaign_id, RecipientFilter(status=Status.DELIVERED)) == 10
    assert count_recipients(campaign_id, RecipientFilter(status=Status.UNKNOWN)) == 5
    unknown_handset = RecipientFilter(reason=Reason.UNKNOWN_HANDSET.value)
    assert [r.id for r in iter_recipients(campaign_id, unknown_handset)] == ids[10:13]
    assert reason_counts(campaign_id) == [
        ("Unknown destination handset", 3),
        ("Carrier violation", 2),
    ]
    by_name = RecipientFilter(search="person 1")
    assert count_recipients(campaign_id, by_name) == 11  # Person 1, 10..19
    by_digits = RecipientFilter(search="(415) 555-0007")
    assert [r.name for r in iter_recipients(campaign_id, by_digits)] == ["Person 7"]
    wildcard = RecipientFilter(search="%")
    assert count_recipients(campaign_id, wildcard) == 0
    failures_first = RecipientFilter(sort=Sort.FAILURES)
    assert [r.id for r in recipients_at(campaign_id, failures_first, 0, 20)] == (
        ids[10:15] + ids[15:] + ids[:10]
    )
    tail = recipients_at(campaign_id, failures_first, 15, 5)
    assert [r.status for r in tail] == [Status.DELIVERED] * 5
    # Carrier violation (30007) sorts before Unknown destination handset (30005).
    by_reason = RecipientFilter(sort=Sort.REASON)
    assert [r.id for r in iter_recipients(campaign_id, by_reason, batch=3)] == (
        ids[13:15] + ids[10:13] + ids[15:] + ids[:10]
    )


def test_leases_never_overlap_and_expire() -> None:
    campaign_id = _campaign(10)
    _submit_all(campaign_id)
    now = utcnow() + timedelta(seconds=1)
    first = polling.claim_due("poller-a", limit=6, now=now)
    second = polling.claim_due("poller-b", limit=6, now=now)
    assert len(first) == 6 and len(second) == 4
    assert not {t.message_id for t in first} & {t.message_id for t in second}
    assert polling.claim_due("poller-c", limit=6, now=now) == []
    # poller-a dies: its leases expire and another poller takes the work.
    later = now + timedelta(minutes=5)
    third = polling.claim_due("poller-c", limit=10, now=later)
    assert {t.message_id for t in third} == {t.message_id for t in first + second}
    apply_updates([StatusUpdate(t.message_id, classify_message("delivered")) for t in third])
    assert polling.pending_count(campaign_id) == 0
    assert polling.claim_due("poller-a", limit=10, now=later) == []


def test_old_unknown_messages_stop_polling_with_a_note() -> None:
    campaign_id = _campaign(2)
    a, _ = _submit_all(campaign_id)
    Message.update(attempted_at=utcnow() - timedelta(hours=73)).where(Message.id == a).execute()
    assert polling.expire_old() == 1
    message = Message.get_by_id(a)
    assert message.next_poll_at is None and message.note == "no delivery receipt from the carrier"
    assert message.status == "unknown"
    assert polling.pending_count(campaign_id) == 1


def test_opt_out_and_back_in_keeps_an_audit_trail() -> None:
    assert optouts.opt_out("+14155550100", source="manual", reason="asked", actor="ann")
    assert not optouts.opt_out("+14155550100", source="policy", reason="again", actor="policy")
    assert optouts.opted_out_phones(["+14155550100", "+14155550101"]) == {"+14155550100"}
    assert optouts.opt_in("+14155550100", actor="bob", reason="mistake")
    assert not optouts.opt_in("+14155550100", actor="bob")
    events = optouts.opt_out_history("+14155550100")
    assert [(e.action, e.actor) for e in events] == [("opt_out", "ann"), ("opt_in", "bob")]


def test_many_numbers_opt_out_in_one_call_with_one_event_each() -> None:
    from notify_tui.store.models import Contact

    Contact.create(phone="+14155550300", name="Known")
    optouts.opt_out("+14155550301", source="manual", reason="asked", actor="ann")
    phones = [f"+1415555{n:04d}" for n in range(300, 1600)]  # more than one chunk of 500
    requests = [
        optouts.OptOutRequest(phone, "policy", "landline", "policy", code=30006, evidence={"n": 1})
        for phone in phones
    ]
    requests.append(optouts.OptOutRequest("+14155550300", "manual", "second ask", "bob"))
    changed = optouts.opt_out_many(requests)
    assert changed == set(phones) - {"+14155550301"}  # already out; the first request wins
    assert optouts.opted_out_phones(phones) == set(phones)
    known = Contact.get(Contact.phone == "+14155550300")
    assert (known.name, known.opt_out_source, known.opt_out_reason) == (
        "Known",
        "policy",
        "landline",
    )
    events = OptOutEvent.select().where(OptOutEvent.action == "opt_out")
    assert events.count() == len(phones)  # one each, the earlier manual one included
    event = OptOutEvent.get(OptOutEvent.phone == "+14155550999")
    assert (event.code, event.evidence, event.reason) == (30006, '{"n": 1}', "landline")
    # A STOP outranks the policy and is recorded; nothing else changes a second time.
    stop = optouts.OptOutRequest("+14155550400", "provider", "replied STOP", "provider")
    assert optouts.opt_out_many([stop, *requests[:10]]) == {"+14155550400"}
    assert optouts.opt_out_many([]) == set()


def test_stop_cannot_be_undone_by_the_app() -> None:
    optouts.opt_out("+14155550200", source="manual", reason="asked", actor="ann")
    assert optouts.opt_out(
        "+14155550200", source="provider", reason="replied STOP", actor="provider", code=21610
    )
    with pytest.raises(optouts.OptInRefused, match="STOP"):
        optouts.opt_in("+14155550200", actor="bob")
    assert optouts.opted_out_phones(["+14155550200"]) == {"+14155550200"}
    assert OptOutEvent.select().where(OptOutEvent.action == "opt_out").count() == 2
    listed = optouts.list_optouts("0200")
    assert [(r.phone, r.source) for r in listed] == [("+14155550200", "provider")]


def test_reading_every_opt_out_page_by_page_neither_repeats_nor_skips_one() -> None:
    start = utcnow() - timedelta(hours=1)
    requests = [
        optouts.OptOutRequest(f"+1415555{i:04d}", "manual", "asked", "ann") for i in range(25)
    ]
    for i in range(0, 25, 5):  # five share each second: pages break ties by id
        optouts.opt_out_many(requests[i : i + 5], now=start + timedelta(seconds=i))
    read = []
    for record in optouts.iter_optouts(page=4):
        read.append(record.phone)
        if len(read) == 6:
            # Opted out while the list is read: newer than the first page, it shifts every
            # row by one, which reading by offset would show twice.
            optouts.opt_out("+14155559999", source="manual", reason="asked", actor="bob")
    assert sorted(read) == sorted(r.phone for r in requests)
    assert read == [r.phone for r in optouts.list_optouts()][1:]


def test_a_followup_is_listed_right_after_the_campaign_it_follows_up() -> None:
    from notify_tui.store.campaigns import campaign_page, create_campaign
    from notify_tui.store.followups import link

    old = create_campaign("Old", "x")
    middle = create_campaign("Middle", "x")
    first = create_campaign("Follow-up 1 of Old", "x")
    link(first, old)
    newest = create_campaign("Newest", "x")
    second = create_campaign("Follow-up 2 of Old", "x")
    link(second, old)
    assert [c.id for c in campaign_page()] == [newest, middle, old, first, second]
    assert [c.id for c in campaign_page(offset=3, limit=1)] == [first]
    assert [c.name for c in campaign_page("follow")] == ["Follow-up 1 of Old", "Follow-up 2 of Old"]
