"""The version binding of SQL on real stores: a dropped version loses its tables, and a projection
folded by older code keeps answering until it is rebuilt. (The name rewriting itself is unit-tested
in tests/unit/test_sql_versions.py.)"""

from __future__ import annotations

import pytest

from events.seed import load_seed
from events.settings import Settings
from projections import schema, versions
from workers.catchup import catch_up
from workers.rebuild import rebuild

from ..conftest import close_stores, eventually, stores_for


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_dropped_version_loses_its_tables_and_an_interrupted_drop_is_finished(store, tmp_path, request):
    settings_ = Settings(data_dir=tmp_path / "d") if store == "sqlite" else request.getfixturevalue("pg_settings")
    close_stores()
    app, store_db = stores_for(settings_).app, stores_for(settings_).db
    load_seed(app)
    catch_up(stores_for(settings_))

    def tables() -> set[int]:
        with store_db.read(bind=False) as c:
            return schema.versioned_tables(c)

    assert tables() == {1}
    rebuild(stores_for(settings_))  # version 2 goes live; version 1 is dropped, table by table
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


def test_a_projection_folded_by_older_code_keeps_answering_and_is_rebuilt(sqlite_settings, monkeypatch):
    """After an upgrade the live version lacks the tables this code reads: it is given them (filled
    as far as its own tables allow), keeps answering, and a rebuild brings it up to date."""
    from datetime import date

    from events.seed import load_seed
    from projections import queries
    from projections.verify import verify
    from workers import joblog
    from workers.catchup import catch_up
    from workers.dispatch import dispatcher_for
    from workers.jobs import rebuild_if_stale
    from workers.status import status

    from ..conftest import close_stores, stores_for

    app, db = stores_for(sqlite_settings).app, stores_for(sqlite_settings).db
    load_seed(app)
    catch_up(stores_for(sqlite_settings))
    with db.write(bind=False) as c:  # what the code before schema numbers left behind
        for table in ("names", "identifiers", "imports", "merges"):
            c.raw.execute(f"DROP TABLE {table}_v1")
        c.execute("DELETE FROM projection_schema")
    close_stores()
    app, db = stores_for(sqlite_settings).app, stores_for(sqlite_settings).db
    with db.read() as c:
        board = queries.members(c, "openai", ["board"], date(2023, 11, 18), None)
        assert "Helen Toner" in {e["name"] for e in board}  # names filled from the people it had
    assert status(stores_for(sqlite_settings))["projections"]["history"]["stale"] is True
    monkeypatch.setenv("ORGHISTORY_DATA_DIR", str(sqlite_settings.data_dir))  # jobs read the environment
    dispatcher = dispatcher_for(stores_for(sqlite_settings))
    job = rebuild_if_stale(stores_for(sqlite_settings), dispatcher)
    assert job is not None
    eventually(lambda: joblog.get(db, job)["state"] not in ("queued", "running"), 60, "the rebuild job to end")
    assert joblog.get(db, job)["state"] == "finished", joblog.get(db, job)
    assert status(stores_for(sqlite_settings))["projections"]["history"]["stale"] is False
    assert rebuild_if_stale(stores_for(sqlite_settings), dispatcher) is None
    with db.read() as c:
        assert verify(app, c)[1] == {}


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_version_whose_spans_lack_the_rows_bounds_answers_as_before(store, sqlite_settings, request):
    """Spans rows carry their row's valid-time bounds from SCHEMA 4 on. A version folded before
    (live until its rebuild switches) has spans without them: its lookups filter the rows instead,
    with the same answers."""
    from datetime import date

    from projections import queries
    from projections.verify import verify

    settings_ = sqlite_settings if store == "sqlite" else request.getfixturevalue("pg_settings")
    close_stores()
    app, db = stores_for(settings_).app, stores_for(settings_).db
    load_seed(app)
    catch_up(stores_for(settings_))
    days = [date(2023, 11, 17), date(2023, 11, 18), date(2023, 11, 22), date(2024, 3, 10), date(2024, 6, 1)]

    def answers() -> list:
        with db.read() as c:
            units = queries.board_units(c, "openai")
            return [(queries.members(c, "openai", units, d, None), queries.roles(c, "openai", d, None)) for d in days]

    before = answers()
    assert any(e["until"] for board, _ in before for e in board)  # closed rows among them, found through spans
    with db.write() as c:  # the spans table as SCHEMA 3 made it
        spans = c.table("spans")
        c.raw.execute(f"CREATE TABLE spans_old AS SELECT kind, org, unit, year, row_id FROM {spans}")
        c.raw.execute(f"DROP TABLE {spans}")
        c.raw.execute(f"ALTER TABLE spans_old RENAME TO {spans}")
        c.execute("UPDATE projection_schema SET schema=3 WHERE name=? AND version=?", (c.name, c.version))
    assert answers() == before
    with db.read() as c:
        assert c.schema == 3 and versions.stale(c, "history")
        assert verify(app, c) == (app.head_position(), {})  # verify reads its spans' bounds from the rows
