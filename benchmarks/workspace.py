"""Build the benchmark's workspaces straight through the store, in bulk.

Everything here writes rows the way the app's own code would leave them, only much faster than
sending for real: one prepared ``INSERT`` run with ``executemany`` per table, inside one
transaction, so a campaign of a million recipients is ready in seconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from peewee import Database, PostgresqlDatabase

from notify_tui.domain.money import to_micros
from notify_tui.domain.numbers import NumberProfile
from notify_tui.domain.status import (
    NO_RECEIPT_NOTE,
    CampaignState,
    Classification,
    SendState,
    Status,
    classify_create_refusal,
    classify_message,
)
from notify_tui.domain.text import folded_name
from notify_tui.provider.sandbox import outcome_for
from notify_tui.provider.sandbox.outcomes import Outcome
from notify_tui.store import insights
from notify_tui.store.db import open_workspace
from notify_tui.store.models import Campaign, Contact, Message, StatusTally, database, utcnow

SENDER = "+15005550006"
PRICE = Decimal("0.0079")
BODY = "Spring sale: 20% off everything this weekend at Harbor & Co. Reply STOP to opt out."
BIG_NAME = "Benchmark: one million"
NEWEST_NAME = "Benchmark newest campaign"
"""The top row of History: the start-up benchmark waits for this text on the terminal."""

FIRST = "Olivia Liam Emma Noah Ava Oliver Sophia Elijah Mia James Chen Priya Fatima Sakura".split()
LAST = "Smith Johnson Garcia Miller Davis Lopez Wilson Taylor Nguyen Kim Patel Müller".split()

_BATCH = 20_000


@dataclass(frozen=True)
class Fate:
    """How the message to one number ends, as the sandbox would decide it."""

    status: Status
    provider_status: str | None
    classification: Classification
    send_state: SendState


def _fate(outcome: Outcome) -> Fate:
    if outcome.final_status == "refused":
        classification = classify_create_refusal(400, outcome.error_code)
        return Fate(Status.FAILED, None, classification, SendState.REFUSED)
    if outcome.final_status == "sent":
        unknown = Classification(Status.UNKNOWN)
        return Fate(Status.UNKNOWN, "sent", unknown, SendState.SUBMITTED)
    classification = classify_message(outcome.final_status, outcome.error_code)
    return Fate(classification.status, outcome.final_status, classification, SendState.SUBMITTED)


def phone_number(index: int) -> str:
    """A valid-looking US mobile number, different for every index below ten million."""
    area = (415, 212, 312, 617, 206, 303, 512, 404, 305, 503)[index % 10]
    return f"+1{area}{2 + (index // 10) % 8}{(index // 80):06d}"


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _executemany(db: Database, table: str, columns: list[str], rows: Iterator[tuple]) -> int:
    param = db.param
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join(param for _ in columns)
    sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
    cursor = db.cursor()

    def insert(_: str, batch: list[tuple]) -> None:
        # Many rows a statement, as the app's own bulk inserts (``store.bulk``): the search
        # index's triggers write a statement's rows at once, a row per statement is ten times
        # slower.
        per = max(1, 30_000 // len(columns))
        for start in range(0, len(batch), per):
            chunk = batch[start : start + per]
            rows_sql = ", ".join([f"({marks})"] * len(chunk))
            cursor.execute(
                f'INSERT INTO "{table}" ({names}) VALUES {rows_sql}', [v for r in chunk for v in r]
            )

    if isinstance(db, PostgresqlDatabase):
        # psycopg2's executemany is one round trip a row: many rows per statement instead.
        from psycopg2.extras import execute_values

        many = f'INSERT INTO "{table}" ({names}) VALUES %s'

        def insert(_: str, batch: list[tuple]) -> None:
            execute_values(cursor, many, batch, page_size=2000)

    done = 0
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _BATCH:
            insert(sql, batch)
            done += len(batch)
            batch = []
    if batch:
        insert(sql, batch)
        done += len(batch)
    return done


def open_db(data_dir: Path, url: str | None = None) -> Database:
    """Open (creating) the workspace the app would use with ``NOTIFY_DATA_DIR``, or with
    ``NOTIFY_DATABASE_URL`` set to ``url``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return open_workspace(url, data_dir / "workspace.db")


def settle(db: Database) -> None:
    """What a workspace needs after a bulk build: SQLite's log folded in, PostgreSQL's
    statistics brought up to date (or its planner guesses, on a table of a million rows)."""
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("ANALYZE")
    else:
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _ts(moment: datetime | None) -> str | None:
    return Message.updated_at.db_value(moment) if moment is not None else None


def build_big_campaign(db: Database, recipients: int, *, sent_ago: timedelta) -> int:
    """A finished campaign of ``recipients`` messages, each with its contact, resolved as the
    sandbox resolves them (the few that never get a receipt are past the polling window)."""
    rng = random.Random(2026)
    sent_at = utcnow() - sent_ago
    fates: dict[Outcome, Fate] = {}
    counts = {Status.DELIVERED: 0, Status.FAILED: 0, Status.UNKNOWN: 0}
    refused = 0
    tallies: dict[datetime, list[int]] = {}
    cost = Decimal(0)
    with db.atomic():
        campaign_id = Campaign.insert(
            name=BIG_NAME,
            body=BODY,
            sender=SENDER,
            state=CampaignState.SENT,
            created_at=sent_at,
            sent_at=sent_at,
            finished_at=sent_at + timedelta(hours=3),
            segments=1,
            price_per_segment=PRICE,
        ).execute()
        first_contact = (Contact.select(Contact.id).order_by(Contact.id.desc()).scalar() or 0) + 1
        phones = [phone_number(i) for i in range(recipients)]
        names = [_name(rng) for _ in range(recipients)]
        created = _ts(sent_at)
        _executemany(
            db,
            Contact._meta.table_name,
            ["phone", "name", "name_folded", "attributes", "created_at", "updated_at", "opted_out"],
            (
                (p, n, folded_name(n), "{}", created, created, False)
                for p, n in zip(phones, names, strict=True)
            ),
        )
        columns = [
            "campaign_id",
            "contact_id",
            "phone",
            "name",
            "name_folded",
            "send_state",
            "attempted_at",
            "sid",
            "provider_status",
            "error_code",
            "error_message",
            "price",
            "price_unit",
            "num_segments",
            "date_sent",
            "status",
            "reason",
            "detail",
            "note",
            "updated_at",
            "resolved_at",
            "next_poll_at",
            "polls",
            "profile_id",
        ]
        # A NANP number's region, (absent) carrier and line type follow from its area code and
        # exchange: the profile is found once per "+1AAAEEE", not per number.
        known: dict[NumberProfile, int] = {}
        by_exchange: dict[str, int] = {}

        def profile_of(phone: str) -> int:
            key = phone[:8]
            found = by_exchange.get(key)
            if found is None:
                found = by_exchange[key] = insights.profile_ids([phone], known)[phone]
            return found

        def rows() -> Iterator[tuple]:
            nonlocal cost, refused
            for i, phone in enumerate(phones):
                outcome = outcome_for(phone)
                fate = fates.get(outcome)
                if fate is None:
                    fate = fates[outcome] = _fate(outcome)
                counts[fate.status] += 1
                # Sent at about 100 a second, resolved seconds to minutes later.
                attempted = sent_at + timedelta(seconds=i / 100)
                submitted = fate.send_state == SendState.SUBMITTED
                refused += not submitted
                resolved = attempted + timedelta(seconds=5 + (i % 97))
                final = fate.status is not Status.UNKNOWN
                price = None
                if submitted and final:
                    price = Decimal("-0.00100") if outcome.final_status == "failed" else -PRICE
                    cost += abs(price)
                if final:
                    minute = resolved.replace(second=0, microsecond=0)
                    tally = tallies.setdefault(minute, [0, 0])
                    tally[0 if fate.status is Status.DELIVERED else 1] += 1
                c = fate.classification
                yield (
                    campaign_id,
                    first_contact + i,
                    phone,
                    names[i],
                    folded_name(names[i]),
                    fate.send_state.value,
                    _ts(attempted),
                    f"SM{rng.getrandbits(128):032x}" if submitted else None,
                    fate.provider_status,
                    c.code,
                    c.title if c.code else None,
                    to_micros(price) if price is not None else None,
                    "USD" if price is not None else None,
                    1 if submitted else None,
                    _ts(attempted + timedelta(seconds=1)) if submitted else None,
                    fate.status.value,
                    c.reason.value if c.reason else None,
                    c.detail or None,
                    None if final else NO_RECEIPT_NOTE,
                    _ts(resolved),
                    _ts(resolved) if final else None,
                    None,
                    3,
                    profile_of(phone),
                )

        _executemany(db, Message._meta.table_name, columns, rows())
        # The breakdowns' tallies, counted from the messages as a migration counts them.
        insights.rebuild([campaign_id])
        for minute, (delivered, failed) in sorted(tallies.items()):
            StatusTally.insert(
                campaign=campaign_id, minute=minute, delivered=delivered, failed=failed
            ).execute()
        Campaign.update(
            recipients=recipients,
            submitted=recipients - refused,
            delivered=counts[Status.DELIVERED],
            failed=counts[Status.FAILED],
            unknown=counts[Status.UNKNOWN],
            cost=cost,
        ).where(Campaign.id == campaign_id).execute()
    return int(campaign_id)


def build_many_campaigns(db: Database, count: int, *, newest_ago: timedelta) -> None:
    """``count`` finished campaigns of a few hundred recipients each (counters only: History
    reads nothing else), one a few hours apart, the newest named ``NEWEST_NAME``."""
    rng = random.Random(7)
    now = utcnow()
    rows = []
    for i in range(count):
        age = newest_ago + timedelta(hours=3 * (count - 1 - i))
        sent = now - age
        recipients = rng.randint(50, 900)
        failed = recipients * rng.randint(2, 12) // 100
        unknown = recipients * rng.randint(0, 3) // 100
        name = NEWEST_NAME if i == count - 1 else f"Weekly offers #{i + 1}"
        rows.append(
            (
                name,
                BODY,
                SENDER,
                "sent",
                _ts(sent),
                _ts(sent),
                _ts(sent + timedelta(minutes=20)),
                1,
                to_micros(PRICE),
                recipients,
                recipients - failed - unknown,
                failed,
                unknown,
                recipients,
                0,
                to_micros(PRICE * recipients),
                0,
            )
        )
    with db.atomic():
        _executemany(
            db,
            Campaign._meta.table_name,
            [
                "name",
                "body",
                "sender",
                "state",
                "created_at",
                "sent_at",
                "finished_at",
                "segments",
                "price_per_segment",
                "recipients",
                "delivered",
                "failed",
                "unknown",
                "submitted",
                "skipped_opted_out",
                "cost",
                "pushed",
            ],
            iter(rows),
        )


def timed(label: str, log: bool = True):  # type: ignore[no-untyped-def]
    """A context manager printing how long a step took (to stderr)."""
    import contextlib
    import sys

    @contextlib.contextmanager
    def block():  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        yield
        if log:
            print(f"  {label}: {time.perf_counter() - started:.1f} s", file=sys.stderr)

    return block()


__all__ = [
    "BIG_NAME",
    "NEWEST_NAME",
    "build_big_campaign",
    "build_many_campaigns",
    "database",
    "open_db",
    "phone_number",
    "settle",
    "timed",
]
