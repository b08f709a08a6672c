"""Messages that really exist in a sandbox provider and wait, Unknown, in a workspace.

The sandbox's own records are written through its ``SandboxState`` API with timelines already in
the past, so every message is final when the poller asks; the matching workspace rows carry the
SIDs, Unknown and due for a look, as the sender would have left them.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from peewee import Database

from notify_tui.domain.segments import count_segments
from notify_tui.domain.status import CampaignState, SendState
from notify_tui.provider import SANDBOX_ACCOUNT_SID
from notify_tui.provider.sandbox import DEFAULT_PRICE_PER_SEGMENT, FAILED_MESSAGE_FEE, outcome_for
from notify_tui.provider.sandbox.outcomes import format_price
from notify_tui.provider.sandbox.state import SandboxState, StoredMessage
from notify_tui.store import insights
from notify_tui.store.models import Campaign, Contact, Message, database, utcnow

SENDER = "+15005550006"
BODY = "Your parcel is on its way. Track it at harbor.example/t Reply STOP to opt out."


def final_numbers(count: int, start: int = 0) -> list[str]:
    """``count`` numbers whose messages end Delivered or Failed in the sandbox (none refused at
    create, none left without a receipt), the same ones every time."""
    numbers: list[str] = []
    index = start
    while len(numbers) < count:
        phone = f"+1{(212, 415, 646, 312)[index % 4]}{5 + index // 4 % 5}{index // 20:06d}"
        index += 1
        if outcome_for(phone).final_status in ("delivered", "undelivered", "failed"):
            numbers.append(phone)
    return numbers


def _sid(index: int, salt: int) -> str:
    return f"SM{salt:08x}{index:024x}"


def build_pending(
    db: Database,
    state_path: Path | str,
    count: int,
    *,
    sent_ago: timedelta = timedelta(minutes=20),
    salt: int | None = None,
    name: str = "Pending benchmark",
) -> tuple[int, list[str]]:
    """Record ``count`` final messages in the sandbox at ``state_path`` and the same messages,
    Unknown and due now, in the open workspace; answers the campaign id and the numbers."""
    salt = salt if salt is not None else os.getpid() ^ int(time.time())
    phones = final_numbers(count)
    now_us = int(time.time() * 1_000_000)
    sent_us = now_us - int(sent_ago.total_seconds() * 1_000_000)
    segments = count_segments(BODY).segments
    delivered_price = format_price(DEFAULT_PRICE_PER_SEGMENT * segments)
    failed_price = format_price(FAILED_MESSAGE_FEE)
    state = SandboxState(state_path, commit_every=50_000)
    try:
        for i, phone in enumerate(phones):
            outcome = outcome_for(phone)
            created = sent_us + i * 500  # two thousand a second
            sending = created + 400_000
            sent = sending + 300_000
            final = sent + 2_000_000
            if outcome.final_status == "failed":
                sent = final = sending
            state.add(
                StoredMessage(
                    id=None,
                    sid=_sid(i, salt),
                    account_sid=SANDBOX_ACCOUNT_SID,
                    to=phone,
                    from_=SENDER,
                    messaging_service_sid=None,
                    body=BODY,
                    num_segments=segments,
                    status_callback=None,
                    final_status=outcome.final_status,
                    error_code=outcome.error_code,
                    price=failed_price if outcome.final_status == "failed" else delivered_price,
                    lost=False,
                    created_us=created,
                    queued_us=created,
                    sending_us=sending,
                    sent_us=sent,
                    final_us=final,
                )
            )
    finally:
        state.close()

    sent_at = datetime.fromtimestamp(sent_us / 1e6, UTC).replace(tzinfo=None)
    due = utcnow() - timedelta(seconds=1)
    param = db.param
    with db.atomic():
        campaign_id = Campaign.insert(
            name=name,
            body=BODY,
            sender=SENDER,
            state=CampaignState.SENT,
            created_at=sent_at,
            sent_at=sent_at,
            finished_at=sent_at + timedelta(seconds=count / 2000),
            segments=segments,
            price_per_segment=DEFAULT_PRICE_PER_SEGMENT,
            recipients=count,
            unknown=count,
            submitted=count,
        ).execute()
        ts = Message.updated_at.db_value
        contact_sql = (
            f'INSERT INTO "{Contact._meta.table_name}" ("phone", "name", "attributes", '
            f'"created_at", "updated_at", "opted_out") VALUES ({param}, {param}, {param}, '
            f"{param}, {param}, {param}) ON CONFLICT DO NOTHING"
        )
        cursor = db.cursor()
        cursor.executemany(
            contact_sql, [(p, "", "{}", ts(sent_at), ts(sent_at), False) for p in phones]
        )
        contact_ids: dict[str, int] = {}
        for start in range(0, len(phones), 5000):
            chunk = phones[start : start + 5000]
            contact_ids.update(
                Contact.select(Contact.phone, Contact.id).where(Contact.phone.in_(chunk)).tuples()
            )
        columns = [
            "campaign_id",
            "contact_id",
            "phone",
            "name",
            "send_state",
            "attempted_at",
            "sid",
            "provider_status",
            "num_segments",
            "date_sent",
            "status",
            "updated_at",
            "next_poll_at",
            "polls",
        ]
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join(param for _ in columns)
        sql = f'INSERT INTO "{Message._meta.table_name}" ({names}) VALUES ({marks})'
        rows = []
        for i, phone in enumerate(phones):
            attempted = datetime.fromtimestamp((sent_us + i * 500) / 1e6, UTC).replace(tzinfo=None)
            rows.append(
                (
                    campaign_id,
                    contact_ids[phone],
                    phone,
                    "",
                    SendState.SUBMITTED.value,
                    ts(attempted),
                    _sid(i, salt),
                    "queued",
                    segments,
                    None,
                    "unknown",
                    ts(attempted),
                    ts(due),
                    0,
                )
            )
        for start in range(0, len(rows), 20_000):
            cursor.executemany(sql, rows[start : start + 20_000])
        # As the app records them: each number's profile, and the breakdowns' tallies.
        insights.backfill_profiles()
        insights.rebuild([int(campaign_id)])
    return int(campaign_id), phones


__all__ = ["BODY", "SENDER", "Decimal", "build_pending", "database", "final_numbers"]
