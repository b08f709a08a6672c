"""Deterministic workspaces for the UI tests: campaigns whose every message has a known fate."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from notify_tui.domain.status import (
    Classification,
    SendState,
    Status,
    classify_create_refusal,
    classify_message,
)
from notify_tui.store.campaigns import create_campaign, set_state
from notify_tui.store.models import Campaign, Message, database
from notify_tui.store.optouts import SOURCE_PROVIDER, opt_out
from notify_tui.store.sending import NewRecipient, add_recipients, count_submitted, mark_attempting
from notify_tui.store.updates import StatusUpdate, apply_updates

SENDER = "+15005550006"
PRICE = Decimal("0.0079")
SENT_AT = datetime(2025, 3, 4, 9, 30)
"""When the seeded campaigns went out (naive UTC, as the store keeps it)."""
NOW = datetime(2025, 3, 4, 12, 0)
"""The fixed clock of the snapshot tests."""

HOSTILE_NAMES = (
    "[@click=app.quit]x",
    "Bob [/] Smith",
    "[bold]x",
    "\x1b[31mred\x1b[0m\x1b]0;pwned\x07",
)


@dataclass(frozen=True)
class Person:
    """A recipient and how their message ends: ``delivered``, ``unknown`` or an error code."""

    phone: str
    name: str
    fate: str | int = "delivered"


def fixed_clock() -> datetime:
    return NOW


def _classification(fate: str | int) -> tuple[Classification, str]:
    if fate == "delivered":
        return classify_message("delivered"), "delivered"
    if fate == "unknown":
        return Classification(Status.UNKNOWN), "sent"
    assert isinstance(fate, int)
    if fate >= 30000:
        return classify_message("undelivered", fate), "undelivered"
    return classify_create_refusal(400, fate), "failed"


def seed_campaign(
    name: str,
    people: Sequence[Person],
    *,
    body: str = "Spring sale: 20% off everything this weekend. Reply STOP to opt out.",
    sent_at: datetime = SENT_AT,
    state: str = "sent",
) -> int:
    """Record a campaign whose messages resolved over the minutes after ``sent_at``."""
    with database.atomic():
        campaign_id = create_campaign(
            name, body, sender=SENDER, segments=1, price_per_segment=PRICE, state="draft"
        )
        set_state(campaign_id, "sending", now=sent_at)
        add_recipients(campaign_id, [NewRecipient(p.phone, p.name) for p in people], now=sent_at)
        ids = dict(
            Message.select(Message.phone, Message.id)
            .where(Message.campaign == campaign_id)
            .tuples()
        )
        mark_attempting(list(ids.values()), now=sent_at)
        apply_updates(
            [
                StatusUpdate(
                    ids[p.phone],
                    Classification(Status.UNKNOWN),
                    provider_status="queued",
                    sid=f"SM{campaign_id:08x}{ids[p.phone]:024x}",
                    send_state=SendState.SUBMITTED,
                )
                for p in people
            ],
            now=sent_at,
        )
        count_submitted(campaign_id, len(people))
        by_minute: dict[int, list[StatusUpdate]] = defaultdict(list)
        for index, person in enumerate(people):
            if person.fate == "unknown":
                continue
            classification, raw = _classification(person.fate)
            by_minute[1 + index % 7].append(
                StatusUpdate(
                    ids[person.phone],
                    classification,
                    provider_status=raw,
                    price=-PRICE,
                    price_unit="USD",
                    num_segments=1,
                )
            )
        for minute, updates in sorted(by_minute.items()):
            apply_updates(updates, now=sent_at + timedelta(minutes=minute))
        unknown = [ids[p.phone] for p in people if p.fate == "unknown"]
        if unknown:
            apply_updates(
                [
                    # Sent, waiting for a receipt: still polled (past the window, not any more).
                    StatusUpdate(
                        i,
                        Classification(Status.UNKNOWN),
                        provider_status="sent",
                        next_poll_at=sent_at + timedelta(minutes=10),
                    )
                    for i in unknown
                ],
                now=sent_at + timedelta(minutes=8),
            )
        if state != "sending":
            set_state(campaign_id, state, now=sent_at + timedelta(minutes=1))
        for person in people:
            if person.fate == 21610:
                opt_out(
                    person.phone,
                    source=SOURCE_PROVIDER,
                    reason="replied STOP (21610)",
                    actor="provider",
                    campaign_id=campaign_id,
                    code=21610,
                    now=sent_at + timedelta(minutes=1),
                )
    return campaign_id


SPRING = [
    Person("+14155550101", "Ada Lovelace"),
    Person("+14155550102", "Grace Hopper", 30003),
    Person("+14155550103", "Alan Turing"),
    Person("+14155550104", "Edsger Dijkstra", 30006),
    Person("+14155550105", "Barbara Liskov", "unknown"),
    Person("+14155550106", "Donald Knuth"),
    Person("+14155550107", "Frances Allen", 30003),
    Person("+15005550004", "Dana Whitfield", 21610),
    Person("+14155550109", "Ken Thompson"),
    Person("+14155550110", "Margaret Hamilton", 30007),
    Person("+14155550111", "Dennis Ritchie"),
    Person("+14155550112", "Radia Perlman", "unknown"),
]
"""A small campaign with every kind of outcome."""


def seed_history() -> dict[str, int]:
    """Three campaigns, oldest first; returns their ids by name."""
    ids = {
        "Winter newsletter": seed_campaign(
            "Winter newsletter",
            [Person(f"+1415555{i:04d}", f"Reader {i}") for i in range(200, 230)],
            sent_at=SENT_AT - timedelta(days=30),
        ),
        "Spring sale": seed_campaign("Spring sale", SPRING),
    }
    sending = seed_campaign(
        "Restock alert",
        [Person(f"+1415555{i:04d}", f"Fan {i}", "unknown") for i in range(300, 340)],
        sent_at=SENT_AT + timedelta(hours=2),
        state="sending",
    )
    # Being sent: 25 of its 40 messages submitted, the other 15 waiting their turn.
    waiting = (
        Message.select(Message.id)
        .where(Message.campaign == sending)
        .order_by(Message.id.desc())
        .limit(15)
    )
    Message.update(
        send_state=SendState.PENDING, sid=None, provider_status=None, next_poll_at=None
    ).where(Message.id.in_([m.id for m in waiting])).execute()
    Campaign.update(submitted=25).where(Campaign.id == sending).execute()
    ids["Restock alert"] = sending
    return ids


async def wait_until(
    pilot: object, predicate: object, tries: int = 300, step: float = 0.05
) -> None:
    """Let the app run until ``predicate()`` holds (bounded: fails after ``tries`` pauses)."""
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    assert callable(predicate)
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(step)
    raise AssertionError(f"gave up waiting for {getattr(predicate, '__name__', predicate)}")


async def send_live(runtime: object, name: str, people: Sequence[Person]) -> int:
    """Send a campaign for real through the runtime's sandbox; its messages start Unknown."""
    from notify_tui.services.runtime import SANDBOX_FROM, Runtime
    from notify_tui.services.sender import prepare_campaign, send_campaign

    assert isinstance(runtime, Runtime)
    prepared = prepare_campaign(
        name,
        "Hello from the live test. Reply STOP to opt out.",
        [NewRecipient(p.phone, p.name) for p in people],
        sender=SANDBOX_FROM,
        price_per_segment=PRICE,
    )
    await send_campaign(runtime.client, prepared.campaign_id)
    return prepared.campaign_id


def seed_big_campaign(size: int) -> int:
    """A campaign of ``size`` recipients written straight into the tables (fast to build)."""
    from notify_tui.domain.status import Reason

    with database.atomic():
        campaign_id = create_campaign(
            "Big one", "Hello", sender=SENDER, segments=1, price_per_segment=PRICE, state="sent"
        )
        set_state(campaign_id, "sending", now=SENT_AT)
        counts = {"delivered": 0, "failed": 0, "unknown": 0}
        reason = Reason.UNREACHABLE_HANDSET.value
        submitted = SendState.SUBMITTED.value
        updated = Message.updated_at.db_value(SENT_AT)
        rows: list[tuple[object, ...]] = []
        for i in range(size):
            status = ("delivered", "delivered", "delivered", "failed", "unknown")[i % 5]
            counts[status] += 1
            failed = reason if status == "failed" else None
            rows.append(
                (campaign_id, f"+1415{i:07d}", f"Person {i}", status, failed, submitted, updated)
            )
        # One prepared statement run over tuples, the columns left out given their defaults:
        # peewee's insert_many of dicts converted every value of every row (9 s for 100,000).
        given = ("campaign", "phone", "name", "status", "reason", "send_state", "updated_at")
        defaults = {
            f.column_name: f.db_value(f.default() if callable(f.default) else f.default)
            for f in Message._meta.sorted_fields
            if f.name not in given and f.default is not None
        }
        columns = [Message._meta.fields[name].column_name for name in given] + list(defaults)
        marks = ", ".join(database.param for _ in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        sql = f'INSERT INTO "{Message._meta.table_name}" ({names}) VALUES ({marks})'
        extra = tuple(defaults.values())
        database.cursor().executemany(sql, [row + extra for row in rows])
        Campaign.update(recipients=size, submitted=size, **counts).where(
            Campaign.id == campaign_id
        ).execute()
    return campaign_id


def seed_contacts(people: Sequence[Person]) -> None:
    """Add contacts (no campaign), as an import would."""
    from notify_tui.store.contacts import ContactInput, contact_import

    with contact_import() as writer:
        writer.write([ContactInput(p.phone, p.name) for p in people], now=SENT_AT)


def seed_suggestions(campaign_id: int, phones: Sequence[str], *, held: bool = False) -> None:
    """Suggest opting these numbers out after two failures (this campaign and one before)."""
    from notify_tui.store.suggestions import suggest

    for phone in phones:
        suggest(
            phone,
            campaign_id=campaign_id,
            rule="repeat",
            code=30003,
            reason="failed 2 times in a row as an unknown or unreachable handset",
            evidence={
                "rule": "repeat",
                "failures": [
                    {"campaign": campaign_id - 1, "code": 30005},
                    {"campaign": campaign_id, "code": 30003},
                ],
            },
            held=held,
            now=SENT_AT + timedelta(minutes=10),
        )


def seed_optouts() -> None:
    """A manual and a policy opt-out beside the STOP one of ``SPRING`` (seed that first)."""
    from notify_tui.store.optouts import SOURCE_MANUAL, SOURCE_POLICY

    opt_out(
        "+14155550103",
        source=SOURCE_MANUAL,
        reason="opted out from Details (Delivered)",
        actor="ann",
        now=SENT_AT + timedelta(hours=1),
    )
    opt_out(
        "+14155550104",
        source=SOURCE_POLICY,
        reason="not SMS-capable (landline) (30006)",
        actor="policy",
        code=30006,
        now=SENT_AT + timedelta(minutes=5),
    )


async def wait_for_campaigns(pilot: object) -> None:
    """Let History read its campaigns (on a worker) until the cursor is on one."""
    from textual.pilot import Pilot

    from notify_tui.ui.widgets.campaign_table import CampaignTable

    assert isinstance(pilot, Pilot)
    table = pilot.app.screen.query_one(CampaignTable)
    await wait_until(pilot, lambda: table.current_row is not None)


LONG_CAMPAIGN = "Spring sale for every customer of the Brighton and Hove shops, second reminder"
"""A campaign name longer than any column gives it."""

LONG_PEOPLE = [
    Person("+14155559201", "Maximiliana Featherstonehaugh-Cholmondeley", 30006),
    Person("+14155559202", "Bartholomew Oyelaran-Wickramasinghe (head office)", 21610),
    Person("+14155559203", "Siobhán Ní Mhaoldomhnaigh", 30003),
    Person("+14155559204", "Hubert Blaine Wolfeschlegelsteinhausenbergerdorff", 30005),
    Person("+14155559205", "Ada Lovelace"),
    Person("+14155559206", "Grace Brewster Murray Hopper", 30007),
    Person("+14155559207", "Radia Perlman", "unknown"),
    Person("+14155559208", "Dennis MacAlistair Ritchie"),
]
"""Long names, and the longest reasons: landline, STOP (HTTP 400), unreachable handset,
unknown handset, carrier violation."""


def seed_long_text() -> dict[str, int]:
    """History's campaigns, and one with a long name, long names and long reasons (the
    snapshots at every size); returns the ids by name."""
    from notify_tui.store.optouts import SOURCE_MANUAL

    ids = seed_history()
    ids[LONG_CAMPAIGN] = seed_campaign(LONG_CAMPAIGN, LONG_PEOPLE)
    opt_out(
        "+14155559201",
        source=SOURCE_MANUAL,
        reason="opted out from Details (Landline or unreachable carrier, 30006)",
        actor="ann",
        now=SENT_AT + timedelta(hours=1),
    )
    return ids
