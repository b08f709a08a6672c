"""Every search folds case and accents on both sides, from a stored folded name (issue 14: 14):
``/siobhan`` finds Siobhán, ``/SIOBHÁN`` finds Siobhan, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from notify_tui.domain.text import fold, folded_name
from notify_tui.store import db as store_db
from notify_tui.store import name_search
from notify_tui.store.campaigns import campaign_page, count_campaigns, create_campaign
from notify_tui.store.contacts import contact_page, count_contacts
from notify_tui.store.db import SCHEMA_VERSION, open_workspace, schema_version
from notify_tui.store.models import Campaign, Contact, Message, SchemaInfo, database
from notify_tui.store.optouts import SOURCE_MANUAL, list_optouts, opt_out, optout_counts
from notify_tui.store.recipients import RecipientFilter, count_recipients, recipients_after
from notify_tui.store.sending import NewRecipient, add_recipients

PEOPLE = [
    NewRecipient("+14155550100", "Siobhán Ó Briain"),
    NewRecipient("+14155550101", "Siobhan Smith"),
    NewRecipient("+14155550102", "ZOË KRAVITZ"),
    NewRecipient("+14155550103", "Łukasz Øster"),
    NewRecipient("+14155550104", "Ann"),
]


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Siobhán", "siobhan"),
        ("SIOBHÁN", "siobhan"),
        ("ZOË", "zoe"),
        ("Łukasz Øster", "lukasz oster"),
        ("Straße", "strasse"),
        ("Ｂｏｂ", "bob"),
        ("Ann", "ann"),
        ("张伟", "张伟"),
    ],
)
def test_fold_ignores_case_and_accents(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_an_ascii_name_stores_no_folded_form() -> None:
    # The database's own case-insensitive LIKE on the name does for it.
    assert folded_name("Ann Smith") is None
    assert folded_name("") is None
    assert folded_name("Siobhán") == "siobhan"


def _seed() -> int:
    campaign_id = create_campaign("Café Siobhán", "Hi")
    create_campaign("Plain", "Hi")
    add_recipients(campaign_id, PEOPLE)
    return campaign_id


def _names(campaign_id: int, search: str) -> list[str]:
    rows = recipients_after(campaign_id, RecipientFilter(search=search), None, 100)
    return sorted(row.name for row in rows)


def _check_every_search(campaign_id: int) -> None:
    siobhans = ["Siobhan Smith", "Siobhán Ó Briain"]
    for typed in ("siobhan", "SIOBHÁN", "Siobhán", "siobhÁn"):
        assert _names(campaign_id, typed) == siobhans, typed
        assert count_recipients(campaign_id, RecipientFilter(search=typed)) == 2
        assert sorted(c.name for c in contact_page(typed)) == siobhans
        assert count_contacts(typed) == 2
    assert _names(campaign_id, "zoe") == ["ZOË KRAVITZ"]
    assert _names(campaign_id, "lukasz oster") == ["Łukasz Øster"]
    assert _names(campaign_id, "ó bri") == ["Siobhán Ó Briain"]
    assert [c.name for c in campaign_page("cafe")] == ["Café Siobhán"]
    assert [c.name for c in campaign_page("CAFÉ SIOBHAN")] == ["Café Siobhán"]
    assert count_campaigns("siobhan") == 1
    # Literal % and _ stay literal, folded or not.
    assert count_campaigns("caf%") == 0

    opt_out("+14155550100", source=SOURCE_MANUAL, reason="asked", actor="me")
    opt_out("+14155550103", source=SOURCE_MANUAL, reason="asked", actor="me")
    assert [r.name for r in list_optouts("SIOBHAN")] == ["Siobhán Ó Briain"]
    assert [r.name for r in list_optouts("oster")] == ["Łukasz Øster"]
    assert optout_counts("siobhan") == {SOURCE_MANUAL: 1}


@pytest.mark.usefixtures("workspace")
def test_every_search_folds_case_and_accents_on_both_sides() -> None:
    _check_every_search(_seed())


def test_an_older_workspace_gets_its_names_folded_in_batches(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = open_workspace(database_url)
    try:
        campaign_id = _seed()
        # As version 9 left it: no folded names at all (nor the name order's index on them, nor
        # the search index over them).
        db.execute_sql('DROP INDEX IF EXISTS "message_name_order"')
        name_search.drop(db)
        for table in ("campaign", "contact", "message"):
            db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "name_folded"')
        SchemaInfo.update(value="9").where(SchemaInfo.key == "version").execute()
    finally:
        db.close()
        database.initialize(None)

    monkeypatch.setattr(store_db, "FOLD_BATCH", 2)  # several batches of a few names
    db = open_workspace(database_url)
    try:
        assert schema_version(db) == SCHEMA_VERSION
        folded = {m.name: m.name_folded for m in Message.select()}
        assert folded == {
            "Siobhán Ó Briain": "siobhan o briain",
            "Siobhan Smith": None,
            "ZOË KRAVITZ": "zoe kravitz",
            "Łukasz Øster": "lukasz oster",
            "Ann": None,
        }
        assert Contact.select().where(Contact.name_folded.is_null(False)).count() == 3
        assert [c.name_folded for c in Campaign.select().order_by(Campaign.id)] == [
            "cafe siobhan",
            None,
        ]
        _check_every_search(campaign_id)
    finally:
        db.close()
        database.initialize(None)


@pytest.mark.usefixtures("workspace")
def test_an_import_that_renames_a_contact_folds_the_new_name(tmp_path: Path) -> None:
    from notify_tui.services.contacts_import import import_contacts

    path = tmp_path / "people.csv"
    path.write_text("phone,name\n4155550100,Ann\n", encoding="utf-8")
    import_contacts(path)
    assert count_contacts("siobhan") == 0
    path.write_text("phone,name\n4155550100,Siobhán Lee\n", encoding="utf-8")
    import_contacts(path)
    assert [c.name for c in contact_page("SIOBHAN")] == ["Siobhán Lee"]
    # And back to plain ASCII: nothing folded is left behind to match the old name.
    path.write_text("phone,name\n4155550100,Ann Lee\n", encoding="utf-8")
    import_contacts(path)
    assert count_contacts("siobhan") == 0
    assert Contact.get(Contact.phone == "+14155550100").name_folded is None
