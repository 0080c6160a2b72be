"""A large save on PostgreSQL is sent in chunks (it used to hang in psycopg's pipeline mode at
about 8,000 events): the chunks cover every event once, in order, and each stays small. The save
itself, on the real server, is in tests/integration/test_pgstore.py."""

from __future__ import annotations

from eventsourcing.persistence import StoredEvent

from events.pgstore import _chunks


def test_chunks_cover_every_event_once_and_stay_small():
    events = [StoredEvent(originator_id="x", originator_version=i, topic="t", state=b"y" * (100 + i % 5000))
              for i in range(9000)]
    chunks = list(_chunks(events))
    assert [e for c in chunks for e in c] == events
    assert all(sum(len(e.state) for e in c) <= 2_000_000 for c in chunks) and len(chunks) > 4
