"""The catch-up job: pull events after the tracked position, in batches, and fold them.

The same function runs as an rq job (production shape) and in-process (embedded default).
"""

from __future__ import annotations

import logging
import time

from events.settings import Settings
from projections.projector import NAME, Projector, tracked

from .locks import runner_lock
from .runtime import open_store

log = logging.getLogger("orghistory.catchup")
BATCH = 500


def catch_up(settings: Settings | None = None, name: str = NAME, batch: int = BATCH, progress=None) -> int:
    """Apply every event not yet applied; returns how many. Safe to run concurrently anywhere."""
    settings = settings or Settings.from_env()
    app, db = open_store(settings)
    applied = 0
    started = time.monotonic()
    with runner_lock(settings, name):
        while True:
            with db.write() as conn:
                position, _ = tracked(conn, name)
                events = app.read(after=position, limit=batch)
                if not events:
                    break
                applied += Projector(conn, name).apply(events)
                last = events[-1].position
            if progress is not None:
                progress(applied, last)
    if applied:
        log.info("caught up", extra={"projection": name, "applied": applied, "position": last,
                                     "seconds": round(time.monotonic() - started, 3)})
    return applied


def projected(settings: Settings, name: str = NAME) -> int:
    """The position the projection has reached."""
    _, db = open_store(settings)
    with db.read() as conn:
        return tracked(conn, name)[0]


def lag(settings: Settings | None = None, name: str = NAME) -> tuple[int, int]:
    """(head position of the log, position the projection has reached)."""
    settings = settings or Settings.from_env()
    app, _ = open_store(settings)
    return app.head_position(), projected(settings, name)
