"""Verify: fold the log afresh in memory and compare with the stored projection, row by row.

Every table is compared whole, bitemporal history included (row ids aside), up to the position
the stored projection has reached, so a projection that is merely behind still verifies.
"""

from __future__ import annotations

import sqlite3
from typing import Callable, Iterable, Iterator

from events import logreader
from events.application import OrgHistory
from events.recorded import RecordedEvent

from .answers import TableDifference
from .changes import tracked
from .clock import now
from .db import Conn
from .projector import Projector
from .schema import SCHEMA, SPANS_BOUNDED, create_shared, create_version
from .sqlite import DIALECT as SQLITE
from .store import MemoryStore

TABLES = {
    "orgs": "slug, name, position, recorded_at",
    "people": "slug, name, position, recorded_at",
    "units": "org, slug, name, kind, mandate, commitments, formed, formed_lo, dissolved, formed_event, dissolved_event",
    "facts": "org, id, position, type, recorded_at, effective, eff_lo, eff_hi, confidence, payload, original, "
             "corrections, retracted_by, retracted_at, writer",
    "tenures": "org, unit, person, role, tenure_key, start_text, start_lo, start_hi, end_text, end_lo, end_hi, cause, "
               "start_event, end_event, evidence, disputed, recorded_from, recorded_to",
    "roles": "org, person, role, tenure_key, start_text, start_lo, start_hi, end_text, end_lo, end_hi, cause, "
             "start_event, end_event, evidence, disputed, recorded_from, recorded_to",
    "subscriptions": "sub, aggregate_id, url, org, types, secret, status, control_position, redeliver_from, start_after, created_at",
    "names": "person, name, effective, eff_lo, position, recorded_at",
    "identifiers": "scheme, value, person, position, recorded_at",
    "imports": "org, id, source, format, digest, position, recorded_at, first_event, last_event, first_position, "
               "last_position, events, summary, writer",
    "merges": "person, into_person, position, recorded_at, reason",
    # spans rows compared through the rows they index, not their ids
    "spans": "s.kind, s.org, s.unit, s.year, s.end_hi, s.start_lo, COALESCE(t.person, r.person), COALESCE(t.role, r.role), "
             "COALESCE(t.start_text, r.start_text), COALESCE(t.recorded_from, r.recorded_from)",
}
SPANS_FROM = ("spans s LEFT JOIN tenures t ON s.kind='tenures' AND t.id=s.row_id "
              "LEFT JOIN roles r ON s.kind='roles' AND r.id=s.row_id")


# A version folded before SCHEMA 4 has spans without their rows' bounds: those are read from the
# rows, which a fresh fold's spans must match.
_ROWS_BOUNDS = "COALESCE(t.end_hi, r.end_hi), COALESCE(t.start_lo, r.start_lo)"


def _rows(conn: Conn, table: str) -> list[tuple[str, ...]]:
    cols = TABLES[table]
    if table == "spans" and (conn.schema or SCHEMA) < SPANS_BOUNDED:  # a fresh fold is this code's
        cols = cols.replace("s.end_hi, s.start_lo", _ROWS_BOUNDS)
    source = SPANS_FROM if table == "spans" else table
    return [tuple("" if v is None else str(v) for v in r)
            for r in conn.execute(f"SELECT {cols} FROM {source}").fetchall()]


def fresh_fold(events: Iterable[RecordedEvent], progress: Callable[[int], None] | None = None) -> Conn:
    """The log folded afresh into an in-memory SQLite database, in one long fold as a rebuild does
    it (the incremental path folds in batches read through from the tables: comparing the two
    checks that batch boundaries change nothing)."""
    raw = sqlite3.connect(":memory:", isolation_level=None)
    conn = Conn(raw, SQLITE, version=1)
    create_shared(conn)
    create_version(conn, 1)
    raw.execute("BEGIN")
    store = MemoryStore()
    projector = Projector(store)
    batch: list[RecordedEvent] = []
    n = 0
    for e in events:
        batch.append(e)
        if len(batch) >= 1000:
            projector.apply(batch)
            n += len(batch)
            batch.clear()
            if progress:
                progress(n)
    projector.apply(batch)
    store.take().write(conn, now())
    raw.execute("COMMIT")
    return conn


def compare(stored: Conn, fresh: Conn, limit: int = 20) -> dict[str, TableDifference]:
    """{table: {"missing": [...], "unexpected": [...]}} for every table that differs."""
    from collections import Counter

    out: dict[str, TableDifference] = {}
    for table in TABLES:
        a, b = Counter(_rows(stored, table)), Counter(_rows(fresh, table))
        missing = list((b - a).elements())  # in a fresh fold, not stored
        unexpected = list((a - b).elements())  # stored, not in a fresh fold
        if missing or unexpected:
            out[table] = {"missing": missing[:limit], "unexpected": unexpected[:limit],
                          "counts": {"missing": len(missing), "unexpected": len(unexpected)}}
    return out


def _readable(app: OrgHistory, skipped: set[int]) -> Iterator[RecordedEvent]:
    for notes in logreader.pages(app.recorder, 0, 1000):
        for note in notes:
            if note.id not in skipped:
                yield app.decode(note)


def verify(app: OrgHistory, stored: Conn,
           progress: Callable[[int], None] | None = None) -> tuple[int, dict[str, TableDifference]]:
    """(position verified, differences) for the version ``stored`` is bound to. Empty
    differences: that version equals the log."""
    position, _ = tracked(stored)
    # Parked events (not retried) were never applied: a fresh fold leaves them out too.
    skipped = {int(r["position"]) for r in stored.all(
        "SELECT position FROM parked WHERE name=? AND (resolution IS NULL OR resolution='skipped')", (stored.track,))}
    fresh = fresh_fold((e for e in _readable(app, skipped) if e.position <= position), progress)
    return position, compare(stored, fresh)
