"""Workspaces made by an older notify-tui open in this one with everything they held."""

from __future__ import annotations

from pathlib import Path

import pytest

from notify_tui.store import name_search
from notify_tui.store.campaigns import campaign_page, create_campaign
from notify_tui.store.db import SCHEMA_VERSION, WorkspaceError, open_workspace, schema_version
from notify_tui.store.models import ALL_MODELS, OptOutSuggestion, SchemaInfo, database
from notify_tui.store.recipients import count_recipients
from notify_tui.store.sending import NewRecipient, add_recipients


def _make_version_1(path: Path) -> int:
    """What the first release created: every table but the suggestions, at version 1."""
    db = open_workspace(None, path)
    db.drop_tables([OptOutSuggestion])
    SchemaInfo.update(value="1").where(SchemaInfo.key == "version").execute()
    campaign_id = create_campaign("Kept", "Hello")
    add_recipients(campaign_id, [NewRecipient(f"+1415555010{i}") for i in range(3)])
    db.close()
    return campaign_id


def test_a_version_1_workspace_migrates_with_its_data(tmp_path: Path) -> None:
    campaign_id = _make_version_1(tmp_path / "v1.db")
    db = open_workspace(None, tmp_path / "v1.db")
    try:
        assert schema_version(db) == SCHEMA_VERSION
        tables = {m._meta.table_name for m in ALL_MODELS} | name_search.sqlite_tables()
        assert set(db.get_tables()) == tables
        assert [c.name for c in campaign_page()] == ["Kept"]
        assert count_recipients(campaign_id) == 3
    finally:
        db.close()
        database.initialize(None)


def test_a_newer_workspace_is_refused_untouched(tmp_path: Path) -> None:
    db = open_workspace(None, tmp_path / "new.db")
    SchemaInfo.update(value=str(SCHEMA_VERSION + 1)).where(SchemaInfo.key == "version").execute()
    db.close()
    with pytest.raises(WorkspaceError, match="upgrade notify-tui"):
        open_workspace(None, tmp_path / "new.db")
    database.initialize(None)


def test_a_version_10_workspace_gains_the_schedule_columns_and_keeps_its_messages(
    database_url: str,
) -> None:
    """Version 11 adds nullable columns in place: no table is rebuilt, so no message of a
    campaign is lost to ON DELETE CASCADE (on SQLite and PostgreSQL)."""
    from notify_tui.store.models import Campaign, Message

    db = open_workspace(database_url)
    campaign_id = create_campaign("Before schedules", "Hello")
    add_recipients(campaign_id, [NewRecipient(f"+1415555020{i}") for i in range(4)])
    for table, column in (
        ("campaign", "send_at"),
        ("campaign", "timezone"),
        ("campaign", "quiet_hours"),
        ("campaign", "wake_at"),
        ("message", "held_until"),
    ):
        db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    SchemaInfo.update(value="10").where(SchemaInfo.key == "version").execute()
    db.close()

    db = open_workspace(database_url)
    try:
        assert schema_version(db) == SCHEMA_VERSION >= 11
        assert count_recipients(campaign_id) == 4
        kept = Campaign.get_by_id(campaign_id)
        assert (kept.send_at, kept.timezone, kept.quiet_hours, kept.wake_at) == (None,) * 4
        assert Message.select().where(Message.held_until.is_null(False)).count() == 0
    finally:
        db.close()
        database.initialize(None)


def test_a_version_11_workspace_records_how_statuses_arrive_from_then_on(
    database_url: str,
) -> None:
    """Version 12 adds ``message.resolved_by`` and ``campaign.pulled`` in place (no rebuild, no
    message lost); the pushed statuses counted before it are not known per message, so the
    count restarts at 0 and the counters agree with the messages."""
    from notify_tui.store.models import Campaign, Message
    from tests.invariants import assert_counters_hold

    db = open_workspace(database_url)
    campaign_id = create_campaign("Before resolved_by", "Hello")
    add_recipients(campaign_id, [NewRecipient(f"+1415555030{i}") for i in range(4)])
    db.execute_sql('ALTER TABLE "message" DROP COLUMN "resolved_by"')
    db.execute_sql('ALTER TABLE "campaign" DROP COLUMN "pulled"')
    db.execute_sql('UPDATE "campaign" SET "pushed" = 3')
    SchemaInfo.update(value="11").where(SchemaInfo.key == "version").execute()
    db.close()

    db = open_workspace(database_url)
    try:
        assert schema_version(db) == SCHEMA_VERSION >= 12
        assert count_recipients(campaign_id) == 4
        kept = Campaign.get_by_id(campaign_id)
        assert (kept.pushed, kept.pulled) == (0, 0)
        assert Message.select().where(Message.resolved_by.is_null(False)).count() == 0
        assert_counters_hold(campaign_id)
    finally:
        db.close()
        database.initialize(None)


def test_a_version_12_workspace_gains_the_archive_column_and_keeps_its_messages(
    database_url: str,
) -> None:
    """Version 13 adds ``archived_at`` in place (no rebuild, no cascade), on both databases;
    every campaign of the older workspace is in use, none archived."""
    from notify_tui.store.models import Campaign

    db = open_workspace(database_url)
    campaign_id = create_campaign("Before archives", "Hello")
    add_recipients(campaign_id, [NewRecipient(f"+1415555040{i}") for i in range(4)])
    db.execute_sql('ALTER TABLE "campaign" DROP COLUMN "archived_at"')
    SchemaInfo.update(value="12").where(SchemaInfo.key == "version").execute()
    db.close()

    db = open_workspace(database_url)
    try:
        assert schema_version(db) == SCHEMA_VERSION >= 13
        assert count_recipients(campaign_id) == 4
        assert Campaign.get_by_id(campaign_id).archived_at is None
        assert [c.name for c in campaign_page()] == ["Before archives"]
    finally:
        db.close()
        database.initialize(None)
