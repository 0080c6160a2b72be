"""The PostgreSQL event recorder, inserting a large save in chunks within its one transaction.

psycopg 3.3 in pipeline mode (which the library's recorder uses) hangs, the client waiting for
results while the server waits for the rest of the query, when one INSERT carries the array of
~8,000 events an import saves at once (measured here; psycopg issue #685 describes the same
deadlock). Sending the events as several INSERTs, each followed by a sync, keeps every message
small. It is the same transaction and the same table lock, so a save is still all or nothing and
its positions still commit in order.
"""

from __future__ import annotations

import logging
import os
import threading
import zlib
from contextlib import contextmanager
from typing import Any, Iterator, Sequence
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool, PoolTimeout

from . import chain

CHUNK_BYTES = 2_000_000
CHUNK_EVENTS = 2_000
# Writers' turns (``writers_turn``): advisory locks in a key space of their own (the two-key form,
# which never meets the one-key locks of workers/locks.py), held on connections of a small pool
# apart from the library's, so a writer waiting its turn never holds what a save needs.
TURN_CLASS = 0x6F68  # "oh"
TURN_CONNECTIONS = 4
TURN_WAIT_SECONDS = 5.0  # longer than any save should take; past it, go on without a turn
log = logging.getLogger("orghistory.events")


class ChunkedPostgresApplicationRecorder(PostgresApplicationRecorder, chain.ChainedRecorder):
    """Inserts a save in chunks, and links its events into the hash chain (``chain.py``) in the
    same transaction, under the same table lock, so the chain's order is the positions'."""

    _ids = threading.local()  # notification ids of the save this thread is making
    _turn_pool: ConnectionPool | None = None  # see ``writers_turn``
    _turn_pid = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = Identifier(self.datastore.schema)
        self._chain_table = SQL("{}.{}").format(schema, Identifier(chain.TABLE))
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {} (position bigint PRIMARY KEY, hash text NOT NULL)").format(self._chain_table))
        self._events_table = SQL("{}.{}").format(schema, Identifier(self.events_table_name))
        # The library's statement takes an array of its composite type, which psycopg dumps as
        # text, escaping every field with a regular expression: a quarter of a 1,000-fact append.
        # Four arrays of plain types go in binary, each element copied as it is.
        self._insert_columns = SQL(
            "INSERT INTO {} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{}[], %b::bigint[], %b::text[], %b::bytea[]) RETURNING notification_id"
        ).format(self._events_table, Identifier(self.datastore.originator_id_type))

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **_: Any) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        ids: list[int] = []
        for chunk in _chunks(stored_events):
            with curs.connection.pipeline():  # a nested pipeline block syncs when it ends
                curs.execute(self._insert_columns, ([e.originator_id for e in chunk],
                                                    [e.originator_version for e in chunk],
                                                    [e.topic for e in chunk], [e.state for e in chunk]))
            ids += [row["notification_id"] for row in curs.fetchall()]
        self._link(curs, ids, stored_events)
        self._ids.value = ids

    @contextmanager
    def writers_turn(self, key: str) -> Iterator[None]:
        """An advisory lock on ``key`` in this schema, from before the writer reads the aggregate
        until after its save; PostgreSQL grants it in the order it was asked for. Should the
        turn not be had (every turn connection busy with other keys, the lock not granted in
        time, the server unreachable), the writer goes on without it, as before turns."""
        pool = self._turns()
        try:
            conn = pool.getconn(timeout=0.1)
        except PoolTimeout:
            yield
            return
        lock = (TURN_CLASS, _int4(zlib.crc32(f"{self.datastore.schema}:{key}".encode())))
        try:
            conn.execute("SELECT pg_advisory_lock(%s, %s)", lock)
            locked = True
        except psycopg.Error as e:
            log.info("writing without a turn: %s", e)
            locked = False
        try:
            yield
        finally:
            try:
                if locked:
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", lock)
            except psycopg.Error:
                conn.close()  # the lock ends with the session; the pool replaces the connection
            pool.putconn(conn)

    def _turns(self) -> ConnectionPool:
        """This process's pool of turn connections (a pool must not cross a fork)."""
        pool = self._turn_pool
        if pool is None or self._turn_pid != os.getpid():
            given = self.datastore.pool.kwargs
            assert isinstance(given, dict), "the library connects with fixed parameters"
            params = {k: v for k, v in given.items() if k != "row_factory"}
            pool = ConnectionPool(kwargs={**params, "autocommit": True,
                                          "options": f"-c lock_timeout={int(TURN_WAIT_SECONDS * 1000)}"},
                                  min_size=0, max_size=TURN_CONNECTIONS, open=True, timeout=TURN_WAIT_SECONDS)
            self._turn_pool, self._turn_pid = pool, os.getpid()
        return pool

    def close_turns(self) -> None:
        pool = self._turn_pool
        if pool is not None and self._turn_pid == os.getpid():
            pool.close()
        self._turn_pool = None

    def recorded_originators(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these aggregates have any event: one indexed query instead of loading each."""
        with self.datastore.transaction(commit=False) as curs:
            # an aggregate exists if it has its first event: one primary-key lookup each, however
            # many events it has (an organization's millions are not read)
            curs.execute(SQL("SELECT originator_id FROM {} WHERE originator_id = ANY(%s) AND originator_version = 1")
                         .format(self._events_table), (list(originator_ids),))
            return {r["originator_id"] for r in curs.fetchall()}

    def position_of(self, originator_id: UUID, version: int) -> int:
        """The position the store gave one aggregate event (a primary-key lookup)."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT notification_id FROM {} WHERE originator_id=%s AND originator_version=%s")
                         .format(self._events_table), (originator_id, version))
            row = curs.fetchone()
            assert row is not None, "the caller saw the event saved"
            return int(row["notification_id"])

    def select_links(self, after: int, limit: int) -> list[tuple[int, str]]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT position, hash FROM {} WHERE position > %s ORDER BY position LIMIT %s").format(
                self._chain_table), (after, limit))
            return [(int(r["position"]), r["hash"]) for r in curs.fetchall()]

    def _link(self, curs: Any, ids: list[int], stored_events: Sequence[StoredEvent]) -> None:
        with curs.connection.pipeline():
            curs.execute(SQL("SELECT position, hash FROM {} ORDER BY position DESC LIMIT 1").format(self._chain_table))
        last = curs.fetchone()
        position, previous = (last["position"], last["hash"]) if last else (0, chain.GENESIS)
        old: list[Any] = []
        if ids and ids[0] - position > 1:  # a gap: events from before the chain (or a sequence gap)
            with curs.connection.pipeline():
                curs.execute(SQL("SELECT notification_id AS id, originator_id, originator_version, topic, state "
                                 "FROM {} WHERE notification_id > %s AND notification_id < %s "
                                 "ORDER BY notification_id").format(self._events_table), (position, ids[0]))
            old = [chain.LogRow(r["id"], r["originator_id"], r["originator_version"], r["topic"], r["state"])
                   for r in curs.fetchall()]
        # One statement, not an INSERT per link (in the save's pipeline those cost a fifth of a
        # large save; COPY cannot run in a pipeline). Both arrays go as text literals for the
        # server to parse: positions are integers and hashes hex digits, so nothing needs quoting,
        # and spelling them costs far less than psycopg dumping two lists element by element.
        links = chain.links_of_save(previous, old, ids, stored_events)
        curs.execute(SQL("INSERT INTO {} (position, hash) SELECT * FROM unnest(%s::bigint[], %s::text[])")
                     .format(self._chain_table),
                     ("{" + ",".join(str(p) for p, _ in links) + "}", "{" + ",".join(h for _, h in links) + "}"))

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        ids: list[int] | None = self._ids.value
        self._ids.value = None
        assert ids is not None and len(ids) == len(stored_events), "every event has its position"
        return ids


def _int4(n: int) -> int:
    """An unsigned 32-bit number as the signed ``integer`` an advisory lock key is."""
    return n - (1 << 32) if n >= 1 << 31 else n


def _chunks(events: Sequence[StoredEvent]) -> Iterator[Sequence[StoredEvent]]:
    start, size = 0, 0
    for i, e in enumerate(events):
        size += len(e.state) + 200
        if i > start and (size > CHUNK_BYTES or i - start >= CHUNK_EVENTS):
            yield events[start:i]
            start, size = i, len(e.state) + 200
    if start < len(events):
        yield events[start:]

