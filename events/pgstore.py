"""The PostgreSQL event recorder, inserting a large save in chunks within its one transaction.

psycopg 3.3 in pipeline mode (which the library's recorder uses) hangs, the client waiting for
results while the server waits for the rest of the query, when one INSERT carries the array of
~8,000 events an import saves at once (measured here; psycopg issue #685 describes the same
deadlock). Sending the events as several INSERTs, each followed by a sync, keeps every message
small. It is the same transaction and the same table lock, so a save is still all or nothing and
its positions still commit in order.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder

CHUNK_BYTES = 2_000_000
CHUNK_EVENTS = 2_000


class ChunkedPostgresApplicationRecorder(PostgresApplicationRecorder):
    _ids = threading.local()  # notification ids of the save this thread is making

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        ids: list[int] = []
        for chunk in _chunks(stored_events):
            with curs.connection.pipeline():  # a nested pipeline block syncs when it ends
                PostgresAggregateRecorder._insert_stored_events(self, curs, chunk, **kwargs)
            ids += [row["notification_id"] for row in curs.fetchall()]
        self._ids.value = ids

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        ids, self._ids.value = self._ids.value, None
        assert ids is not None and len(ids) == len(stored_events), "every event has its position"
        return ids


def _chunks(events: Sequence[StoredEvent]):
    start, size = 0, 0
    for i, e in enumerate(events):
        size += len(e.state) + 200
        if i > start and (size > CHUNK_BYTES or i - start >= CHUNK_EVENTS):
            yield events[start:i]
            start, size = i, len(e.state) + 200
    if start < len(events):
        yield events[start:]
