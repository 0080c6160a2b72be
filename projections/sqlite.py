"""SQLite: the embedded default. One file, one writer at a time, a connection per thread."""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import orjson

from .db import DEFAULT_PROJECTION, Conn, Database, Params, SQLParam

# Bulk inserts into B-trees of a million rows: a page cache larger than SQLite's default of 2 MB
# (for this connection only) keeps them off the disk. 64 MiB at most, an eighth of the rebuild's
# budget (the fold has the rest): with 256 MiB, a rebuild of 1M events held 180 MiB more and went
# past its 512 MiB budget, no faster (5,061 ev/s at 64 MiB against 4,972).
BULK_CACHE_MAX = 64 << 20

# A rebuild's writer thread writes its bulk rows as JSON documents, a statement for thousands of
# rows (``json_each``), instead of ``executemany``. sqlite3 takes the GIL back for every row it
# writes, and beside a folding thread that holds it, each row waited for it: in a rebuild of
# 200,000 events, 90-101 us a facts row and ~200 us a closed tenure, against 5 and 4 with the fold
# idle; the writer was busy 22 of the rebuild's 24 s. A document costs three times the CPU a row
# (17 us a facts row), but in SQLite without the GIL, on the other core: the writer is busy 10 s
# and the rebuild takes 19 s (10,500 against 8,200 ev/s). A catch-up, which writes in its one
# thread, keeps ``executemany``. (``->>`` and JSON built in: SQLite 3.38; older ones row by row.)
DOCUMENTS = sqlite3.sqlite_version_info >= (3, 38)
DOCUMENT_ROWS = 10_000  # rows a statement: bounds the document's size (a facts row is ~1 KB)


def _write_many(conn: Conn, by_row: str, by_document: str, rows: Sequence[Params]) -> None:
    """``rows`` by ``by_row`` (a statement a row), or beside a folding thread by ``by_document``
    (its one parameter a JSON array of rows), a part at a time; a part with a NUL in its text
    row by row: SQLite's JSON functions cut text at a NUL. (The vocabulary refuses NUL, so only a
    log written before that could hold one.)"""
    if not (conn.beside_fold and DOCUMENTS):
        conn.executemany(by_row, rows)
        return
    for i in range(0, len(rows), DOCUMENT_ROWS):
        part = rows[i:i + DOCUMENT_ROWS]
        # default=tuple: rows may be named tuples, which orjson does not write as arrays itself
        document = orjson.dumps(part, default=tuple).decode()
        if "\\u0000" in document:
            conn.executemany(by_row, part)
        else:
            conn.execute(by_document, (document,))


@lru_cache(maxsize=None)
def _cells(n: int) -> str:
    """The ``n`` cells of a document's row, in order."""
    return ", ".join(f"value->>{i}" for i in range(n))


class SQLiteDialect:
    name = "sqlite"
    serial_primary_key = "INTEGER PRIMARY KEY"
    list_tables = "SELECT name FROM sqlite_master WHERE type='table'"

    def placeholders(self, sql: str) -> str:
        return sql

    def executemany(self, conn: Conn, sql: str, rows: Sequence[Params]) -> None:
        conn.raw.executemany(sql, rows)

    def insert_with_ids(self, conn: Conn, table: str, columns: str, rows: Sequence[Params]) -> list[int]:
        # in-process, row by row: each insert's rowid is its id
        sql = conn.sql(f"INSERT INTO {table} ({columns}) VALUES ({','.join('?' * len(rows[0]))})")
        return [int(conn.raw.execute(sql, r).lastrowid) for r in rows]

    def one_of(self, column: str, values: Sequence[str]) -> tuple[str, tuple[SQLParam, ...]]:
        return f"{column} IN ({','.join('?' * len(values))})", tuple(values)

    def copy_rows(self, conn: Conn, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        names = ", ".join(columns)
        _write_many(conn, f"INSERT INTO {table} ({names}) VALUES ({','.join('?' * len(columns))})",
                    f"INSERT INTO {table} ({names}) SELECT {_cells(len(columns))} FROM json_each(?)", rows)

    def insert_new(self, conn: Conn, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))}) "
                         "ON CONFLICT DO NOTHING", rows)

    def set_by_id(self, conn: Conn, table: str, column: str, rows: Sequence[tuple[str, int]]) -> None:
        _write_many(conn, f"UPDATE {table} SET {column}=? WHERE id=?",
                    f"UPDATE {table} SET {column}=d.value->>0 FROM json_each(?) AS d WHERE {table}.id=d.value->>1", rows)

    def after_copy(self, conn: Conn, table: str, last_id: int) -> None:
        pass  # an INTEGER PRIMARY KEY goes on from the greatest id in the table

    def lock_tracking(self, conn: Conn, name: str) -> str:
        return ""  # BEGIN IMMEDIATE holds the database's one write lock already

    def analyze(self, conn: Conn, tables: Sequence[str]) -> None:
        pass  # without statistics SQLite takes an index as selective, as the fold's lookups are

    def bulk_cache(self, budget: int) -> int:
        return min(BULK_CACHE_MAX, budget // 8)

    def tune_bulk_writes(self, conn: Conn, cache: int) -> None:
        conn.raw.execute(f"PRAGMA cache_size=-{max(1, cache >> 10)}")  # negative: in KiB


DIALECT = SQLiteDialect()


class SQLiteDatabase(Database):
    dialect = DIALECT

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def read(self, version: int | None = None, name: str = DEFAULT_PROJECTION, bind: bool = True) -> Iterator[Conn]:
        conn = self._conn()
        conn.execute("BEGIN")  # one consistent snapshot for the whole answer
        try:
            c = Conn(conn, DIALECT)
            yield c.bind(version, name) if bind else c
        finally:
            conn.execute("COMMIT")

    @contextmanager
    def write(self, version: int | None = None, name: str = DEFAULT_PROJECTION, bind: bool = True) -> Iterator[Conn]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            c = Conn(conn, DIALECT)
            yield c.bind(version, name) if bind else c
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def reader(self, version: int, name: str = DEFAULT_PROJECTION) -> Iterator[Conn]:
        yield Conn(self._conn(), DIALECT, version, name)  # autocommit: no BEGIN, a snapshot per statement

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
