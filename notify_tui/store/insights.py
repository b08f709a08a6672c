"""Where a campaign's failures concentrate and how fast its messages land, without a scan.

What is static about a number (region, original carrier, line type: ``domain.numbers``) is
found once, when the recipient is recorded, and kept as the message's ``profile_id`` (a row of
``NumberProfile``). Two small tables are kept current with the messages, in the transactions
that change them, as the campaign's counters are (``store.counters``):

- ``GroupTally``: messages and cost per (campaign, profile, status, reason, error code);
- ``DeliveryTally``: delivered messages per (campaign, profile, delivery-time bucket), the time
  running from the provider's ``date_sent`` (else our submission time) to the provider's date
  of the final status (``Message.resolved_at``), never the time we polled.

A breakdown of a million recipients therefore reads a few hundred rows: ``breakdown`` and
``delivery_times`` (or ``snapshot`` for both, and the alerts) never touch the messages.

Writers call ``record_new`` (recipients recorded), ``add`` (statuses and prices applied:
``updates.apply_updates``), ``forget`` (messages removed); ``rebuild`` recounts both tables
from the messages (the schema migration and ``counters.recount``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from peewee import EXCLUDED, Field, fn

from notify_tui.domain.alerts import Alert, FailureCount, SenderHistory, campaign_alerts
from notify_tui.domain.insights import DeliveryTimes, Dimension, Group, bucket_of
from notify_tui.domain.numbers import LineType, profile
from notify_tui.domain.numbers import NumberProfile as Profile
from notify_tui.domain.status import Status
from notify_tui.store.models import (
    Campaign,
    DeliveryTally,
    GroupTally,
    Message,
    NumberProfile,
    database,
)

__all__ = [
    "CampaignInsights",
    "add",
    "alerts",
    "alerts_for",
    "backfill_profiles",
    "breakdown",
    "counted",
    "counted_groups",
    "delivery_times",
    "disagreeing",
    "forget",
    "group_profile_ids",
    "profile_ids",
    "rebuild",
    "record_new",
    "sender_history",
    "snapshot",
    "stored",
]

_BATCH = 500
"""Ids per ``IN (...)``: well under SQLite's variable limit."""

NO_PROFILE = 0
"""``profile_id`` of a message recorded without one (written by hand, outside the store)."""

_NONE = Profile("", "", LineType.UNKNOWN)

TallyKey = tuple[int, int, str, str, int]
"""(campaign, profile, status, reason or "", code or 0)."""

BucketKey = tuple[int, int, int]
"""(campaign, profile, delivery-time bucket)."""


# -- profiles ---------------------------------------------------------------------------------


def profile_ids(phones: Iterable[str], known: dict[Profile, int] | None = None) -> dict[str, int]:
    """The ``NumberProfile`` id of each number, creating the profiles not seen before.

    Parses each distinct number once (``domain.numbers.profile``); a workspace has few
    profiles, so this writes at most a handful of rows. ``known``: profile ids already found
    (in this transaction), consulted and added to: a caller going through many batches reads
    the profiles table only for new profiles."""
    known = {} if known is None else known
    by_phone = {phone: profile(phone) for phone in set(phones)}
    missing = set(by_phone.values()) - known.keys()
    if missing:
        known.update(_ids_of(missing))
    return {phone: known[p] for phone, p in by_phone.items()}


def backfill_profiles(batch: int = 5_000) -> int:
    """Give every message without a profile its number's (the schema migration): in batches
    by id, each distinct number parsed once. Answers how many messages it set."""
    known: dict[Profile, int] = {}
    done = 0
    last = 0
    sql = (
        f'UPDATE "{Message._meta.table_name}" SET "profile_id" = {database.param} '
        f'WHERE "id" = {database.param}'
    )
    while True:
        page = list(
            Message.select(Message.id, Message.phone)
            .where(Message.profile_id.is_null() & (Message.id > last))
            .order_by(Message.id)
            .limit(batch)
            .tuples()
        )
        if not page:
            return done
        last = page[-1][0]
        ids = profile_ids((phone for _, phone in page), known)
        database.cursor().executemany(sql, [(ids[phone], mid) for mid, phone in page])
        done += len(page)


def _ids_of(profiles: set[Profile]) -> dict[Profile, int]:
    if not profiles:
        return {}
    rows = [(p.region, p.carrier, p.line_type.value) for p in sorted(profiles, key=_sort_key)]
    for start in range(0, len(rows), _BATCH):
        NumberProfile.insert_many(
            rows[start : start + _BATCH],
            fields=[NumberProfile.region, NumberProfile.carrier, NumberProfile.line_type],
        ).on_conflict_ignore().execute()
    found: dict[Profile, int] = {}
    regions = sorted({p.region for p in profiles})
    select = NumberProfile.select(
        NumberProfile.id, NumberProfile.region, NumberProfile.carrier, NumberProfile.line_type
    ).where(NumberProfile.region.in_(regions))
    for pid, region, carrier, line_type in select.tuples():
        p = Profile(region, carrier, LineType(line_type))
        if p in profiles:
            found[p] = int(pid)
    return found


def _sort_key(p: Profile) -> tuple[str, str, str]:
    return (p.region, p.carrier, p.line_type.value)


def _profiles(ids: Iterable[int]) -> dict[int, Profile]:
    wanted = sorted(set(ids) - {NO_PROFILE})
    found: dict[int, Profile] = {}
    for start in range(0, len(wanted), _BATCH):
        select = NumberProfile.select(
            NumberProfile.id, NumberProfile.region, NumberProfile.carrier, NumberProfile.line_type
        ).where(NumberProfile.id.in_(wanted[start : start + _BATCH]))
        for pid, region, carrier, line_type in select.tuples():
            found[int(pid)] = Profile(region, carrier, LineType(line_type))
    return found


# -- keeping the tallies ------------------------------------------------------------------------


def add(groups: Mapping[TallyKey, Sequence[int]], buckets: Mapping[BucketKey, int]) -> None:
    """Add deltas (``[messages, cost]`` per tally key, messages per delivery key) to the
    tables, in the transaction that changes the messages they count (``updates.apply_updates``
    builds them from the rows it reads anyway). Keys in sorted order: two writers on
    PostgreSQL lock rows in the same order."""
    group_rows = [(*key, n, cost) for key, (n, cost) in sorted(groups.items()) if n or cost]
    _add_rows(
        [
            GroupTally.campaign,
            GroupTally.profile_id,
            GroupTally.status,
            GroupTally.reason,
            GroupTally.code,
        ],
        [GroupTally.messages, GroupTally.cost],
        group_rows,
    )
    bucket_rows = [(*key, n) for key, n in sorted(buckets.items()) if n]
    _add_rows(
        [DeliveryTally.campaign, DeliveryTally.profile_id, DeliveryTally.bucket],
        [DeliveryTally.messages],
        bucket_rows,
    )


def _add_rows(keys: list[Field], sums: list[Field], rows: Sequence[tuple[object, ...]]) -> None:
    """Insert ``rows`` (``keys`` then ``sums``), adding ``sums`` to a row already there."""
    model = keys[0].model
    for start in range(0, len(rows), _BATCH):
        model.insert_many(rows[start : start + _BATCH], fields=[*keys, *sums]).on_conflict(
            conflict_target=keys,
            update={f: f + getattr(EXCLUDED, f.column_name) for f in sums},
        ).execute()


NewRow = tuple[int | None, str, str | None, int | None]
"""A recorded message as ``record_new`` counts it: profile id, status, reason, code."""


def record_new(campaign_id: int, rows: Iterable[NewRow]) -> None:
    """Count newly recorded messages of a campaign: ``(profile_id, status, reason, code)``
    each. Call it in the transaction that inserts them."""
    groups: dict[TallyKey, list[int]] = defaultdict(lambda: [0, 0])
    for profile_id, status, reason, code in rows:
        groups[(campaign_id, profile_id or NO_PROFILE, status, reason or "", code or 0)][0] += 1
    add(groups, {})


def forget(message_ids: Sequence[int]) -> None:
    """Uncount messages about to be deleted. Call it in the transaction that deletes them,
    before the delete. (Only Unknown messages are ever deleted: no delivery time to take
    back.)"""
    groups: dict[TallyKey, list[int]] = defaultdict(lambda: [0, 0])
    price_of = Message.price.db_value
    for start in range(0, len(message_ids), _BATCH):
        select = Message.select(
            Message.campaign,
            Message.profile_id,
            Message.status,
            Message.reason,
            Message.error_code,
            Message.price,
        ).where(Message.id.in_(list(message_ids[start : start + _BATCH])))
        for cid, pid, status, reason, code, price in select.tuples():
            entry = groups[(int(cid), pid or NO_PROFILE, status, reason or "", code or 0)]
            entry[0] -= 1
            entry[1] -= abs(int(price_of(price))) if price is not None else 0
    add(groups, {})


def rebuild(campaign_ids: Iterable[int]) -> None:
    """Recount both tables of these campaigns from their messages (one pass each); call it
    inside a transaction that holds the campaigns (``counters.lock``)."""
    wanted = sorted(set(campaign_ids))
    if not wanted:
        return
    GroupTally.delete().where(GroupTally.campaign.in_(wanted)).execute()
    DeliveryTally.delete().where(DeliveryTally.campaign.in_(wanted)).execute()
    groups, buckets = counted(wanted)
    add({key: [n, cost] for key, (n, cost) in groups.items()}, dict(buckets))


Tallies = tuple[dict[TallyKey, tuple[int, int]], dict[tuple[int, int, int], int]]
"""Group tallies (``(messages, cost)`` per key) and delivery tallies (messages per
``(campaign, profile, bucket)``), zero entries left out."""


def counted(campaign_ids: Sequence[int]) -> Tallies:
    """What the campaigns' messages say the tallies should be (a full pass over them)."""
    groups = counted_groups(campaign_ids)
    buckets: dict[tuple[int, int, int], int] = defaultdict(int)
    date_of = Message.date_sent.python_value
    last = 0
    while True:
        page = list(
            Message.select(
                Message.id,
                Message.campaign,
                Message.profile_id,
                Message.date_sent,
                Message.attempted_at,
                Message.resolved_at,
            )
            .where(
                Message.campaign.in_(list(campaign_ids))
                & (Message.status == Status.DELIVERED.value)
                & (Message.id > last)
            )
            .order_by(Message.id)
            .limit(20_000)
            .tuples()
        )
        if not page:
            break
        last = page[-1][0]
        for _, cid, pid, sent, attempted, resolved in page:
            start_at = date_of(sent) if sent is not None else date_of(attempted)
            end_at = date_of(resolved)
            if start_at is not None and end_at is not None:
                bucket = bucket_of((end_at - start_at).total_seconds())
                buckets[(int(cid), pid or NO_PROFILE, bucket)] += 1
    return groups, dict(buckets)


def disagreeing(campaign_ids: Sequence[int] | None = None) -> dict[int, str]:
    """The campaigns whose tallies disagree with their messages, each with what differs in
    words (``doctor``): the group tallies against one grouped pass over the messages, the
    delivery tallies by their total against the delivered messages with both dates (counted,
    not re-timed: cheap at a million)."""
    wanted = (
        sorted(set(campaign_ids))
        if campaign_ids is not None
        else [int(c) for (c,) in Campaign.select(Campaign.id).tuples()]
    )
    found: dict[int, str] = {}
    for start in range(0, len(wanted), _BATCH):
        chunk = wanted[start : start + _BATCH]
        groups = counted_groups(chunk)
        kept, kept_buckets = stored(chunk)
        timed = _timed(chunk)
        per: dict[int, int] = defaultdict(int)
        for (cid, _, _), n in kept_buckets.items():
            per[cid] += n
        for cid in chunk:
            mine = {k: v for k, v in kept.items() if k[0] == cid}
            theirs = {k: v for k, v in groups.items() if k[0] == cid}
            if mine != theirs:
                n_mine = sum(n for n, _ in mine.values())
                n_theirs = sum(n for n, _ in theirs.values())
                found[cid] = (
                    f"its breakdowns count {n_mine:,} messages in {len(mine):,} groups; its "
                    f"messages make {n_theirs:,} in {len(theirs):,}"
                )
            elif per.get(cid, 0) != timed.get(cid, 0):
                found[cid] = (
                    f"its delivery times count {per.get(cid, 0):,} messages; "
                    f"{timed.get(cid, 0):,} delivered ones have both dates"
                )
    return found


def counted_groups(campaign_ids: Sequence[int]) -> dict[TallyKey, tuple[int, int]]:
    """What the campaigns' messages say the group tallies should be (one grouped pass)."""
    profile_id = fn.COALESCE(Message.profile_id, NO_PROFILE)
    reason = fn.COALESCE(Message.reason, "")
    code = fn.COALESCE(Message.error_code, 0)
    select = (
        Message.select(
            Message.campaign,
            profile_id,
            Message.status,
            reason,
            code,
            fn.COUNT(Message.id),
            fn.COALESCE(fn.SUM(fn.ABS(Message.price)), 0),
        )
        .where(Message.campaign.in_(list(campaign_ids)))
        .group_by(Message.campaign, profile_id, Message.status, reason, code)
    )
    return {
        (int(c), int(p), s, r, int(k)): (int(n), int(cost))
        for c, p, s, r, k, n, cost in select.tuples()
    }


def _timed(campaign_ids: Sequence[int]) -> dict[int, int]:
    """Delivered messages with a start and an end, per campaign: those the delivery tallies
    count."""
    select = (
        Message.select(Message.campaign, fn.COUNT(Message.id))
        .where(
            Message.campaign.in_(list(campaign_ids))
            & (Message.status == Status.DELIVERED.value)
            & Message.resolved_at.is_null(False)
            & (Message.date_sent.is_null(False) | Message.attempted_at.is_null(False))
        )
        .group_by(Message.campaign)
    )
    return {int(c): int(n) for c, n in select.tuples()}


def stored(campaign_ids: Sequence[int]) -> Tallies:
    """What the tables hold for these campaigns (zero entries left out)."""
    wanted = list(campaign_ids)
    groups = {
        (int(c), int(p), s, r, int(k)): (int(n), int(cost))
        for c, p, s, r, k, n, cost in GroupTally.select(
            GroupTally.campaign,
            GroupTally.profile_id,
            GroupTally.status,
            GroupTally.reason,
            GroupTally.code,
            GroupTally.messages,
            GroupTally.cost,
        )
        .where(GroupTally.campaign.in_(wanted))
        .tuples()
        if n or cost
    }
    buckets = {
        (int(c), int(p), int(b)): int(n)
        for c, p, b, n in DeliveryTally.select(
            DeliveryTally.campaign,
            DeliveryTally.profile_id,
            DeliveryTally.bucket,
            DeliveryTally.messages,
        )
        .where(DeliveryTally.campaign.in_(wanted))
        .tuples()
        if n
    }
    return groups, buckets


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignInsights:
    """A campaign's tallies, read once: breakdowns by any dimension, delivery times, and the
    failures by code and region that the alerts look at. Cheap to build and pure to use."""

    campaign_id: int
    tallies: Sequence[tuple[Profile, str, str, int, int, int]] = ()
    """``(profile, status, reason, code, messages, cost)`` rows."""
    buckets: Sequence[tuple[Profile, int, int]] = ()
    """``(profile, bucket, messages)`` rows."""
    _cache: dict[Dimension, list[Group]] = field(default_factory=dict, compare=False)

    @property
    def recipients(self) -> int:
        """All messages counted (the campaign's recipients)."""
        return sum(row[4] for row in self.tallies)

    def delivery_times(self) -> DeliveryTimes:
        """The delivery times of every delivered message with provider dates."""
        merged: dict[int, int] = defaultdict(int)
        for _, bucket, n in self.buckets:
            merged[bucket] += n
        return DeliveryTimes(dict(merged))

    def failures(self) -> list[FailureCount]:
        """Failed messages by code, region and line type, most first."""
        found: Counter[tuple[int, str, str, LineType]] = Counter()
        for p, status, reason, code, n, _ in self.tallies:
            if status == Status.FAILED.value and n:
                found[(code, reason, p.region, p.line_type)] += n
        return [
            FailureCount(code, reason, region, line_type, n)
            for (code, reason, region, line_type), n in sorted(
                found.items(), key=lambda item: (-item[1], item[0][0], item[0][2])
            )
        ]

    def breakdown(self, dimension: Dimension) -> list[Group]:
        """The campaign's recipients grouped by ``dimension``, largest group first.

        By ``REASON``: one group per Failed Message Reason (its recipients are the failed
        messages with that reason). By the others: every recipient, in the group of its
        number's region, original carrier or line type."""
        cached = self._cache.get(dimension)
        if cached is None:
            cached = self._cache[dimension] = self._group(dimension)
        return list(cached)

    def _group(self, dimension: Dimension) -> list[Group]:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
        reasons: dict[str, Counter[str]] = defaultdict(Counter)
        for p, status, reason, _, n, cost in self.tallies:
            if dimension is Dimension.REASON and status != Status.FAILED.value:
                continue
            key = _key(p, reason, dimension)
            entry = counts[key]
            entry[0] += n
            entry[1 + (status == Status.FAILED.value) + 2 * (status == Status.UNKNOWN.value)] += n
            entry[4] += cost
            if status == Status.FAILED.value and reason:
                reasons[key][reason] += n
        times: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        if dimension is not Dimension.REASON:
            for p, bucket, n in self.buckets:
                times[_key(p, "", dimension)][bucket] += n
        groups = []
        for key, (recipients, delivered, failed, unknown, cost) in counts.items():
            if recipients <= 0:
                continue
            top = reasons[key].most_common(1)
            groups.append(
                Group(
                    key=key,
                    label=_label(key, dimension),
                    recipients=recipients,
                    delivered=delivered,
                    failed=failed,
                    unknown=unknown,
                    cost=cost,
                    top_reason=top[0][0] if top else None,
                    top_reason_count=top[0][1] if top else 0,
                    delivery=DeliveryTimes(dict(times.get(key, {}))),
                )
            )
        groups.sort(key=lambda g: (-g.recipients, g.key))
        return groups


def _key(p: Profile, reason: str, dimension: Dimension) -> str:
    if dimension is Dimension.REASON:
        return reason
    if dimension is Dimension.COUNTRY:
        return p.region
    if dimension is Dimension.CARRIER:
        return p.carrier
    return p.line_type.value


def _label(key: str, dimension: Dimension) -> str:
    if dimension is Dimension.LINE_TYPE:
        return LineType(key).label
    if key:
        return key
    return {
        Dimension.REASON: "No reason",
        Dimension.COUNTRY: "Unknown country",
        Dimension.CARRIER: "Unknown carrier",
    }[dimension]


def snapshot(campaign_id: int) -> CampaignInsights:
    """Read a campaign's tallies (a few hundred rows whatever its size): two queries."""
    tallies = list(
        GroupTally.select(
            GroupTally.profile_id,
            GroupTally.status,
            GroupTally.reason,
            GroupTally.code,
            GroupTally.messages,
            GroupTally.cost,
        )
        .where(GroupTally.campaign == campaign_id)
        .tuples()
    )
    buckets = list(
        DeliveryTally.select(DeliveryTally.profile_id, DeliveryTally.bucket, DeliveryTally.messages)
        .where(DeliveryTally.campaign == campaign_id)
        .tuples()
    )
    profiles = _profiles([row[0] for row in tallies] + [row[0] for row in buckets])
    return CampaignInsights(
        campaign_id,
        [
            (profiles.get(pid, _NONE), status, reason, int(code), int(n), int(cost))
            for pid, status, reason, code, n, cost in tallies
        ],
        [(profiles.get(pid, _NONE), int(bucket), int(n)) for pid, bucket, n in buckets],
    )


def breakdown(campaign_id: int, dimension: Dimension) -> list[Group]:
    """The campaign's recipients grouped by ``dimension`` (see ``CampaignInsights.breakdown``).
    Reads the tallies only: quick at a million recipients. Not on the event loop (a query)."""
    return snapshot(campaign_id).breakdown(dimension)


def delivery_times(campaign_id: int) -> DeliveryTimes:
    """How long the campaign's delivered messages took to land (p50/p90/p99, histogram)."""
    return snapshot(campaign_id).delivery_times()


def group_profile_ids(dimension: Dimension, key: str) -> list[int]:
    """The profile ids whose numbers fall in the group ``key`` of ``dimension`` (country,
    carrier or line type): filter messages with ``Message.profile_id.in_(...)`` (see
    ``recipients.RecipientFilter.profiles``). Profile 0 (none) belongs to the "unknown"
    groups."""
    if dimension is Dimension.REASON:
        raise ValueError("a reason group is filtered by its reason, not by profiles")
    column = {
        Dimension.COUNTRY: NumberProfile.region,
        Dimension.CARRIER: NumberProfile.carrier,
        Dimension.LINE_TYPE: NumberProfile.line_type,
    }[dimension]
    select = NumberProfile.select(NumberProfile.id).where(column == key)
    ids = [int(pid) for (pid,) in select.tuples()]
    if key == _key(_NONE, "", dimension):
        ids.append(NO_PROFILE)
    return sorted(ids)


# -- alerts -----------------------------------------------------------------------------------


def sender_history(campaign_id: int, limit: int = 20) -> SenderHistory:
    """The unreachable-handset shares of the ``limit`` campaigns the same sender (number or
    Messaging Service) sent before this one: two small queries."""
    this = Campaign.get_or_none(Campaign.id == campaign_id)
    if this is None:
        return SenderHistory()
    same = (
        (Campaign.messaging_service_sid == this.messaging_service_sid)
        if this.messaging_service_sid
        else (Campaign.sender == this.sender)
    )
    earlier = list(
        Campaign.select(Campaign.id, Campaign.recipients)
        .where(same & (Campaign.id < campaign_id) & (Campaign.recipients > 0))
        .order_by(Campaign.id.desc())
        .limit(limit)
        .tuples()
    )
    if not earlier:
        return SenderHistory()
    unreachable: dict[int, int] = dict(
        GroupTally.select(GroupTally.campaign, fn.SUM(GroupTally.messages))
        .where(GroupTally.campaign.in_([cid for cid, _ in earlier]) & (GroupTally.code == 30003))
        .group_by(GroupTally.campaign)
        .tuples()
    )
    return SenderHistory(tuple(int(unreachable.get(cid, 0) or 0) / int(n) for cid, n in earlier))


def alerts(campaign_id: int, read: CampaignInsights | None = None) -> list[Alert]:
    """The campaign's alerts (``domain.alerts``), from its tallies and its sender's history;
    ``read``: its snapshot, when the caller has read it already."""
    seen = read if read is not None else snapshot(campaign_id)
    return campaign_alerts(seen.recipients, seen.failures(), sender_history(campaign_id))


def alerts_for(campaign_ids: Sequence[int]) -> dict[int, list[Alert]]:
    """The alerts of many campaigns at once (``campaigns --json``): four queries in all,
    whatever their number, instead of a few per campaign. Same answers as ``alerts``."""
    wanted = sorted(set(campaign_ids))
    if not wanted:
        return {}
    rows = list(
        Campaign.select(
            Campaign.id, Campaign.sender, Campaign.messaging_service_sid, Campaign.recipients
        ).tuples()
    )
    sender_of = {int(cid): (mss or None, None if mss else sender) for cid, sender, mss, _ in rows}
    recipients = {int(cid): int(n) for cid, _, _, n in rows}
    by_sender: dict[tuple[str | None, str | None], list[int]] = defaultdict(list)
    for cid in sorted(sender_of):
        if recipients[cid] > 0:
            by_sender[sender_of[cid]].append(cid)
    unreachable: dict[int, int] = {
        int(cid): int(n or 0)
        for cid, n in GroupTally.select(GroupTally.campaign, fn.SUM(GroupTally.messages))
        .where(GroupTally.code == 30003)
        .group_by(GroupTally.campaign)
        .tuples()
    }
    failed: dict[int, list[tuple[int, str, str, int]]] = defaultdict(list)
    for start in range(0, len(wanted), _BATCH):
        select = GroupTally.select(
            GroupTally.campaign,
            GroupTally.profile_id,
            GroupTally.reason,
            GroupTally.code,
            GroupTally.messages,
        ).where(
            GroupTally.campaign.in_(wanted[start : start + _BATCH])
            & (GroupTally.status == Status.FAILED.value)
        )
        for cid, pid, reason, code, n in select.tuples():
            failed[int(cid)].append((int(pid), reason, int(code), int(n)))
    profiles = _profiles(pid for entries in failed.values() for pid, _, _, _ in entries)
    found: dict[int, list[Alert]] = {}
    for cid in wanted:
        if cid not in recipients:
            continue
        counts: Counter[tuple[int, str, str, LineType]] = Counter()
        for pid, reason, code, n in failed.get(cid, []):
            p = profiles.get(pid, _NONE)
            counts[(code, reason, p.region, p.line_type)] += n
        failures = [
            FailureCount(code, reason, region, line_type, n)
            for (code, reason, region, line_type), n in sorted(
                counts.items(), key=lambda item: (-item[1], item[0][0], item[0][2])
            )
            if n
        ]
        same = by_sender.get(sender_of[cid], [])
        earlier = [c for c in same if c < cid][-20:][::-1]
        history = SenderHistory(tuple(unreachable.get(c, 0) / recipients[c] for c in earlier))
        found[cid] = campaign_alerts(recipients[cid], failures, history)
    return found
