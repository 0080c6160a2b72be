"""Tamper evidence: every stored event is linked into a hash chain as it is saved; an event row
edited, deleted, slipped in or moved in the database is found by `orghistory verify --chain`, which
names its position; the chain survives export and import (the same hashes in another store), and
an altered export is refused whole."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from contextlib import contextmanager

import pytest

from events.backup import export_log, import_log
from events.seed import load_seed

from ..conftest import BIN, close_stores, service_env, stores_for


@pytest.fixture(params=["sqlite", "postgres"])
def store(request):
    close_stores()
    yield request.param, request.getfixturevalue("sqlite_settings" if request.param == "sqlite" else "pg_settings")
    close_stores()


@contextmanager
def raw(kind: str, settings):
    """The database itself, as someone with access to it but not through the service."""
    if kind == "sqlite":
        db = sqlite3.connect(settings.sqlite_path)
        yield db, "stored_events", "rowid"
        db.commit()
        db.close()
    else:
        import psycopg

        with psycopg.connect(settings.database_url, autocommit=True) as db:
            db.execute(f'SET search_path TO "{settings.database_schema}"')
            yield db, "orghistory_events", "notification_id"


def _state(db, table, key, position) -> bytes:
    return bytes(db.execute(f"SELECT state FROM {table} WHERE {key}=%s".replace("%s", "?" if isinstance(
        db, sqlite3.Connection) else "%s"), (position,)).fetchone()[0])


def _q(db, sql: str) -> str:
    return sql if not isinstance(db, sqlite3.Connection) else sql.replace("%s", "?")


def _verify_cli(settings) -> tuple[int, dict]:
    out = subprocess.run([str(BIN / "orghistory"), "verify", "--chain"], env=service_env(settings, None),
                         capture_output=True, text=True, timeout=120)
    return out.returncode, json.loads(out.stdout)


def test_edits_deletions_insertions_and_moves_are_named(store):
    kind, settings = store
    app = stores_for(settings).app
    load_seed(app)
    n, head, broken = app.verify_chain()
    assert broken is None and n == 113  # the seed's events
    code, out = _verify_cli(settings)
    assert code == 0 and out["head"] == head and out["break"] is None
    with raw(kind, settings) as (db, table, key):
        positions = [r[0] for r in db.execute(f"SELECT {key} FROM {table} ORDER BY {key}").fetchall()]
        p = positions[40]
        original = _state(db, table, key, p)
        db.execute(_q(db, f"UPDATE {table} SET state=%s WHERE {key}=%s"), (original.replace(b'"', b"'", 1), p))
    code, out = _verify_cli(settings)
    assert code == 1 and out["position"] == p and "edited" in out["break"]
    with raw(kind, settings) as (db, table, key):  # put it back: the chain is whole again
        db.execute(_q(db, f"UPDATE {table} SET state=%s WHERE {key}=%s"), (original, p))
    assert app.verify_chain()[2] is None
    with raw(kind, settings) as (db, table, key):  # two events swap places
        a, b = positions[10], positions[11]
        sa, sb = _state(db, table, key, a), _state(db, table, key, b)
        rows = {k: db.execute(_q(db, f"SELECT originator_id, originator_version, topic FROM {table} WHERE {key}=%s"),
                              (k,)).fetchone() for k in (a, b)}
        db.execute(_q(db, f"DELETE FROM {table} WHERE {key} IN (%s, %s)"), (a, b))
        cols = f"{key}, originator_id, originator_version, topic, state"
        db.execute(_q(db, f"INSERT INTO {table} ({cols}) VALUES (%s, %s, %s, %s, %s)"), (a, *rows[b], sb))
        db.execute(_q(db, f"INSERT INTO {table} ({cols}) VALUES (%s, %s, %s, %s, %s)"), (b, *rows[a], sa))
    assert app.verify_chain()[2].position == a
    with raw(kind, settings) as (db, table, key):
        db.execute(_q(db, f"DELETE FROM {table} WHERE {key} IN (%s, %s)"), (a, b))
        db.execute(_q(db, f"INSERT INTO {table} ({cols}) VALUES (%s, %s, %s, %s, %s)"), (a, *rows[a], sa))
        db.execute(_q(db, f"INSERT INTO {table} ({cols}) VALUES (%s, %s, %s, %s, %s)"), (b, *rows[b], sb))
    assert app.verify_chain()[2] is None
    with raw(kind, settings) as (db, table, key):  # one deleted
        db.execute(_q(db, f"DELETE FROM {table} WHERE {key}=%s"), (positions[60],))
    broken = app.verify_chain()[2]
    assert (broken.position, broken.problem) == (positions[60], "deleted")


def test_a_row_slipped_in_around_the_service_is_named(store):
    kind, settings = store
    app = stores_for(settings).app
    load_seed(app)
    with raw(kind, settings) as (db, table, key):
        last = db.execute(f"SELECT originator_id, topic, state FROM {table} ORDER BY {key} DESC LIMIT 1").fetchone()
        top = db.execute(f"SELECT MAX({key}) FROM {table}").fetchone()[0]
        db.execute(_q(db, f"INSERT INTO {table} ({key}, originator_id, originator_version, topic, state) "
                          "VALUES (%s, %s, %s, %s, %s)"), (top + 1, last[0], 999, last[1], last[2]))
    broken = app.verify_chain()[2]
    assert (broken.position, broken.problem) == (top + 1, "missing")


def test_the_chain_survives_export_and_import_and_an_altered_export_is_refused(sqlite_settings, pg_settings,
                                                                               tmp_path):
    source = stores_for(sqlite_settings).app
    load_seed(source)
    head = source.verify_chain()[1]
    path = tmp_path / "log.ndjson"
    with open(path, "w") as fh:
        export_log(source, fh)
    lines = path.read_text().splitlines()
    altered = tmp_path / "altered.ndjson"
    row = json.loads(lines[30])
    row["state"]["name"] = "Someone Else" if "name" in row["state"] else row["state"].get("title", "x")
    row["state"]["_edited"] = True
    altered.write_text("\n".join(lines[:30] + [json.dumps(row)] + lines[31:]) + "\n")
    target = stores_for(pg_settings).app
    with open(altered) as fh, pytest.raises(ValueError, match="line 31: the event does not match its hash"):
        import_log(target, fh)
    assert target.head_position() == 0  # refused whole: nothing imported
    with open(tmp_path / "reordered.ndjson", "w") as fh:
        fh.write("\n".join([lines[1], lines[0]] + lines[2:]) + "\n")
    with open(tmp_path / "reordered.ndjson") as fh, pytest.raises(ValueError, match="line 1:"):
        import_log(target, fh)
    with open(path) as fh:
        import_log(target, fh)
    n, imported_head, broken = target.verify_chain()
    assert broken is None and imported_head == head  # the same chain, in another store


def test_an_upgraded_store_links_its_earlier_events_on_the_next_save(sqlite_settings):
    app = stores_for(sqlite_settings).app
    load_seed(app)
    with raw("sqlite", sqlite_settings) as (db, _, __):
        db.execute("DELETE FROM event_chain")  # as a store written before the chain existed
    assert app.verify_chain()[2].problem == "missing"
    app.register_person("newcomer", "New Comer")
    n, _, broken = app.verify_chain()
    assert broken is None and n == app.head_position()
