"""Blue/green rebuilds and scratch replays of a projection.

A rebuild folds the whole log into a new version's tables beside the live one, in memory
(``MemoryStore``), flushing in bulk every few thousand events together with the version's own
tracked position. Readers keep using the live version throughout. Once the new version reaches the
head of the log, the live catch-up is paused (its runner lock), the last events are folded, and
one transaction flushes them and makes the new version live. The old version's tables are then
dropped.

Killed at any moment, a rebuild leaves either a ``building`` version (run it again: it reloads
what was flushed and goes on from that version's tracked position) or a switched one; never a
half-built live version. A second rebuild of the same projection is refused while one runs.

A replay is the same fold stopped at a position or record time, kept as a ``scratch`` version
for debugging (``?version=N``) until dropped.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import traceback
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

from events import logreader
from projections import clock, versions

from . import joblog
from .answers import Report
from .flushing import memory_budget, young_collections_only
from .folder import PAGE, Folder, Progress
from .locks import LockTimeout, runner_lock
from .runtime import Stores

__all__ = ["RebuildBusy", "drop_version", "flush_every", "memory_budget", "rebuild", "replay"]

log = logging.getLogger("orghistory.rebuild")
FLUSH_EVENTS = 20_000  # events folded between flushes (one write transaction each), or ``folder.FLUSH_SECONDS``, whichever comes first


class RebuildBusy(RuntimeError):
    """Another rebuild of this projection is running."""


def flush_every() -> int:
    """Events between flushes: ``ORGHISTORY_REBUILD_FLUSH_EVENTS`` (smaller: finer resumption and
    shorter write transactions; larger: faster bulk writes)."""
    return max(1, int(os.environ.get("ORGHISTORY_REBUILD_FLUSH_EVENTS") or FLUSH_EVENTS))


def rebuild(stores: Stores, name: str = "history", job_id: str | None = None,
            progress: Progress | None = None, flush_events: int | None = None,
            memory: int | None = None) -> Report:
    """Build a new version of ``name`` from position zero (or resume an interrupted one), then
    switch readers to it and drop the old one. ``memory``: the fold's budget in bytes (default
    ``memory_budget()``)."""
    versions.check_name(name)
    flush_events = flush_events or flush_every()
    db, settings = stores.db, stores.settings
    with _rebuild_lock(stores, name, job_id):
        job_id = job_id or joblog.create(db, "rebuild", name)
        with _job(db, job_id) as folders:
            joblog.interrupted(db, name, "rebuild", job_id)  # we hold the lock: any other "running" one died
            with db.read(bind=False) as c:
                version = versions.building(c, name)
            if version is None:
                version = versions.create(db, name, "building")
            folder = Folder(stores, name, version, job_id, progress, flush_events, "rebuild", memory)
            folders.append(folder)
            folder.run(stop=None)
            versions.create_indexes(db, version)
            # Caught up with the head as it was: pause the live catch-up, fold what came meanwhile,
            # and switch in the same transaction as the last flush.
            with runner_lock(settings, name):
                folder.run(stop=None, switch=True)
            folder.report.switched_from = folder.old
            folder.report.dropped = versions.drop_retired(db, name)
    log.info("rebuilt", extra=folder.report.log_fields())
    return folder.report


def replay(stores: Stores, name: str = "history", until_position: int | None = None,
           until_recorded: datetime | None = None, job_id: str | None = None,
           progress: Progress | None = None) -> Report:
    """A scratch version of ``name`` folded up to a position (inclusive) or a record time."""
    versions.check_name(name)
    if until_position is None and until_recorded is None:
        raise ValueError("give until_position or until_recorded")
    app, db = stores.app, stores.db
    job_id = job_id or joblog.create(db, "replay", name)
    stop = until_position
    if until_recorded is not None:
        stop = _last_recorded_before(app, until_recorded, until_position)
    version = versions.create(db, name, "replaying", until_position=stop,
                              until_recorded=clock.stamp(until_recorded) if until_recorded else None)
    with _job(db, job_id) as folders:
        folder = Folder(stores, name, version, job_id, progress, flush_every(), "replay")
        folders.append(folder)
        folder.run(stop=stop)
        versions.create_indexes(db, version)
        versions.set_state(db, name, version, "scratch")  # complete: only now is it a usable scratch
    return folder.report


@contextmanager
def _job(db, job_id: str):
    """The job row's outcome (finished at the position reached, or failed with the error), and the
    folder's cleanup, for a rebuild or a replay. Yields a list to put the folder in."""
    folders: list[Folder] = []
    try:
        with young_collections_only():
            yield folders
    except BaseException as e:
        joblog.update(db, job_id, state="failed", error=_described(e))
        raise
    finally:
        for folder in folders:
            folder.close()
        gc.unfreeze()  # the fold's state is garbage now; let the collector have it
    position = folders[-1].report.position
    joblog.update(db, job_id, state="finished", position=position, done=position)


def _described(e: BaseException) -> str:
    """How a job's error reads in the jobs table: the exception's type and message."""
    return "".join(traceback.format_exception_only(type(e), e)).strip()


@contextmanager
def _rebuild_lock(stores: Stores, name: str, job_id: str | None) -> Iterator[None]:
    """Hold ``name``'s rebuild lock, or raise RebuildBusy at once. Taken before anything is written:
    a refused rebuild must not wait for the database (a running rebuild keeps SQLite's writer busy,
    and a frozen one can hold it indefinitely) nor leave a job row of its own. A job created by
    the API is marked failed, so whoever follows it learns why."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(runner_lock(stores.settings, f"{name}:rebuild", wait=False))
        except LockTimeout:
            busy = RebuildBusy(f"a rebuild of {name} is already running")
            if job_id is not None:
                joblog.update(stores.db, job_id, state="failed", error=_described(busy))
            raise busy from None
        yield


def drop_version(stores: Stores, name: str, version: int) -> bool:
    """Drop a scratch, retired or abandoned version. The live one never; an unfinished rebuild's
    only while no rebuild runs (it would resume into it). Raises LookupError if there is no such
    version, ValueError if it may not be dropped; False: old readers still ran, try again."""
    versions.check_name(name)
    db = stores.db
    with db.read(bind=False) as c:
        row = versions.get(c, name, version)
    if row is None or row["dropped_at"] is not None:
        raise LookupError(f"projection {name} has no version {version}")
    if row["state"] == "live":
        raise ValueError(f"version {version} is live; rebuild to replace it instead")
    if row["state"] == "building":
        try:
            with runner_lock(stores.settings, f"{name}:rebuild", wait=False):
                return versions.drop(db, name, version)
        except LockTimeout:
            raise ValueError(f"version {version} is being built by a running rebuild") from None
    return versions.drop(db, name, version)


def _last_recorded_before(app, until: datetime, cap: int | None) -> int:
    """The position of the last event recorded at or before ``until`` (positions follow record
    order), found by scanning notification pages without decoding the events."""
    last = 0
    for notes in logreader.pages(app.recorder, 0, PAGE, stop=cap):
        for note in notes:
            if app.decode(note).recorded_at > until:
                return last
            last = note.id
    return last
