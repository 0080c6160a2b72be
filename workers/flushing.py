"""A rebuild's memory and its writes: the budget that tells the fold when to let go of what it
holds (``Budget``), the collector's schedule while it folds (``young_collections_only``), and the
thread that writes one flush while the fold goes on (``Writer``)."""

from __future__ import annotations

import gc
import os
import queue
import threading
import tracemalloc
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from projections import foldspill
from projections.db import Dialect
from projections.store import MemoryStore


def memory_budget() -> int:
    """Bytes a rebuild's fold may hold (``ORGHISTORY_REBUILD_MEMORY_MB``, default 512)."""
    return max(16, int(os.environ.get("ORGHISTORY_REBUILD_MEMORY_MB") or 512)) << 20


@dataclass(frozen=True)
class Shares:
    """A rebuild's memory budget split between what holds memory in its process: the bulk-writing
    connection's page cache (SQLite's; PostgreSQL's buffers are the server's), the page cache of
    the scratch file its folds are let go into, and the fold itself (``Budget``), which holds its
    state and its flushes until written."""

    writer_cache: int
    spill_cache: int
    fold: int


def split(memory: int, dialect: Dialect) -> Shares:
    """``memory`` shared out: each cache a fixed part of it, up to its own cap; the fold the rest."""
    writer_cache = dialect.bulk_cache(memory)
    spill_cache = min(foldspill.CACHE_MAX, memory // 16)
    return Shares(writer_cache, spill_cache, max(1, memory - writer_cache - spill_cache))


def resident() -> int:
    """This process's resident memory in bytes (Linux), or 0 where it cannot be read."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


_collecting_young = 0  # folds running in this process with full collections held off
_collecting_lock = threading.Lock()
_thresholds = gc.get_threshold()  # the collector's own, given back when the last fold ends


@contextmanager
def young_collections_only() -> Iterator[None]:
    """While a fold runs, the collector collects its young generations only: no full collection
    unless asked for (the fold asks at each eviction, when it lets go of its state).

    A fold allocates millions of objects that live as long as it does and form no reference
    cycles (measured: none in 100,000 events of the 1M history), so refcounting frees all its
    garbage. Its flushes move what it holds out of the collector's reach (``gc.freeze``), but each
    full collection still walked everything allocated since the last flush, and they came every
    few tens of thousands of allocations: a third of a 1M rebuild's folding time (its thread's CPU
    135 -> 89 s with the spilled folds, 167 -> 137 s without). The setting is the process's: an
    embedded server's requests meanwhile have their cycles collected by the young collections,
    and the long-lived ones when the fold ends."""
    global _collecting_young, _thresholds
    with _collecting_lock:
        if _collecting_young == 0:
            _thresholds = gc.get_threshold()
            gc.set_threshold(_thresholds[0], _thresholds[1], 1 << 30)
        _collecting_young += 1
    try:
        yield
    finally:
        with _collecting_lock:
            _collecting_young -= 1
            if _collecting_young == 0:
                gc.set_threshold(*_thresholds)


class Budget:
    """How much memory the fold holds, estimated from what it holds (facts, current rows, kept
    folds): a fixed part and a cost per item, measured on this run over a window of items (from
    ``CALIBRATE_AT`` items held to ``CALIBRATE_AT + WINDOW``) as the larger of two growths, the
    bytes Python allocated (``tracemalloc``) and the resident memory.

    Either alone reads low. Python keeps what it freed and reuses it, so in a process that ran a
    rebuild before (the embedded server, a bench) the resident memory hardly grew: items looked
    free and the fold never let go (measured: 1.8 GiB held against a 512 MiB budget). And what
    Python allocated leaves out the allocator's own overhead: a rebuild of 200,000 events that
    calibrated on it alone added 554 MiB of resident memory against its 512 MiB. Measuring the
    cost per item over a window keeps what the fold allocates once (caches, buffers) out of it,
    so the budget is not spent long before it is used.

    Until the cost is known, the fold has spent its budget when either growth passed it. Tracing
    every allocation slows the fold by half or more, so it lasts only as long as it must: within
    the window, or from the start for a budget the window itself could spend (``SMALL``).
    (Measured: traced from the start to a second point of 40,000 items, a 200,000-event rebuild
    spent 16 of its 34 s traced, and its estimate read 4,400 bytes an item against 2,400 held.)"""

    CALIBRATE_AT = 2_000  # items held where the window starts: a few megabytes
    WINDOW = 6_000  # items the window spans
    SMALL = 128 << 20  # a budget below this is traced from the start (the window holds ~25 MB)
    # A flush may hold this share of the budget (``flush_due``): two of them, and what reading
    # back indexes of them, within the 30% that ``spent`` keeps aside.
    FLUSH_SHARE = 0.1
    DEFAULT_PER_ITEM = 2048  # bytes an item, until measured (1,983-3,043 measured at 1M)

    def __init__(self, limit: int):
        self.limit = limit
        self.per_item: float | None = None
        self.fixed = 0.0
        self._first: tuple[int, int, int] | None = None  # items, allocated, resident growth
        self._tracing = False  # whether a tracing is ours to stop (a test run may trace already)
        self._traced_from: int | None = None  # what tracemalloc had counted when our tracing began
        # Whether the allocations were traced from the start (of the fold, or since it let go of
        # everything): then they count whole, not only their growth within the window.
        self._traced_whole = limit < self.SMALL
        self.resident = resident()
        if self._traced_whole:
            self._trace()

    def _trace(self) -> None:
        if self._traced_from is None:
            self._tracing = not tracemalloc.is_tracing()
            if self._tracing:
                tracemalloc.start()
        self._traced_from = tracemalloc.get_traced_memory()[0]

    @staticmethod
    def items(store: MemoryStore) -> int:
        return len(store.facts) + sum(len(r) for r in store.rows.values()) + len(store.derived)

    def _grown(self) -> tuple[int, int]:
        """Bytes allocated since the tracing began (0 before) and the resident memory's growth."""
        allocated = tracemalloc.get_traced_memory()[0] - self._traced_from if self._traced_from is not None else 0
        return allocated, resident() - self.resident if self.resident else 0

    def observe(self, store: MemoryStore) -> None:
        """Take the calibration's measurements if ``store`` holds enough items for them. The
        folder calls this after every page until the cost per item is known, not only at its
        flushes, so the window's tracing lasts no more pages than it spans."""
        if self.per_item is None:
            self._calibrate(self.items(store))

    def _calibrate(self, n: int) -> bool:
        """Measure, with ``n`` items held. True: the budget was spent before the cost per item
        was known; the fold lets go of what it holds, and the cost is measured after (``let_go``)."""
        allocated, grown = self._grown()
        if max(allocated, grown) > 0.7 * self.limit:
            # Spent before the cost per item was measured: a small budget, or what filled it is
            # not items (three million people registered before the first fact). The fold lets
            # go of everything (``let_go``) and the cost is measured from there. (An estimate from
            # the few items held now called every later flush spent: a fold that registered
            # people first then read back everything at every flush.)
            return True
        if self._first is None:
            if n >= self.CALIBRATE_AT:
                if self._traced_from is None:
                    self._trace()
                self._first = (n, *self._grown())
            return False
        n1, allocated1, grown1 = self._first
        if n < n1 + self.WINDOW:
            return False
        self.per_item = max(64.0, (allocated - allocated1) / (n - n1), (grown - grown1) / (n - n1))
        # what is held past the items' cost, as either growth saw it (the allocations only if
        # they were traced from the start)
        whole = allocated if self._traced_whole else 0
        self.fixed = max(0.0, grown - n * self.per_item, whole - n * self.per_item)
        self.close()
        return False

    def spent(self, store: MemoryStore) -> bool:
        n = self.items(store)
        if self.per_item is None:
            if self._calibrate(n):
                return True  # spent before the cost per item was known
            if self.per_item is None:
                return False  # not measured yet
        # a margin for what is not counted: the flushes in the writer's hands (``flush_due``), the page being folded
        return self.fixed + n * self.per_item > 0.7 * self.limit

    def flush_due(self, store: MemoryStore) -> bool:
        """Whether what ``store`` would hand on at its next flush costs a share of the budget
        (``FLUSH_SHARE``). Until written, a flush stays in memory beside the fold, and the writer
        holds up to two (the one it writes, the one it was handed), which letting go cannot free:
        they must fit in the margin ``spent`` keeps. Flushes of a fixed number of events did not:
        with a 128 MiB budget a 1M rebuild added 333-372 MiB (with 102 MB of live objects just after
        letting go of everything), and with flushes of 3,000 events 197 MiB."""
        return store.unflushed() * (self.per_item or self.DEFAULT_PER_ITEM) > self.FLUSH_SHARE * self.limit

    def let_go(self) -> None:
        """The fold let go of everything it held (an eviction). If the budget was spent before
        the cost per item was known, that cost is measured from here: both growths from what the
        process holds now. (Python keeps the memory it freed, so the resident memory does not fall
        back: counted from before, it would call the budget spent again at once. From here it
        reads low until that memory is used again, and the traced allocations see it.)"""
        if self.per_item is None:
            self._first = None
            self.resident = resident()
            self._traced_whole = True
            self._trace()

    def close(self) -> None:
        if self._tracing:
            tracemalloc.stop()
            self._tracing = False


class Writer(threading.Thread):
    """Writes the folder's flushes in order, on its own connection, while the folder folds the
    next chunk: SQLite and psycopg do their I/O without the GIL, so the two overlap. One flush
    waits at most (queue of one), which bounds memory: what it holds is the one it writes and the
    one waiting (``unwritten``). An error stops the writing; the folder sees it at its next flush."""

    def __init__(self, write: Callable[..., None]):
        super().__init__(name="orghistory-rebuild-writer", daemon=True)
        self.write = write
        self.q: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        # Submitted and not yet written (committed), oldest first: the one being written, and the
        # one waiting. Let go of once written, so a written flush holds no memory here.
        self._unwritten: deque[tuple] = deque()
        self._lock = threading.Lock()
        self.start()

    def run(self) -> None:
        while True:
            item = self.q.get()
            try:
                if item is None:
                    return
                if self.error is None:
                    self.write(*item)
                    with self._lock:
                        self._unwritten.popleft()
            except BaseException as e:  # noqa: BLE001 - handed to the folder's thread
                self.error = e
            finally:
                self.q.task_done()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def submit(self, item: tuple) -> None:
        self._raise()
        with self._lock:
            self._unwritten.append(item)
        self.q.put(item)

    def unwritten(self) -> tuple[tuple, ...]:
        """The items submitted and not yet written, oldest first."""
        with self._lock:
            return tuple(self._unwritten)

    def drain(self) -> None:
        """Wait until everything submitted is written (or failed: then raise it here)."""
        self.q.join()
        self._raise()

    def close(self) -> None:
        if self.is_alive():
            self.q.put(None)
            self.join(60)
