"""A SQLite rebuild's writer thread writes its bulk rows as JSON documents (``json_each``), a
statement for thousands of rows: row by row, sqlite3 took the GIL back for every row, and beside
the folding thread each row waited for it (101 us a facts row against 5 alone). The documents
must store exactly what ``executemany`` stores, and only the rebuild's writer may use them (they
cost more CPU a row, which a catch-up in one thread would pay)."""

from __future__ import annotations

import sqlite3

import pytest

from projections import sqlite as sqlite_module
from projections.db import Conn
from projections.sqlite import DIALECT
from projections.verify import verify
from workers.catchup import catch_up
from workers.rebuild import rebuild

from ..conftest import stores_for
from .test_engine import _amended_history

pytestmark = pytest.mark.skipif(not sqlite_module.DOCUMENTS, reason="SQLite before 3.38 writes row by row")

AWKWARD = [
    ("plain", 1, 1.5, None),
    ('quotes " and \\ backslash', -(2**62), -0.0, 1),
    ("unicode: Zoë, 東京, 🙂, \u2028", 0, 1e300, 0),
    ("nul \x00 inside", 2**62, 3.0, None),
    ("", 7, None, None),
    ("x" * 100_000, 8, 0.1, 1),
]


def _table(raw: sqlite3.Connection, name: str) -> None:
    raw.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, t TEXT, i BIGINT, r REAL, b BOOLEAN, flag TEXT)")


def _contents(raw: sqlite3.Connection, name: str) -> list[tuple]:
    return raw.execute(f"SELECT id, t, typeof(t), i, typeof(i), r, typeof(r), b, typeof(b), flag, typeof(flag) "
                       f"FROM {name} ORDER BY id").fetchall()


def test_documents_store_what_executemany_stores(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_module, "DOCUMENT_ROWS", 2)  # several statements, one (with a NUL) row by row
    raw = sqlite3.connect(tmp_path / "d.sqlite3", isolation_level=None)
    rows = [(n, *r, None) for n, r in enumerate(AWKWARD, start=1)]
    closes = [("closed", n) for n in (1, 3, 4, 6)]
    for name, beside_fold in (("by_row", False), ("by_document", True)):
        _table(raw, name)
        conn = Conn(raw, DIALECT)
        conn.beside_fold = beside_fold
        DIALECT.copy_rows(conn, name, ("id", "t", "i", "r", "b", "flag"), rows)
        DIALECT.set_by_id(conn, name, "flag", closes)
    assert _contents(raw, "by_document") == _contents(raw, "by_row")
    assert [r[9] for r in _contents(raw, "by_document")] == ["closed", None, "closed", "closed", None, "closed"]


def test_only_the_rebuilds_writer_writes_documents(sqlite_settings, monkeypatch):
    """A catch-up writes row by row (cheaper in one thread); a rebuild's writer thread by
    document, and the result equals one long fold."""
    app, db = stores_for(sqlite_settings).app, stores_for(sqlite_settings).db
    _amended_history(app, churn=40)
    by_row: list[str] = []
    by_document: list[str] = []
    real_executemany, real_execute = sqlite_module.SQLiteDialect.executemany, Conn.execute
    monkeypatch.setattr(sqlite_module.SQLiteDialect, "executemany",
                        lambda self, conn, sql, rows: by_row.append(sql.split("(")[0]) or real_executemany(self, conn, sql, rows))
    monkeypatch.setattr(Conn, "execute", lambda self, sql, params=(): (
        by_document.append(sql.split("(")[0]) if "json_each" in sql else None) or real_execute(self, sql, params))
    catch_up(stores_for(sqlite_settings))
    assert "INSERT INTO facts_v1 " in by_row and not by_document
    by_row.clear()
    rebuild(stores_for(sqlite_settings))
    assert {"INSERT INTO facts ", "INSERT INTO tenures ", "INSERT INTO spans "} <= set(by_document)
    assert not [sql for sql in by_row if sql.startswith(("INSERT INTO facts", "INSERT INTO tenures"))]
    with db.read() as conn:
        position, diff = verify(app, conn)
    assert position == app.head_position() and diff == {}
