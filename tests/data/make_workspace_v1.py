"""Builds ``workspace-v1.sqlite3``: a workspace as the first release (schema version 1) left it.

Version 1 had every table of today's schema except ``opt_out_suggestion`` (added by migration 2).
The file holds two campaigns (one resolved, one still resolving, with an invalid number, a
refusal, leases and a note), contacts with attributes, opt-outs and an opt-in with their audit
trail, and the per-minute status history. Run it from the repository root to rebuild the file;
the test ``tests/hardening/test_database.py`` checks that all of it survives the migration.
"""

from __future__ import annotations

import sqlite3
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from notify_tui.domain.status import classify_create_refusal, classify_message  # noqa: E402
from notify_tui.store.campaigns import create_campaign, set_state  # noqa: E402
from notify_tui.store.contacts import ContactInput, contact_import  # noqa: E402
from notify_tui.store.db import open_workspace  # noqa: E402
from notify_tui.store.models import Campaign, Message, OptOutSuggestion, SchemaInfo  # noqa: E402
from notify_tui.store.optouts import opt_in, opt_out  # noqa: E402
from notify_tui.store.sending import NewRecipient, add_recipients  # noqa: E402
from notify_tui.store.updates import StatusUpdate, apply_updates  # noqa: E402

TARGET = Path(__file__).with_name("workspace-v1.sqlite3")
T0 = datetime(2024, 3, 1, 9, 0, 0)


def build(path: Path) -> None:
    path.unlink(missing_ok=True)
    db = open_workspace(None, path)
    with contact_import() as writer:
        writer.write(
            [
                ContactInput(f"+1415555{i:04d}", f"Person {i}", {"city": f"City {i % 3}"})
                for i in range(12)
            ],
            now=T0,
        )
    opt_out("+14155550003", source="manual", reason="asked by phone", actor="ann", now=T0)
    opt_out("+14155550004", source="policy", reason="landline (30006)", actor="policy", now=T0)
    opt_in("+14155550004", actor="ann", reason="it is a mobile now", now=T0 + timedelta(hours=1))

    first = create_campaign(
        "Spring sale [b]",
        "Spring sale: 20% off",
        sender="+15005550006",
        segments=1,
        price_per_segment=Decimal("0.0079"),
    )
    phones = [f"+1415555{i:04d}" for i in range(12)]
    add_recipients(
        first,
        [NewRecipient(p, f"Person {i}") for i, p in enumerate(phones)]
        + [NewRecipient("12", "Typo", "too short")],
        now=T0,
    )
    set_state(first, "sent", now=T0)
    ids = dict(Message.select(Message.phone, Message.id).where(Message.campaign == first).tuples())
    updates = []
    for i, phone in enumerate(p for p in phones if p != "+14155550003"):
        sid = f"SM{i:032x}"
        Message.update(sid=sid, send_state="submitted", attempted_at=T0).where(
            Message.id == ids[phone]
        ).execute()
        status, code = [("delivered", None), ("undelivered", 30003), ("failed", 30006)][i % 3]
        updates.append(
            StatusUpdate(
                ids[phone],
                classify_message(status, code),
                provider_status=status,
                error_message="Unreachable destination handset" if code == 30003 else None,
                price=Decimal("-0.00790"),
                price_unit="USD",
                num_segments=1,
                resolved_at=T0 + timedelta(minutes=i % 4),
            )
        )
    apply_updates(updates, now=T0 + timedelta(minutes=5))
    Campaign.update(submitted=11).where(Campaign.id == first).execute()

    second = create_campaign("Reminder", "See you tomorrow", sender="+15005550006")
    add_recipients(second, [NewRecipient(p) for p in phones[:5]], now=T0)
    set_state(second, "sending", now=T0)
    ids = dict(Message.select(Message.phone, Message.id).where(Message.campaign == second).tuples())
    Message.update(
        sid=Message.id.concat("-sid"),
        send_state="submitted",
        attempted_at=T0,
        next_poll_at=T0 + timedelta(minutes=10),
        provider_status="sent",
    ).where(Message.campaign == second).execute()
    refusal = classify_create_refusal(400, 21610, "Attempt to send to unsubscribed recipient")
    apply_updates(
        [
            StatusUpdate(ids[phones[0]], refusal, send_state="refused"),
            StatusUpdate(
                ids[phones[1]], classify_message("delivered"), provider_status="delivered"
            ),
        ],
        now=T0 + timedelta(minutes=6),
    )
    Message.update(lease_owner="host:1:abc", lease_until=T0 + timedelta(minutes=12)).where(
        Message.id == ids[phones[2]]
    ).execute()
    Message.update(note="no delivery receipt from the carrier", next_poll_at=None).where(
        Message.id == ids[phones[4]]
    ).execute()
    Campaign.update(submitted=3).where(Campaign.id == second).execute()

    db.drop_tables([OptOutSuggestion])
    SchemaInfo.update(value="1").where(SchemaInfo.key == "version").execute()
    db.close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA journal_mode=DELETE")
    raw.execute("PRAGMA page_size=1024")
    raw.execute("VACUUM")
    raw.close()


if __name__ == "__main__":
    build(TARGET)
    print(f"wrote {TARGET} ({TARGET.stat().st_size:,} bytes)")
