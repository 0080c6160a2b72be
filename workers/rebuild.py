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
import time
import traceback
from collections import deque
from contextlib import contextmanager
from datetime import datetime
from typing import Callable, Iterator

from eventsourcing.persistence import Notification

from events import logreader
from events.recorded import RecordedEvent
from projections import clock, versions
from projections.batchstore import BatchStore
from projections.changes import Changes, tracked, write_tracking
from projections.foldspill import FoldSpill
from projections.projector import Projector, park
from projections.readback import RebuildStore, Unwritten
from projections.schema import READ_THROUGH_INDEXES
from projections.store import MemoryStore

from . import joblog
from .answers import Report
from .catchup import transient
from .flushing import Budget, Writer, memory_budget, young_collections_only
from .locks import LockTimeout, runner_lock
from .runtime import Stores

log = logging.getLogger("orghistory.rebuild")
PAGE = 1000  # events read per page of the log
FLUSH_EVENTS = 20_000  # events folded between flushes (one write transaction each)
FLUSH_SECONDS = 2.0  # ...or this long, whichever comes first, so progress and resumption stay fresh
COLLECT_SECONDS = 30.0  # at most one full collection this often, when the fold lets go of its state


class RebuildBusy(RuntimeError):
    """Another rebuild of this projection is running."""


Progress = Callable[[int, int, int], None]  # (position reached, head, events folded this run)


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
            folder = _Folder(stores, name, version, job_id, progress, flush_events, "rebuild", memory)
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
        folder = _Folder(stores, name, version, job_id, progress, flush_every(), "replay")
        folders.append(folder)
        folder.run(stop=stop)
        versions.create_indexes(db, version)
        versions.set_state(db, name, version, "scratch")  # complete: only now is it a usable scratch
    return folder.report


@contextmanager
def _job(db, job_id: str):
    """The job row's outcome (finished at the position reached, or failed with the error), and the
    folder's cleanup, for a rebuild or a replay. Yields a list to put the folder in."""
    folders: list[_Folder] = []
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


class _Folder:
    def __init__(self, stores: Stores, name: str, version: int, job_id: str, progress: Progress | None,
                 flush_events: int, kind: str, memory: int | None = None):
        self.settings, self.name, self.version = stores.settings, name, version
        self.app, self.db = stores.app, stores.db
        self.job_id, self.progress, self.flush_events = job_id, progress, flush_events
        self.pending: list[RecordedEvent] = []  # folded since the last flush (re-folded after a poison)
        self.parked: list[tuple[str | None, int, str]] = []  # (event id, position, error) to record
        self.started = time.monotonic()
        self.old: int | None = None
        self.read_throughs = 0  # stores that read back what was flushed, made so far
        self.collected = time.monotonic()  # the last full collection of a letting go
        self.indexed = False  # whether the indexes reading back needs are built (at the first read-through)
        # The last two flushes handed to the writer: at most these are not written yet (it takes
        # one only once it wrote the one before); a store that reads back reads them too.
        self.in_flight: deque[Changes] = deque(maxlen=2)
        self.spill: FoldSpill | None = None  # the folds let go of, from the first eviction on
        self.writer = Writer(self._write)
        memory = memory or memory_budget()
        self.cache = self.db.dialect.bulk_cache(memory)  # the writer's share of the budget
        self.budget = Budget(max(1, memory - self.cache))
        self._reading = contextlib.ExitStack()
        self.reader = self._reading.enter_context(self.db.reader(version, name))
        with self.db.read(version=version, name=name) as c:
            resumed = tracked(c)[0] > 0
            # Events an operator chose to skip stay skipped in every version of the projection.
            self.skipped = {int(r["position"]) for r in c.all(
                "SELECT DISTINCT position FROM parked WHERE name LIKE ? AND resolution='skipped'", (f"{name}@v%",))}
        # From scratch, everything is kept in memory until the budget is spent; resumed, what was
        # flushed is read back as needed rather than loaded whole.
        self.store: MemoryStore = self._read_through() if resumed else MemoryStore()
        start = self.store.pos
        self.report = Report(name, version, kind, start, start, 0, 0.0)
        joblog.started(self.db, job_id, version, start, self.app.head_position())
        log.info("fold started", extra={"projection": name, "version": version, "kind": kind, "from": start})

    def run(self, stop: int | None, switch: bool = False) -> None:
        last_flush = time.monotonic()
        # Pages no larger than a flush, so a flush comes every ``flush_events`` events. Each page is
        # read after the last one's end, which is where the fold's position stands after it (every
        # note of a page moves it: folded, skipped or parked), however the store was swapped
        # meanwhile (evicted, reloaded after a poison); the first starts where the fold stands.
        for notes in logreader.pages(self.app.recorder, self.store.pos, min(PAGE, self.flush_events), stop=stop):
            self._fold_page(notes)
            self.budget.observe(self.store)
            if len(self.pending) >= self.flush_events or time.monotonic() - last_flush > FLUSH_SECONDS:
                self._flush()
                last_flush = time.monotonic()
                if self.budget.spent(self.store):
                    self._evict()
        self._flush(switch=switch)
        self.writer.drain()

    def _fold_page(self, notes: list[Notification]) -> None:
        decoded: list[tuple[Notification, RecordedEvent | Exception | None]] = []  # None: skipped
        for note in notes:
            try:
                decoded.append((note, None if note.id in self.skipped else self.app.decode(note)))
            except Exception as exc:
                if transient(exc):
                    raise
                decoded.append((note, exc))
        if isinstance(self.store, BatchStore):  # read back, in a few queries, what the page needs
            self.store.prefetch([e for _, e in decoded if isinstance(e, RecordedEvent)])
        projector = Projector(self.store)
        for note, e in decoded:
            if e is None:
                self.parked.append((None, note.id, "skipped by an operator in an earlier version"))
                self.store.set_position(note.id, self.store.last)
                continue
            try:
                if isinstance(e, Exception):
                    raise e
                projector.apply([e])
                self.pending.append(e)
            except Exception as exc:
                if transient(exc):
                    raise
                self._poisoned(note, exc)
                projector = Projector(self.store)
            self.report.events += 1

    def _read_through(self, carry: MemoryStore | None = None) -> RebuildStore:
        """A store that reads back what was flushed, with the indexes that reading needs, built now
        if this version has none yet.

        Letting go (``carry``: the store let go of) does not wait for the writer thread: the new
        store reads what it was handed but may not have written yet (``readback.Unwritten``) beside
        the tables. It waits where it writes itself (the indexes; the planner's statistics, at the
        first read-through and whenever their number doubled: about when the tables did), for a
        flush that moved older facts' links, and while the budget's cost per item is measured
        (what the taken-over flushes free meanwhile must not read as items costing less)."""
        self.read_throughs += 1
        analyze = self.read_throughs & (self.read_throughs - 1) == 0
        if carry is None or analyze or not self.indexed or not Unwritten.covers(self.in_flight) \
                or self.budget.per_item is None:
            self.writer.drain()
            self.in_flight.clear()  # all written
        if not self.indexed:
            versions.create_indexes(self.db, self.version, only=READ_THROUGH_INDEXES)
            self.indexed = True
        if analyze:
            versions.analyze(self.db, self.version)
        unwritten = None
        if carry is not None and self.in_flight:
            unwritten = Unwritten(carry, tuple(self.in_flight), carry.unwritten if isinstance(carry, RebuildStore) else None)
        return RebuildStore(self.reader, carry, self.spill, unwritten)

    def _evict(self) -> None:
        """Over the memory budget: let go of everything folded so far and read it back as needed."""
        log.info("memory budget spent: reading back what was flushed from now on",
                 extra={"projection": self.name, "version": self.version, "position": self.store.pos,
                        "budget_mb": self.budget.limit >> 20})
        if self.spill is None:
            self.spill = FoldSpill()
        self.spill.save(self.store.derived)  # so people met again go on from their folds
        self.store = self._read_through(carry=self.store)
        self.report.read_backs += 1
        gc.unfreeze()  # the old state is garbage now: freed as it went, having no cycles
        # Full collections are held off while a fold runs (``young_collections_only``): one now and
        # then, for the rest of the process's cycles. (At every eviction: 12.9 s of a 193 s rebuild.)
        if time.monotonic() - self.collected > COLLECT_SECONDS:
            gc.collect()
            self.collected = time.monotonic()
        self.budget.let_go()

    def _poisoned(self, note, exc: Exception) -> None:
        """An event whose fold raised may have half-changed the in-memory state: reload what was
        flushed, fold the good events since again, and park this one."""
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        log.error("parked an event whose fold raised",
                  extra={"projection": self.name, "version": self.version, "position": note.id, "error": error})
        if self.spill is not None:
            self.spill.clear()  # folds written aside before the last flush may be older than it
        self.store = self._read_through()  # the tables hold every flush: read back from them
        projector = Projector(self.store)
        for e in self.pending:
            if e.position > self.store.pos:
                projector.apply([e])
        event_id = None
        try:
            event_id = self.app.decode(note).id
        except Exception:
            pass  # it did not decode: parked by its position alone
        self.parked.append((event_id, note.id, error))
        self.store.set_position(note.id, self.store.last)

    def _flush(self, switch: bool = False) -> None:
        """Hand what was folded since the last flush to the writer thread (or, for the switch,
        write it here, after everything before it, in the switching transaction)."""
        # The fold's state lives as long as the rebuild: out of the collector's generations, or
        # every full collection walks millions of objects (a third of the fold's time at 30k events).
        gc.freeze()
        item = (self.store.take(), list(self.parked), switch)
        self.parked.clear()
        self.pending.clear()
        if switch:
            self.writer.drain()
            self._write(*item)
        else:
            self.writer.submit((*item, True))
            self.in_flight.append(item[0])  # the writer took the one before: the one before that is written
            store = self.store
            if isinstance(store, RebuildStore) and store.unwritten is not None and \
                    not any(c is f for c in self.in_flight for f in store.unwritten.flushes):
                store.unwritten = None  # all of it written

    def _write(self, changes: Changes, parked: list[tuple[str | None, int, str]], switch: bool,
               beside_fold: bool = False) -> None:
        """``beside_fold``: written by the writer thread while this one folds on."""
        now = clock.now()
        with self.db.write(version=self.version, name=self.name) as c:
            c.dialect.tune_bulk_writes(c, self.cache)
            c.beside_fold = beside_fold
            changes.write(c, now)
            for event_id, position, error in parked:
                park(c, position, event_id, None, error)
                if error.startswith("skipped by an operator"):
                    c.execute("UPDATE parked SET resolved_at=?, resolution='skipped' WHERE name=? AND position=?",
                              (now, c.track, position))
                self.report.parked += 1
            if changes.position:  # park() may have written an older position: the folded one is the truth
                write_tracking(c, changes.position, changes.last or now, now)
            if switch:
                self.old = versions.switch(c, self.name, self.version)
        self.report.position = changes.position
        self.report.seconds = time.monotonic() - self.started
        head = self.app.head_position()
        rate = self.report.rate
        eta = (head - changes.position) / rate if rate else None
        joblog.update(self.db, self.job_id, position=changes.position, done=changes.position, total=head,
                      rate=round(rate, 1), eta_seconds=None if eta is None else round(eta, 1))
        if self.progress is not None:
            self.progress(changes.position, head, self.report.events)

    def close(self) -> None:
        self.budget.close()
        self.writer.close()
        self._reading.close()
        if self.spill is not None:
            self.spill.close()
