"""The search index of names (``store.name_search``): a search through it finds exactly what the
scan finds, it follows every change of the rows, a migration builds it, doctor checks and
rebuilds it. On SQLite (FTS5 trigram) and PostgreSQL (pg_trgm) alike."""

from __future__ import annotations

import pytest
from peewee import PostgresqlDatabase

from notify_tui.domain.text import folded_name
from notify_tui.store import db as store_db
from notify_tui.store import name_search
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.contacts import contact_page, count_contacts
from notify_tui.store.db import SCHEMA_VERSION, open_workspace, schema_version
from notify_tui.store.doctor import Check, examine, repair
from notify_tui.store.models import Campaign, Contact, Message, SchemaInfo, database
from notify_tui.store.recipients import (
    RecipientFilter,
    Sort,
    _where,
    count_recipients,
    index_recipients,
)
from notify_tui.store.sending import NewRecipient, add_recipients
from tests.store import test_search_folding as folding

PEOPLE = [
    *folding.PEOPLE,  # accents and case on both sides
    NewRecipient("+14155550105", "100% Ann_Lee"),
    NewRecipient("+14155550106", "1000 Annex"),
    NewRecipient("+14155550107", "Müller-Straße"),
    NewRecipient("+14155550108", "张伟 Zhang"),
    NewRecipient("+14155550109", 'O\'Brien "Bob"'),
    NewRecipient("+14155550110", ""),
    NewRecipient("bob-annex", "", invalid_reason="not a number"),
    NewRecipient("+1 ann", "Nobody", invalid_reason="not a number"),
]

SEARCHES = [
    # 1 and 2 characters: the scan answers (a trigram index cannot).
    "a",
    "Ö",
    "an",
    "ß",
    # 3 and more: the index narrows.
    "ann",
    "ANN",
    "siobhan",
    "SIOBHÁN",
    "siobhÁn",
    "ó bri",
    "zoe",
    "ZOË",
    "lukasz oster",
    "strasse",
    "straße",
    "müller",
    "MULLER",
    "0% a",
    "100%",
    "n_l",
    "%an",
    "a_l",
    "___",
    "张伟 z",
    '"bob"',
    "o'br",
    "bob",
    "annex",
    "+1 ann",
    "nobody here",
    # Numbers are matched against the numbers (their own index).
    "555010",
    "+1415",
    "(415) 555-0101",
]


PAYS = name_search.pays


@pytest.fixture(autouse=True)
def _index_always_pays(monkeypatch: pytest.MonkeyPatch) -> None:
    """These campaigns are small: SQLite would scan them (``name_search.pays``). Here the
    index's rows are read whenever it narrows, to compare them with the scan."""
    monkeypatch.setattr(name_search, "pays", lambda model, text, scanned: True)


def _campaign(name: str = "Index") -> int:
    campaign_id = create_campaign(name, "Hi")
    add_recipients(campaign_id, PEOPLE)
    return campaign_id


def _found(campaign_id: int, text: str) -> tuple[object, ...]:
    """What every search shows for ``text``: the recipients of the campaign in every order (by
    the index of a view, as Details reads them), how many, and the contacts."""
    orders = []
    for sort in Sort:
        index = index_recipients(campaign_id, RecipientFilter(search=text, sort=sort))
        assert index is not None
        orders.append(list(index.ids))
    assert all(sorted(ids) == sorted(orders[0]) for ids in orders)
    count = count_recipients(campaign_id, RecipientFilter(search=text))
    contacts = sorted(c.phone for c in contact_page(text, 0, 100))
    return sorted(orders[0]), count, contacts, count_contacts(text), orders


def _with_and_without_index(campaign_id: int) -> dict[str, tuple[object, ...]]:
    narrowed = {text for text in SEARCHES if name_search.narrows(Message, text)}
    # Every search of 3 characters or more that is not a number goes through the index.
    assert narrowed == {
        t
        for t in SEARCHES
        if len(t) >= 3 and t not in ("555010", "+1415", "(415) 555-0101", "ß", "Ö")
    }
    with_index = {text: _found(campaign_id, text) for text in SEARCHES}
    name_search.drop(database.obj)
    assert not any(name_search.narrows(Message, text) for text in SEARCHES)
    without = {text: _found(campaign_id, text) for text in SEARCHES}
    for text in SEARCHES:
        assert with_index[text] == without[text], text
    return with_index


@pytest.mark.usefixtures("workspace")
def test_a_search_through_the_index_finds_exactly_what_the_scan_finds() -> None:
    _campaign("Other")
    campaign_id = _campaign()
    # A row written without its folded form (by hand, or by an older version) still matches.
    Message.update(name="Zoë Hand", name_folded=None).where(
        (Message.campaign == campaign_id) & (Message.phone == "+14155550110")
    ).execute()
    found = _with_and_without_index(campaign_id)

    def people(text: str) -> set[str]:
        rows = Message.select(Message.name, Message.phone).where(Message.id.in_(found[text][0]))
        return {m.name or m.phone for m in rows}

    assert people("siobhÁn") == {"Siobhán Ó Briain", "Siobhan Smith"}
    # Zoë Hand has no folded form: found by her name as typed, accents and all.
    assert people("zoe") == {"ZOË KRAVITZ"}
    assert people("ZOË") == {"ZOË KRAVITZ", "Zoë Hand"}
    assert people("100%") == {"100% Ann_Lee"}
    assert people("n_l") == {"100% Ann_Lee"}
    assert people("a_l") == set()
    assert people("strasse") == people("straße") == {"Müller-Straße"}
    assert people("bob") == {'O\'Brien "Bob"', "bob-annex"}
    assert people("+1 ann") == {"Nobody"}  # by the number "+1 ann", which is not E.164
    assert found["annex"][1] == 2  # 1000 Annex, and the invalid number bob-annex
    assert found["ann"][3] == 3  # contacts: Ann, 100% Ann_Lee, 1000 Annex (no invalid ones)


@pytest.mark.usefixtures("workspace")
def test_the_index_follows_renamed_numbers_and_deleted_campaigns() -> None:
    campaign_id = _campaign()
    gone = _campaign("Gone")
    ann = Message.get((Message.campaign == campaign_id) & (Message.name == "Ann"))

    def ids(text: str, cid: int = campaign_id) -> list[int]:
        index = index_recipients(cid, RecipientFilter(search=text))
        assert index is not None and name_search.narrows(Message, text)
        return list(index.ids)

    Message.update(name="Zoltán Nagy", name_folded=folded_name("Zoltán Nagy")).where(
        Message.id == ann.id
    ).execute()
    assert ids("zoltan") == [ann.id]
    assert ann.id not in ids("ann")
    Message.update(phone="zzz-typo").where(Message.id == ann.id).execute()
    assert ids("typo") == [ann.id]
    Contact.update(name="Renée Ann", name_folded=folded_name("Renée Ann")).where(
        Contact.phone == "+14155550101"
    ).execute()
    assert [c.name for c in contact_page("renee")] == ["Renée Ann"]
    assert count_contacts("siobhan smith") == 0

    assert len(ids("siobhan", gone)) == 2
    Campaign.delete().where(Campaign.id == gone).execute()  # its messages go by cascade
    assert ids("siobhan", gone) == []
    assert len(ids("siobhan")) == 2
    found = examine()
    assert not found.of(Check.SEARCH_INDEX), found.problems
    if not isinstance(database.obj, PostgresqlDatabase):
        states = {s.table: s for s in name_search.states()}
        assert states["message"].indexed == states["message"].rows == len(PEOPLE)


def test_a_version_13_workspace_gets_its_index_built_in_batches(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = open_workspace(database_url)
    try:
        campaign_id = _campaign()
        name_search.drop(db)  # as version 13 left it
        SchemaInfo.update(value="13").where(SchemaInfo.key == "version").execute()
        expected = {text: _found(campaign_id, text) for text in SEARCHES}
    finally:
        db.close()
        database.initialize(None)

    monkeypatch.setattr(name_search, "BUILD_BATCH", 3)
    monkeypatch.setattr(store_db, "SAY_PROGRESS_FROM", 1)
    db = open_workspace(database_url)
    try:
        assert schema_version(db) == SCHEMA_VERSION
        assert name_search.present() == {"message", "contact"}
        assert all(state.in_sync for state in name_search.states())
        assert {text: _found(campaign_id, text) for text in SEARCHES} == expected
        said = capsys.readouterr().err
        assert f"indexing the names of message for search, {len(PEOPLE)} of {len(PEOPLE)}" in said
        if not isinstance(db, PostgresqlDatabase):
            assert "indexing the names of message for search, 3 of 13" in said  # in batches
    finally:
        db.close()
        database.initialize(None)


@pytest.mark.usefixtures("workspace")
def test_doctor_finds_a_missing_index_and_rebuilds_it() -> None:
    campaign_id = _campaign()
    name_search.drop(database.obj)
    found = examine()
    problems = found.of(Check.SEARCH_INDEX)
    assert [p.text for p in problems] == [
        "the search index of the recipients' names is missing (searches read every row)",
        "the search index of the contacts' names is missing (searches read every row)",
    ]
    assert all(p.repairable for p in problems)
    done = repair(found)
    assert "rebuilt the search index of names from the rows (24 rows)" in done
    assert examine().ok
    assert name_search.narrows(Message, "siobhan")
    assert count_recipients(campaign_id, RecipientFilter(search="siobhan")) == 2


def test_doctor_finds_an_index_out_of_sync_and_rebuilds_it(sqlite_url: str) -> None:
    """(SQLite: the index's rows can be counted.) Rows written while the triggers were gone."""
    campaign_id = _campaign()
    database.execute_sql('DROP TRIGGER "message_search_insert"')
    _campaign("Unindexed")
    database.execute_sql('DROP TRIGGER "contact_search_delete"')
    Contact.delete().where(Contact.phone == "+14155550100").execute()
    name_search.drop(database.obj)
    name_search.create(database.obj)  # the index as it was: ...
    database.execute_sql(
        "INSERT INTO message_search(message_search, rowid, key) "
        "SELECT 'delete', id, key FROM message_search_source WHERE id > 13"
    )
    assert [p.text for p in examine().of(Check.SEARCH_INDEX)] == [
        "the search index of the recipients' names holds 13 rows of 26 (a search may miss some)"
    ]
    found = examine()
    assert repair(found) == ["rebuilt the search index of names from the rows (36 rows)"]
    assert examine().ok
    assert count_recipients(campaign_id, RecipientFilter(search="siobhan")) == 2


def test_postgres_reads_the_index_for_a_search(workspace_url: str) -> None:
    """The expression the search compares is the very one indexed: PostgreSQL can use it."""
    if not workspace_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    campaign_id = _campaign()

    where = _where(campaign_id, RecipientFilter(search="annex"))
    assert "LIKE" in Message.select().where(where).sql()[0]
    # The candidates alone: the campaign's own index would otherwise win on so few rows.
    select = Message.select(Message.id).where(name_search.candidates(Message, "annex"))
    sql, params = select.sql()
    with database.atomic():
        database.execute_sql("SET LOCAL enable_seqscan = off")
        database.execute_sql("SET LOCAL enable_indexscan = off")
        plan = "\n".join(r[0] for r in database.execute_sql(f"EXPLAIN {sql}", params).fetchall())
    assert "message_search_trgm" in plan, plan


def test_postgres_without_the_right_to_create_pg_trgm_keeps_the_scan_and_says_why() -> None:
    """A user who may not create extensions (a database of their own, without CREATE on it):
    no index, searches scan and find the same, doctor notes why (not a problem)."""
    import uuid

    import psycopg2

    from tests.conftest import postgres_url

    url = postgres_url()
    if url is None:
        pytest.skip("no PostgreSQL")
    name = f"notify_noext_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE ROLE {name} LOGIN")
            cur.execute(f"CREATE DATABASE {name}")
    except psycopg2.Error as exc:
        admin.close()
        pytest.skip(f"cannot create a role and a database: {exc}")
    try:
        own = psycopg2.connect(url.rsplit("/", 1)[0] + f"/{name}")
        own.autocommit = True
        with own.cursor() as cur:
            cur.execute(f"CREATE SCHEMA w AUTHORIZATION {name}")
        own.close()
        base = url.split("//", 1)[1].split("@")[-1].rsplit("/", 1)[0]
        db = open_workspace(f"postgresql://{name}@{base}/{name}?options=-csearch_path%3Dw")
        try:
            campaign_id = _campaign()
            assert name_search.present() == frozenset()
            assert not name_search.narrows(Message, "siobhan")
            assert count_recipients(campaign_id, RecipientFilter(search="siobhan")) == 2
            found = examine()
            assert not found.of(Check.SEARCH_INDEX)
            assert any(
                "no search index of the recipients' names: the pg_trgm extension is missing and "
                "this user may not create it" in note
                for note in found.notes
            ), found.notes
        finally:
            db.close()
            database.initialize(None)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
            cur.execute(f"DROP ROLE IF EXISTS {name}")
        admin.close()


def test_sqlite_scans_a_small_campaign_when_the_index_offers_more_rows(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index holds every campaign: a small campaign's search is not made to read a big
    campaign's matches (counted first, up to a quarter of the campaign's rows)."""
    monkeypatch.setattr(name_search, "pays", PAYS)
    big = create_campaign("Big", "Hi")
    add_recipients(big, [NewRecipient(f"+1415555{i:04d}", f"Ann Lee {i}") for i in range(400)])
    small = create_campaign("Small", "Hi")
    add_recipients(small, [NewRecipient(f"+1212555{i:04d}", f"Bo Ann {i}") for i in range(40)])
    assert name_search.narrows(Message, "ann")
    assert not name_search.pays(Message, "ann", 40)  # 440 offered, counted to 10: scan
    assert not name_search.pays(Message, "bo ann", 40)  # all 40 of the campaign: scan
    assert name_search.pays(Message, "bo ann 7", 40)  # 1 offered
    assert name_search.pays(Message, "ann lee 12", 400)  # 11 offered, of 400
    assert not name_search.pays(Message, "ann", 0)
    for cid, text, n in ((small, "ann", 40), (big, "ann lee 12", 11), (small, "bo ann 7", 1)):
        index = index_recipients(cid, RecipientFilter(search=text))
        assert index is not None and index.total == n
