"""The version binding of SQL: table names follow the bound version, data never does. Pure string
rewriting (the connection below is never used); dropping and rebuilding versions on real stores is in
tests/integration/test_versions.py."""

from __future__ import annotations

import sqlite3

from projections import db, schema
from projections.postgres import DIALECT as POSTGRES
from projections.sqlite import DIALECT as SQLITE


def test_the_rewriter_knows_exactly_the_versioned_tables():
    assert db._VERSIONED == schema.VERSIONED


def test_names_are_rewritten_and_literals_left_alone():
    c = db.Conn(sqlite3.connect(":memory:"), SQLITE, version=7)
    sql = c.sql("SELECT t.person FROM spans s JOIN tenures t ON t.id=s.row_id WHERE s.kind='tenures' "
                "AND t.role IN (SELECT role FROM roles) AND fact_people.fact = facts.id")
    assert sql == ("SELECT t.person FROM spans_v7 s JOIN tenures_v7 t ON t.id=s.row_id WHERE s.kind='tenures' "
                   "AND t.role IN (SELECT role FROM roles_v7) AND fact_people_v7.fact = facts_v7.id")
    # shared tables and index-like names are not versioned
    assert c.sql("SELECT * FROM tracking, parked, jobs WHERE tenures_open = 1") == \
        "SELECT * FROM tracking, parked, jobs WHERE tenures_open = 1"
    assert db.Conn(None, POSTGRES, version=2).sql("SELECT ? FROM people") == "SELECT %s FROM people_v2"
