"""The read side's database: the same SQLite file or PostgreSQL schema as the event store.

One small wrapper so the projection SQL is written once: ``?`` placeholders everywhere (turned
into ``%s`` for psycopg), rows as dicts, and a write transaction that takes the write lock first
(SQLite ``BEGIN IMMEDIATE``) so that two folders can never interleave.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from events.settings import Settings

DEFAULT_PROJECTION = "history"
# Tables that exist once per version of a projection (``tenures`` is ``tenures_v3`` in version 3).
# Kept in step with ``schema.VERSIONED`` (a test checks); spelled here so db.py imports nothing.
_VERSIONED = ("orgs", "people", "units", "facts", "fact_people", "fact_units", "tenures", "roles", "spans",
              "subscriptions", "names", "identifiers", "imports", "merges")
# A quoted literal (left alone: ``kind='tenures'`` is data) or a versioned table name.
_NAMES = re.compile(r"'[^']*'|\b(" + "|".join(_VERSIONED) + r")\b")


# A pooled connection idle longer than this is checked (one round trip) before it is handed out.
IDLE_CHECK_SECONDS = 2.0


class NoSuchVersion(LookupError):
    pass


class Conn:
    """A connection bound to one version of a projection: SQL names the tables plainly
    (``tenures``) and runs against that version's (``tenures_v3``), the way a search_path would."""

    def __init__(self, raw: Any, postgres: bool, version: int | None = None, name: str = DEFAULT_PROJECTION):
        self.raw = raw
        self.postgres = postgres
        self.name = name
        self.version = version
        self._cache: dict[str, str] = {}

    @property
    def track(self) -> str:
        """This version's key in ``tracking`` and ``parked``: ``history@v3``."""
        return f"{self.name}@v{self.version}"

    def table(self, name: str) -> str:
        return f"{name}_v{self.version}" if name in _VERSIONED and self.version is not None else name

    def sql(self, sql: str) -> str:
        out = self._cache.get(sql)
        if out is None:
            suffix = "" if self.version is None else f"_v{self.version}"
            out = _NAMES.sub(lambda m: m.group(0) + suffix if m.group(1) else m.group(0), sql)
            if self.postgres:
                out = out.replace("?", "%s")
            self._cache[sql] = out
        return out

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(self.sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        sql = self.sql(sql)
        if self.postgres:
            with self.raw.cursor() as cur:
                cur.executemany(sql, rows)
        else:
            self.raw.executemany(sql, rows)

    def insert_with_ids(self, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> list[int]:
        """Insert rows into ``table`` (which has a generated ``id``) and return their ids, in order.

        PostgreSQL: the ids are drawn from the table's sequence in one query and the rows sent in
        one pipelined batch, two round trips however many rows. SQLite: in-process, row by row."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows[0]))
        if self.postgres:
            ids = [r[0] for r in self.raw.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                (self.table(table), len(rows))).fetchall()]
            self.executemany(f"INSERT INTO {table} (id, {columns}) VALUES (?, {marks})",
                             [(i, *r) for i, r in zip(ids, rows, strict=True)])
            return [int(i) for i in ids]
        sql = self.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks})")
        return [int(self.raw.execute(sql, r).lastrowid) for r in rows]

    def one_of(self, column: str, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        """``column`` is one of ``values``, as a condition and its parameters. PostgreSQL gets one
        array parameter, so the statement's text is the same however many values there are and it
        is prepared and planned once; SQLite gets a list of placeholders."""
        if self.postgres:
            return f"{column} = ANY(?)", (list(values),)
        return f"{column} IN ({','.join('?' * len(values))})", tuple(values)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.execute(sql, params)
        rows = cur.fetchall()
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def bind(self, version: int | None, name: str = DEFAULT_PROJECTION) -> Conn:
        """Point this connection at ``version`` of projection ``name``, or at its live version.
        Runs inside the transaction, so the choice and the reads share one snapshot."""
        self.name = name
        if version is None:
            version = self.scalar("SELECT version FROM projection_versions WHERE name=? AND state='live'", (name,))
            if version is None:
                raise NoSuchVersion(f"projection {name} has no live version")
        elif self.scalar("SELECT state FROM projection_versions WHERE name=? AND version=? AND dropped_at IS NULL",
                         (name, version)) is None:
            raise NoSuchVersion(f"projection {name} has no version {version}")
        self.version = int(version)
        self._cache.clear()
        return self


class Database:
    postgres = False

    @staticmethod
    def from_settings(settings: Settings) -> Database:
        if settings.is_postgres:
            return PostgresDatabase(settings)
        return SQLiteDatabase(settings.sqlite_path)

    @contextmanager
    def read(self, version: int | None = None, name: str = DEFAULT_PROJECTION, bind: bool = True) -> Iterator[Conn]:
        """A read transaction on one snapshot, bound to ``version`` (default: the live one)."""
        raise NotImplementedError  # pragma: no cover - abstract

    @contextmanager
    def write(self, version: int | None = None, name: str = DEFAULT_PROJECTION, bind: bool = True) -> Iterator[Conn]:
        """A write transaction; ``bind=False`` for the shared tables only (before any version exists)."""
        raise NotImplementedError  # pragma: no cover - abstract

    @contextmanager
    def reader(self, version: int, name: str = DEFAULT_PROJECTION) -> Iterator[Conn]:
        """A connection bound to ``version`` that reads outside any transaction: each statement
        sees what was committed before it (a rebuild reading back its own flushes)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def close(self) -> None:
        pass


class SQLiteDatabase(Database):
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
            c = Conn(conn, False)
            yield c.bind(version, name) if bind else c
        finally:
            conn.execute("COMMIT")

    @contextmanager
    def write(self, version: int | None = None, name: str = DEFAULT_PROJECTION, bind: bool = True) -> Iterator[Conn]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            c = Conn(conn, False)
            yield c.bind(version, name) if bind else c
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def reader(self, version: int, name: str = DEFAULT_PROJECTION) -> Iterator[Conn]:
        yield Conn(self._conn(), False, version, name)  # autocommit: no BEGIN, a snapshot per statement

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class PostgresDatabase(Database):
    postgres = True

    def __init__(self, settings: Settings):
        self.params = settings.postgres_params()
        self.schema = self.params["schema"]
        self._pools: dict[str, Any] = {}
        self._pid: int | None = None
        self._lock = threading.Lock()

    def conninfo(self, plan_cache_mode: str = "force_custom_plan") -> str:
        from psycopg.conninfo import make_conninfo

        p = self.params
        return make_conninfo(
            dbname=p["dbname"], host=p["host"], port=p["port"], user=p["user"], password=p["password"] or None,
            options=f"-c search_path={self.schema} -c plan_cache_mode={plan_cache_mode}",
        )

    def pool(self, purpose: str = "write"):
        """The process's pool for ``purpose``: ``read`` or ``write``.

        Two pools because the two sides want different plans. Readers run a few fixed statements
        (the as-of lookups) thousands of times: psycopg prepares a statement on its fifth use, and
        PostgreSQL's own choice (``auto``) then keeps one generic plan when it costs no more than the
        custom ones, which saves the planning that was most of an answer's time. Their
        transactions begin REPEATABLE READ, one snapshot per answer, in psycopg's own BEGIN (no
        statement of ours). The fold plans every statement afresh (``force_custom_plan``): its
        per-person lookups run while statistics lag the tables it is filling, where a cached plan
        once chose a scan over a person's index."""
        # A pool must never be shared across a fork (rq forks per job): make them per process.
        with self._lock:
            if self._pid != os.getpid():
                self._pools, self._pid = {}, os.getpid()
            pool = self._pools.get(purpose)
            if pool is None:
                from psycopg import IsolationLevel
                from psycopg_pool import ConnectionPool

                reading = purpose == "read"

                def configure(conn: Any) -> None:
                    if reading:
                        conn.isolation_level = IsolationLevel.REPEATABLE_READ

                returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

                def reset(conn: Any) -> None:
                    returned[conn] = time.monotonic()

                def check(conn: Any) -> None:
                    # A connection the server dropped (a restart, a failover) is found and replaced
                    # when it is taken from the pool, rather than failing the request that took it.
                    # The check is a round trip: only for a connection idle a while, which is when
                    # the server may have gone; one in steady use was just seen working.
                    if time.monotonic() - returned.get(conn, 0.0) > IDLE_CHECK_SECONDS:
                        ConnectionPool.check_connection(conn)

                pool = ConnectionPool(self.conninfo("auto" if reading else "force_custom_plan"),
                                      min_size=1, max_size=16, open=True, timeout=30,
                                      configure=configure, check=check, reset=reset)
                self._pools[purpose] = pool
            return pool

    def ensure_schema(self) -> None:
        import psycopg

        p = self.params
        with psycopg.connect(
            dbname=p["dbname"], host=p["host"], port=p["port"], user=p["user"], password=p["password"] or None,
            autocommit=True,
        ) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    @contextmanager
    def read(self, version: int | None = None, name: str = DEFAULT_PROJECTION, bind: bool = True) -> Iterator[Conn]:
        with self.pool("read").connection() as raw:
            c = Conn(raw, True)
            yield c.bind(version, name) if bind else c

    @contextmanager
    def write(self, version: int | None = None, name: str = DEFAULT_PROJECTION, bind: bool = True) -> Iterator[Conn]:
        with self.pool().connection() as raw:
            c = Conn(raw, True)
            yield c.bind(version, name) if bind else c

    @contextmanager
    def reader(self, version: int, name: str = DEFAULT_PROJECTION) -> Iterator[Conn]:
        with self.pool().connection() as raw:
            raw.autocommit = True
            try:
                yield Conn(raw, True, version, name)
            finally:
                raw.autocommit = False

    def close(self) -> None:
        if self._pid == os.getpid():
            for pool in self._pools.values():
                pool.close()
        self._pools = {}
