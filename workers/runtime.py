"""Per-process construction of the write side and the read side.

A PostgreSQL-backed Application (its connection pool) must never be shared across a fork, and rq
forks per job: everything here is built lazily and rebuilt when the process id changes.
"""

from __future__ import annotations

import os
import threading

from events.application import OrgHistory
from events.settings import Settings
from projections import versions
from projections.db import Database

from .locks import runner_lock

_lock = threading.Lock()
_cache: dict[tuple, tuple[int, OrgHistory, Database]] = {}


def open_store(settings: Settings) -> tuple[OrgHistory, Database]:
    key = (settings.database_url, settings.database_schema, str(settings.data_dir))
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] == os.getpid():
            return hit[1], hit[2]
        db = Database.from_settings(settings)
        db.prepare()
        # Several processes start at once (gunicorn workers, rq workers): creating tables and types
        # concurrently races in PostgreSQL's catalog, so one process at a time sets up the schema.
        with runner_lock(settings, "schema-setup"):
            app = OrgHistory(settings)
            versions.setup(db)
        _cache[key] = (os.getpid(), app, db)
        return app, db


def forget() -> None:
    """Drop this process's cached stores (tests that switch databases)."""
    with _lock:
        for pid, app, db in _cache.values():
            if pid == os.getpid():
                app.close()
                db.close()
        _cache.clear()
