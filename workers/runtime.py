"""The write side and the read side of one database, built together: ``Stores``.

Built once where a process starts its work (``service.bootstrap`` for the web service, each rq
job for itself, the CLI per command) and passed to everything that needs them: nothing looks them
up. A PostgreSQL-backed Application (its connection pool) must never be shared across a fork, and
rq forks per job, so a job builds its own and closes them when it ends; except a job that
``orghistory worker`` runs in its own process, which it hands the worker's stores
(``worker_stores``): rq calls a job by name, so the worker cannot pass them as an argument.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Iterator

from events.application import OrgHistory
from events.settings import Settings
from projections import identity, versions
from projections.db import Database
from projections.foldcache import FoldCache

from .locks import runner_lock


@dataclass
class Stores:
    settings: Settings
    app: OrgHistory
    db: Database
    # the store's own id (``projections.identity``): names its rq queue and wake-up channel
    store_id: str
    # the catch-up's unfinished folds, kept between its batches for as long as these stores live
    folds: FoldCache = field(default_factory=FoldCache)

    def close(self) -> None:
        self.app.close()
        self.db.close()

    def __enter__(self) -> Stores:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_stores(settings: Settings) -> Stores:
    """Open the event store and the projection database of ``settings``, creating their tables."""
    db = Database.from_settings(settings)
    # Several processes start at once (gunicorn workers, rq workers): creating the schema, tables
    # and types concurrently races in PostgreSQL's catalog (even CREATE SCHEMA IF NOT EXISTS), so
    # one process at a time sets them up.
    with runner_lock(settings, "schema-setup"):
        db.prepare()
        app = OrgHistory(settings)
        versions.setup(db)
        store_id = identity.store_id(db)
    return Stores(settings, app, db, store_id)


class StoresBySettings:
    """Stores opened on first use, one per settings, closed together: for a caller that opens and
    reopens the stores of several settings in one process (the tests, the benchmarks). Owned by
    that caller, never a module of the service."""

    def __init__(self) -> None:
        self._open: list[Stores] = []

    def __call__(self, settings: Settings) -> Stores:
        for stores in self._open:
            if stores.settings == settings:
                return stores
        stores = open_stores(settings)
        self._open.append(stores)
        return stores

    def close(self) -> None:
        """Close every store opened (the next call opens them afresh, as a new process would)."""
        while self._open:
            self._open.pop().close()


# The worker's stores while it runs a job in its own process (never across a fork: the worker sets
# it around an in-process job only, and a forked horse starts without it).
_worker_stores: ContextVar[Stores | None] = ContextVar("orghistory_worker_stores", default=None)


@contextmanager
def worker_stores(stores: Stores) -> Iterator[None]:
    token = _worker_stores.set(stores)
    try:
        yield
    finally:
        _worker_stores.reset(token)


def current_worker_stores() -> Stores | None:
    """The stores of the worker running this job in its own process, if it is one."""
    return _worker_stores.get()
