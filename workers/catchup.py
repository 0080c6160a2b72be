"""The catch-up job: pull events after the tracked position, in batches, and fold them.

The same function runs as an rq job (production shape) and in-process (embedded default).
"""

from __future__ import annotations

import logging
import time
import traceback

from events import logreader
from events.recorded import RecordedEvent
from projections.changes import tracked
from projections.clock import now as _now
from projections.db import DBRow
from projections.projector import NAME, apply_events, park, reapply_event

from .answers import ParkedEvent
from .locks import runner_lock
from .runtime import Stores

log = logging.getLogger("orghistory.catchup")
# Events folded and written in one transaction. Larger batches share the few reads and bulk writes
# of a batch among more events (ingest to visible: 3,539-3,693 ev/s at 500, 4,423-4,601 at 2,000,
# interleaved runs of load.py's ingest); each is still well under a second of folding.
BATCH = 2000


def catch_up(stores: Stores, name: str = NAME, batch: int = BATCH, progress=None) -> int:
    """Apply every event not yet applied; returns how many. Safe to run concurrently anywhere."""
    app, db = stores.app, stores.db
    applied = 0
    started = time.monotonic()
    with runner_lock(stores.settings, name):
        while True:
            notes = None
            try:
                with db.write(name=name) as conn:
                    position, _ = tracked(conn, lock=True)
                    # one page at a time, each after the position tracked in this transaction (under
                    # its lock), not after the last page read: the tracked position is the truth
                    notes = logreader.page(app.recorder, position, batch)
                    if not notes:
                        break
                    applied += apply_events(conn, [app.decode(n) for n in notes], stores.folds,
                                            lambda after, upto: _events(app, after, upto))
                    last = notes[-1].id
            except Exception as e:
                if notes is None or transient(e):
                    raise  # the store, not an event: fail the job (rq records it) and retry later
                # Some event in the batch cannot be folded: go one by one and park the culprit,
                # so one bad event never wedges the projection.
                applied += _one_by_one(app, db, name, notes)
                last = notes[-1].id
            if progress is not None:
                progress(applied, last)
    if applied:
        log.info("caught up", extra={"projection": name, "applied": applied, "position": last,
                                     "seconds": round(time.monotonic() - started, 3)})
    return applied


def _events(app, after: int, upto: int) -> list[RecordedEvent]:
    """The events with ``after < position <= upto``, decoded."""
    return [app.decode(n) for notes in logreader.pages(app.recorder, after, stop=upto) for n in notes]


def _one_by_one(app, db, name: str, notes) -> int:
    applied = 0
    for note in notes:
        try:
            with db.write(name=name) as conn:
                if tracked(conn)[0] >= note.id:
                    continue
                applied += apply_events(conn, [app.decode(note)])
        except Exception as e:
            if transient(e):
                raise
            log.error("parked an event whose fold raised",
                      extra={"projection": name, "position": note.id, "error": repr(e)})
            with db.write(name=name) as conn:
                if tracked(conn)[0] < note.id:
                    park(conn, note.id, _event_id(app, note), note.topic.rsplit(".", 1)[-1],
                         "".join(traceback.format_exception_only(type(e), e)).strip())
    return applied


def transient(e: BaseException) -> bool:
    """Errors of the database connection, not of an event: never a reason to park one."""
    import sqlite3

    from eventsourcing.persistence import InterfaceError, OperationalError

    kinds: tuple = (sqlite3.OperationalError, OperationalError, InterfaceError)
    try:
        import psycopg

        kinds += (psycopg.OperationalError, psycopg.InterfaceError)
    except ImportError:  # pragma: no cover
        pass
    return isinstance(e, kinds) or isinstance(e.__cause__, kinds)


def _event_id(app, note) -> str | None:
    try:
        return app.decode(note).id
    except Exception:
        return None


def _parked(r: DBRow) -> ParkedEvent:
    return {"name": r["name"], "position": r["position"], "event_id": r["event_id"], "type": r["type"],
            "error": r["error"], "attempts": r["attempts"], "parked_at": r["parked_at"],
            "resolved_at": r["resolved_at"], "resolution": r["resolution"]}


def parked(stores: Stores, name: str = NAME, include_resolved: bool = False) -> list[ParkedEvent]:
    db = stores.db
    where = "" if include_resolved else " AND resolved_at IS NULL"
    with db.read(name=name) as conn:
        return [_parked(r) for r in conn.all(f"SELECT * FROM parked WHERE name=?{where} ORDER BY position",
                                             (conn.track,))]


def retry_parked(stores: Stores, position: int, name: str = NAME) -> ParkedEvent:
    """Fold a parked event again (after a fix). Returns its parked record, resolved or not."""
    app, db = stores.app, stores.db
    with runner_lock(stores.settings, name):
        with db.read(name=name) as conn:
            row = conn.one("SELECT * FROM parked WHERE name=? AND position=? AND resolved_at IS NULL",
                           (conn.track, position))
        if row is None:
            raise LookupError(f"no parked event at position {position}")
        notes = logreader.page(app.recorder, position - 1, 1)  # the event at the parked position
        try:
            with db.write(name=name) as conn:
                reapply_event(conn, app.decode(notes[0]))
                conn.execute("UPDATE parked SET resolved_at=?, resolution='retried' WHERE name=? AND position=?",
                             (_now(), conn.track, position))
        except Exception as e:
            with db.write(name=name) as conn:
                conn.execute("UPDATE parked SET error=?, attempts=attempts+1 WHERE name=? AND position=?",
                             ("".join(traceback.format_exception_only(type(e), e)).strip()[:4000], conn.track,
                              position))
    with db.read(name=name) as conn:
        parked = conn.one("SELECT * FROM parked WHERE name=? AND position=?", (conn.track, position))
    if parked is None:  # found above, under the runner lock: gone only if the version was dropped meanwhile
        raise LookupError(f"no parked event at position {position}")
    return _parked(parked)


def skip_parked(stores: Stores, position: int, name: str = NAME) -> ParkedEvent:
    db = stores.db
    with db.write(name=name) as conn:
        cur = conn.execute("UPDATE parked SET resolved_at=?, resolution='skipped' WHERE name=? AND position=? "
                           "AND resolved_at IS NULL", (_now(), conn.track, position))
        if not cur.rowcount:
            raise LookupError(f"no parked event at position {position}")
        parked = conn.one("SELECT * FROM parked WHERE name=? AND position=?", (conn.track, position))
    if parked is None:  # just updated in this transaction
        raise LookupError(f"no parked event at position {position}")
    return _parked(parked)


def projected(stores: Stores, name: str = NAME) -> int:
    """The position the projection has reached."""
    with stores.db.read(name=name) as conn:
        return tracked(conn)[0]


def lag(stores: Stores, name: str = NAME) -> tuple[int, int]:
    """(head position of the log, position the projection has reached)."""
    return stores.app.head_position(), projected(stores, name)
