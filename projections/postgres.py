"""PostgreSQL: the production store. Pools per process and purpose, COPY for bulk loads."""

from __future__ import annotations

import os
import threading
import time
import weakref
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import psycopg
from psycopg import IsolationLevel
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from events.settings import Settings

from .db import DEFAULT_PROJECTION, Conn, Database, Params, SQLParam

# A pooled connection idle longer than this is checked (one round trip) before it is handed out.
IDLE_CHECK_SECONDS = 2.0

NEXT_IDS = "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"
SET_SEQUENCE = "SELECT setval(pg_get_serial_sequence(?, 'id'), ?)"
TRACKING_ROW = ("INSERT INTO tracking (name, position, recorded_at, updated_at) VALUES (?, 0, '', '') "
                "ON CONFLICT (name) DO NOTHING")
NOW = "SELECT clock_timestamp()"
OLDER_TRANSACTIONS = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND pid <> pg_backend_pid() AND xact_start < ?")


class PostgresDialect:
    name = "postgresql"
    serial_primary_key = "BIGSERIAL PRIMARY KEY"
    list_tables = "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"

    def placeholders(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def executemany(self, conn: Conn, sql: str, rows: Sequence[Params]) -> None:
        with conn.raw.cursor() as cur:
            cur.executemany(sql, rows)

    def insert_with_ids(self, conn: Conn, table: str, columns: str, rows: Sequence[Params]) -> list[int]:
        # The ids are drawn from the table's sequence in one query and the rows sent in one
        # pipelined batch: two round trips however many rows.
        ids = [r[0] for r in conn.raw.execute(NEXT_IDS, (conn.table(table), len(rows))).fetchall()]
        marks = ",".join("?" * len(rows[0]))
        conn.executemany(f"INSERT INTO {table} (id, {columns}) VALUES (?, {marks})",
                         [(i, *r) for i, r in zip(ids, rows, strict=True)])
        return [int(i) for i in ids]

    def one_of(self, column: str, values: Sequence[str]) -> tuple[str, tuple[SQLParam, ...]]:
        # One array parameter: the statement's text is the same however many values there are,
        # so it is prepared and planned once.
        return f"{column} = ANY(?)", (list(values),)

    def copy_rows(self, conn: Conn, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        with conn.raw.cursor() as cur:
            with cur.copy(f"COPY {conn.table(table)} ({', '.join(columns)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)

    # COPY cannot leave out a row whose key is taken, and an executemany of INSERTs or UPDATEs
    # costs 10-25 us a row in psycopg's pipeline (a fifth of a catch-up batch). So the rows are
    # copied into a temporary table of this session (created on first use in a transaction,
    # emptied at commit), and moved from there by one statement.

    def insert_new(self, conn: Conn, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        target = conn.table(table)
        stage, cols = f"stage_{target}", ", ".join(columns)
        conn.raw.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS "
                         f"AS SELECT {cols} FROM {target} WITH NO DATA")  # the columns' types, no constraints
        self._copy(conn, stage, cols, rows)
        conn.raw.execute(f"WITH moved AS (DELETE FROM {stage} RETURNING {cols}) "
                         f"INSERT INTO {target} ({cols}) SELECT {cols} FROM moved ON CONFLICT DO NOTHING")

    def set_by_id(self, conn: Conn, table: str, column: str, rows: Sequence[tuple[str, int]]) -> None:
        target = conn.table(table)
        stage = f"stage_{column}"
        conn.raw.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (value text, id bigint) ON COMMIT DELETE ROWS")
        self._copy(conn, stage, "value, id", rows)
        conn.raw.execute(f"WITH moved AS (DELETE FROM {stage} RETURNING value, id) "
                         f"UPDATE {target} t SET {column} = moved.value FROM moved WHERE t.id = moved.id")

    @staticmethod
    def _copy(conn: Conn, table: str, columns: str, rows: Sequence[Params]) -> None:
        with conn.raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)

    def after_copy(self, conn: Conn, table: str, last_id: int) -> None:
        conn.execute(SET_SEQUENCE, (conn.table(table), last_id))

    def lock_tracking(self, conn: Conn, name: str) -> str:
        # The row must exist to be locked: concurrent folders then serialize on it.
        conn.execute(TRACKING_ROW, (name,))
        return " FOR UPDATE"

    def analyze(self, conn: Conn, tables: Sequence[str]) -> None:
        # A version's tables are bulk-loaded by a rebuild, and autovacuum analyzes them a minute
        # or more later. Without statistics the planner took the fold's lookup of 500 people's
        # facts for a scan of the organization's every fact: 150 ms a page of the log instead of
        # 15, which was most of a rebuild reading back (3,050 ev/s against 10,400 in memory).
        for table in tables:
            conn.raw.execute(f"ANALYZE {table}")

    def bulk_cache(self, budget: int) -> int:
        return 0  # the server's buffers are not this process's memory

    def tune_bulk_writes(self, conn: Conn, cache: int) -> None:
        pass


DIALECT = PostgresDialect()


class PostgresDatabase(Database):
    dialect = DIALECT

    def __init__(self, settings: Settings):
        self.params = settings.postgres_params()
        self.schema = self.params["schema"]
        self._pools: dict[str, ConnectionPool] = {}
        self._pid: int | None = None
        self._lock = threading.Lock()

    def conninfo(self, plan_cache_mode: str = "force_custom_plan") -> str:
        p = self.params
        return make_conninfo(
            dbname=p["dbname"], host=p["host"], port=p["port"], user=p["user"], password=p["password"] or None,
            options=f"-c search_path={self.schema} -c plan_cache_mode={plan_cache_mode}",
        )

    def pool(self, purpose: str = "write") -> ConnectionPool:
        """The process's pool for ``purpose``: ``read`` or ``write``.

        Two pools because the two sides want different plans. Readers run a few fixed statements
        (the as-of lookups) thousands of times: psycopg prepares a statement on its fifth use, and
        PostgreSQL's own choice (``auto``) then keeps one generic plan when it costs no more than the
        custom ones, which saves the planning that was most of an answer's time. Their
        transactions begin REPEATABLE READ, one snapshot per answer, in psycopg's own BEGIN. (Sending
        the BEGIN and the version's lookup in one simple-protocol message saves a round trip but
        has the server plan the lookup every time: measured 250-270 us against 110 us.) The fold plans every statement afresh (``force_custom_plan``): its
        per-person lookups run while statistics lag the tables it is filling, where a cached plan
        once chose a scan over a person's index."""
        # A pool must never be shared across a fork (rq forks per job): make them per process.
        with self._lock:
            if self._pid != os.getpid():
                self._pools, self._pid = {}, os.getpid()
            pool = self._pools.get(purpose)
            if pool is None:
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

    def prepare(self) -> None:
        p = self.params
        with psycopg.connect(
            dbname=p["dbname"], host=p["host"], port=p["port"], user=p["user"], password=p["password"] or None,
            autocommit=True,
        ) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    @contextmanager
    def read(self, version: int | None = None, name: str = DEFAULT_PROJECTION, bind: bool = True) -> Iterator[Conn]:
        with self.pool("read").connection() as raw:
            c = Conn(raw, DIALECT)
            yield c.bind(version, name) if bind else c

    @contextmanager
    def write(self, version: int | None = None, name: str = DEFAULT_PROJECTION, bind: bool = True) -> Iterator[Conn]:
        with self.pool().connection() as raw:
            c = Conn(raw, DIALECT)
            yield c.bind(version, name) if bind else c

    @contextmanager
    def reader(self, version: int, name: str = DEFAULT_PROJECTION) -> Iterator[Conn]:
        with self.pool().connection() as raw:
            raw.autocommit = True
            try:
                yield Conn(raw, DIALECT, version, name)
            finally:
                raw.autocommit = False

    def close(self) -> None:
        if self._pid == os.getpid():
            for pool in self._pools.values():
                pool.close()
        self._pools = {}

    def readers_drained(self, grace: float) -> bool:
        deadline = time.monotonic() + grace
        with self.write(bind=False) as conn:
            since = conn.scalar(NOW)
        while True:
            with self.read(bind=False) as conn:
                busy = conn.scalar(OLDER_TRANSACTIONS, (since,))
            if not busy:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
