"""Helpers of the hardening tests: campaigns in known states, and what must always hold."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from peewee import fn

from notify_tui.domain.status import classify_message
from notify_tui.store.campaigns import create_campaign, set_state
from notify_tui.store.models import Campaign, Message, StatusTally, utcnow
from notify_tui.store.sending import NewRecipient, Submitted, add_recipients, record_submitted
from notify_tui.store.updates import StatusUpdate, apply_updates
from tests.invariants import assert_counters_hold

ROOT = Path(__file__).resolve().parents[2]
SENDER = "+15005550006"


def phones(count: int, start: int = 0, prefix: str = "+1415") -> list[str]:
    """Valid US numbers, distinct for distinct ``start`` ranges."""
    return [f"{prefix}{start + i:07d}" for i in range(count)]


def resolved_campaign(
    name: str = "Spring",
    *,
    delivered: int = 5,
    failed: int = 3,
    unknown: int = 4,
    invalid: int = 1,
    start: int = 0,
    resolved_at: datetime | None = None,
) -> int:
    """A campaign as a sender and a poller would leave it: some Delivered (priced), some Failed
    (30003, priced), some still Unknown (submitted, due for a poll), and invalid numbers."""
    campaign_id = create_campaign(name, "Hello", sender=SENDER)
    total = delivered + failed + unknown
    numbers = phones(total, start)
    bad = [NewRecipient(f"bad-{start + i}", "", "not a phone number") for i in range(invalid)]
    add_recipients(
        campaign_id, [NewRecipient(p, f"Person {i}") for i, p in enumerate(numbers)] + bad
    )
    set_state(campaign_id, "sending")
    ids = dict(
        Message.select(Message.phone, Message.id).where(Message.campaign == campaign_id).tuples()
    )
    now = utcnow()
    Message.update(attempted_at=now).where(Message.campaign == campaign_id).execute()
    record_submitted(
        [
            Submitted(ids[p], f"SM{campaign_id:08d}{i:024x}", "queued", 1, None, now)
            for i, p in enumerate(numbers)
        ]
    )
    Campaign.update(submitted=total).where(Campaign.id == campaign_id).execute()
    set_state(campaign_id, "sent")
    at = resolved_at or now
    updates = []
    for i, phone in enumerate(numbers[: delivered + failed]):
        if i < delivered:
            status, code, price = "delivered", None, Decimal("-0.0079")
        else:
            status, code, price = "undelivered", 30003, Decimal("-0.001")
        updates.append(
            StatusUpdate(
                ids[phone],
                classify_message(status, code),
                provider_status=status,
                price=price,
                price_unit="USD",
                resolved_at=at - timedelta(minutes=i % 3),
            )
        )
    apply_updates(updates)
    return campaign_id


def row_counts(campaign_id: int) -> dict[str, int]:
    """Messages of the campaign by status."""
    return dict(
        Message.select(Message.status, fn.COUNT(Message.id))
        .where(Message.campaign == campaign_id)
        .group_by(Message.status)
        .tuples()
    )


def assert_consistent(campaign_id: int) -> None:
    """Delivered + Failed + Unknown equals the recipients, equals the rows; the history agrees."""
    assert_counters_hold(campaign_id)
    rows = row_counts(campaign_id)
    tallied = (
        StatusTally.select(fn.SUM(StatusTally.delivered), fn.SUM(StatusTally.failed))
        .where(StatusTally.campaign == campaign_id)
        .tuples()
        .first()
    )
    invalid = (
        Message.select()
        .where((Message.campaign == campaign_id) & (Message.send_state == "invalid"))
        .count()
    )
    assert (int(tallied[0] or 0), int(tallied[1] or 0)) == (
        rows.get("delivered", 0),
        rows.get("failed", 0) - invalid,
    )


def assert_all_consistent() -> None:
    """``assert_consistent`` for every campaign."""
    for (campaign_id,) in Campaign.select(Campaign.id).tuples():
        assert_consistent(campaign_id)


def subprocess_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a ``notify-tui`` child process on this workspace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "TWILIO_"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            "NOTIFY_DATA_DIR": str(tmp_path / "data"),
            "NOTIFY_CONFIG": str(tmp_path / "config.toml"),
            "NOTIFY_DATABASE_URL": database_url,
            "NOTIFY_FROM": SENDER,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


CLI = [sys.executable, "-c", "import sys; from notify_tui.cli import main; sys.exit(main())"]
"""``notify-tui`` as a child process, whatever is installed."""
