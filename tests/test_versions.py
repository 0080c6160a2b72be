"""The version binding of SQL: table names follow the bound version, data never does."""

from __future__ import annotations

import sqlite3

import pytest

from events.seed import load_seed
from events.settings import Settings
from projections import db, schema, versions
from workers.catchup import catch_up
from workers.rebuild import rebuild
from workers.runtime import forget, open_store


def test_the_rewriter_knows_exactly_the_versioned_tables():
    assert db._VERSIONED == schema.VERSIONED


def test_names_are_rewritten_and_literals_left_alone():
    c = db.Conn(sqlite3.connect(":memory:"), False, version=7)
    sql = c.sql("SELECT t.person FROM spans s JOIN tenures t ON t.id=s.row_id WHERE s.kind='tenures' "
                "AND t.role IN (SELECT role FROM roles) AND fact_people.fact = facts.id")
    assert sql == ("SELECT t.person FROM spans_v7 s JOIN tenures_v7 t ON t.id=s.row_id WHERE s.kind='tenures' "
                   "AND t.role IN (SELECT role FROM roles_v7) AND fact_people_v7.fact = facts_v7.id")
    # shared tables and index-like names are not versioned
    assert c.sql("SELECT * FROM tracking, parked, jobs WHERE tenures_open = 1") == \
        "SELECT * FROM tracking, parked, jobs WHERE tenures_open = 1"
    assert db.Conn(None, True, version=2).sql("SELECT ? FROM people") == "SELECT %s FROM people_v2"


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_dropped_version_loses_its_tables_and_an_interrupted_drop_is_finished(store, tmp_path, request):
    settings_ = Settings(data_dir=tmp_path / "d") if store == "sqlite" else request.getfixturevalue("pg_settings")
    forget()
    app, store_db = open_store(settings_)
    load_seed(app)
    catch_up(settings_)

    def tables() -> set[int]:
        with store_db.read(bind=False) as c:
            return schema.versioned_tables(c)

    assert tables() == {1}
    rebuild(settings_)  # version 2 goes live; version 1 is dropped, table by table
    assert tables() == {2}
    # a drop killed between two tables: marked dropped, some tables still there
    v = versions.create(store_db, "history", "scratch")
    with store_db.write(bind=False) as c:
        c.execute("UPDATE projection_versions SET state='dropped', dropped_at='x' WHERE version=?", (v,))
        schema.drop_version(c, v, tables=("facts", "tenures"))
    assert tables() == {2, v}
    with store_db.read(bind=False) as c:
        assert all(r["version"] != v for r in versions.listing(c, "history"))  # nobody can read it
    assert versions.sweep(store_db) == [v]
    assert tables() == {2}
    assert versions.sweep(store_db) == []
