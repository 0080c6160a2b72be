"""A save of many events on PostgreSQL (an import of a large dataset is one save): it used to hang
in psycopg's pipeline mode at about 8,000 events; now it is sent in chunks, in one transaction."""

from __future__ import annotations

from events.domain import Organization
from events.pgstore import _chunks
from events.vocabulary import parse_fact
from eventsourcing.persistence import StoredEvent


def test_twenty_thousand_events_in_one_save(pg_settings):
    from workers.runtime import open_store

    app, _ = open_store(pg_settings)  # creates the schema
    org = Organization(slug="big", name="Big", writer=None)
    for i in range(20_000):
        org.record(parse_fact({"type": "noted", "title": f"note {i} " + "x" * 200, "effective": "2020",
                               "sources": [{"url": f"https://e.example/{i}"}]}), None, "")
    recordings = app.save(org)
    positions = [r.notification.id for r in recordings]
    assert len(positions) == 20_001 and positions == sorted(positions)
    assert app.repository.get(org.id).version == 20_001


def test_chunks_cover_every_event_once_and_stay_small():
    events = [StoredEvent(originator_id="x", originator_version=i, topic="t", state=b"y" * (100 + i % 5000))
              for i in range(9000)]
    chunks = list(_chunks(events))
    assert [e for c in chunks for e in c] == events
    assert all(sum(len(e.state) for e in c) <= 2_000_000 for c in chunks) and len(chunks) > 4
