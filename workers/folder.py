"""The fold of a rebuild or a replay: the log folded into a new version's tables in bulk.

It keeps what it folds in memory (``MemoryStore``) until its memory budget is spent, then lets go
and reads back what was flushed as the log needs it, beside what the writer thread has not written
yet (``projections.readback``). Flushes go to a writer thread with the version's tracked position,
so the fold goes on while they are written.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
import traceback
from typing import Callable

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
from .flushing import Budget, Writer, memory_budget, split
from .runtime import Stores

log = logging.getLogger("orghistory.rebuild")
PAGE = 1000  # events read per page of the log
FLUSH_SECONDS = 2.0  # flush at least this often, so progress and resumption stay fresh
COLLECT_SECONDS = 30.0  # at most one full collection this often, when the fold lets go of its state

Progress = Callable[[int, int, int], None]  # (position reached, head, events folded this run)


class Folder:
    """Folds the log into one version's tables: in memory until its budget is spent, then letting
    go and reading back what was flushed (``readback.RebuildStore``), flushing in bulk through a
    writer thread. Used by a rebuild and a replay (``workers.rebuild``)."""

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
        self.spill: FoldSpill | None = None  # the folds let go of, from the first eviction on
        self.writer = Writer(self._write)
        self.shares = split(memory or memory_budget(), self.db.dialect)
        self.budget = Budget(self.shares.fold)
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
        # Pages no larger than a flush, so a flush comes every ``flush_events`` events (or sooner:
        # every ``FLUSH_SECONDS``, or once it would hold its share of the budget). Each page is
        # read after the last one's end, which is where the fold's position stands after it (every
        # note of a page moves it: folded, skipped or parked), however the store was swapped
        # meanwhile (evicted, reloaded after a poison); the first starts where the fold stands.
        for notes in logreader.pages(self.app.recorder, self.store.pos, min(PAGE, self.flush_events), stop=stop):
            self._fold_page(notes)
            self.budget.observe(self.store)
            if len(self.pending) >= self.flush_events or time.monotonic() - last_flush > FLUSH_SECONDS \
                    or self.budget.flush_due(self.store):
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
        if carry is None or analyze or not self.indexed or not Unwritten.covers(self._unwritten()) \
                or self.budget.per_item is None:
            self.writer.drain()  # all written
        if not self.indexed:
            versions.create_indexes(self.db, self.version, only=READ_THROUGH_INDEXES)
            self.indexed = True
        if analyze:
            versions.analyze(self.db, self.version)
        unwritten = None
        flushes = self._unwritten()
        if carry is not None and flushes:
            unwritten = Unwritten(carry, flushes, carry.unwritten if isinstance(carry, RebuildStore) else None)
        return RebuildStore(self.reader, carry, self.spill, unwritten)

    def _evict(self) -> None:
        """Over the memory budget: let go of everything folded so far and read it back as needed."""
        log.info("memory budget spent: reading back what was flushed from now on",
                 extra={"projection": self.name, "version": self.version, "position": self.store.pos,
                        "budget_mb": self.budget.limit >> 20})
        if self.spill is None:
            self.spill = FoldSpill(cache=self.shares.spill_cache)
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
            flushes = self._unwritten()
            store = self.store
            if isinstance(store, RebuildStore) and store.unwritten is not None and \
                    not any(c is f for c in flushes for f in store.unwritten.flushes):
                store.unwritten = None  # all of it written

    def _unwritten(self) -> tuple[Changes, ...]:
        """The flushes handed to the writer that it has not written yet (at most two: it takes one
        only once it wrote the one before); a store that reads back reads them beside the tables.
        Written ones are not held: kept until two later flushes pushed them out, they were memory
        outside the fold's state, and indexed again by every letting go meanwhile."""
        return tuple(item[0] for item in self.writer.unwritten())

    def _write(self, changes: Changes, parked: list[tuple[str | None, int, str]], switch: bool,
               beside_fold: bool = False) -> None:
        """``beside_fold``: written by the writer thread while this one folds on."""
        now = clock.now()
        with self.db.write(version=self.version, name=self.name) as c:
            c.dialect.tune_bulk_writes(c, self.shares.writer_cache)
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
