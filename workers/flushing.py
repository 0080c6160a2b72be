"""A rebuild's memory and its writes: the budget that tells the fold when to let go of what it
holds (``Budget``), and the thread that writes one flush while the fold goes on (``Writer``)."""

from __future__ import annotations

import os
import queue
import threading
import tracemalloc
from typing import Callable

from projections.store import MemoryStore


def memory_budget() -> int:
    """Bytes a rebuild's fold may hold (``ORGHISTORY_REBUILD_MEMORY_MB``, default 512)."""
    return max(16, int(os.environ.get("ORGHISTORY_REBUILD_MEMORY_MB") or 512)) << 20


def resident() -> int:
    """This process's resident memory in bytes (Linux), or 0 where it cannot be read."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class Budget:
    """How much memory the fold holds, estimated from what it holds (facts, current rows, kept
    folds): a fixed part and a cost per item, measured on this run between two points (20,000
    and 40,000 items held) as the larger of two growths, the bytes Python allocated
    (``tracemalloc``, on only until then) and the resident memory.

    Until then, the fold has spent its budget when either growth passes it. Either alone reads low. Python keeps what it freed and reuses it, so in a process that ran a
    rebuild before (the embedded server, a bench) the resident memory hardly grew: items looked
    free and the fold never let go (measured: 1.8 GiB held against a 512 MiB budget). And what
    Python allocated leaves out the allocator's own overhead: a rebuild of 200,000 events that
    calibrated on it alone added 554 MiB of resident memory against its 512 MiB. Measuring the
    cost per item between two points keeps what the fold allocates once (caches, buffers) out of
    it, so the budget is not spent long before it is used."""

    CALIBRATE_AT = 20_000  # items held at the first point; the second is twice as many

    def __init__(self, limit: int):
        self.limit = limit
        self.per_item: float | None = None
        self.fixed = 0.0
        self._first: tuple[int, int, int] | None = None  # items, allocated, resident growth
        self._tracing = not tracemalloc.is_tracing()  # ours to stop (a test run may trace already)
        if self._tracing:
            tracemalloc.start()
        self.start = tracemalloc.get_traced_memory()[0]
        self.resident = resident()

    @staticmethod
    def items(store: MemoryStore) -> int:
        return len(store.facts) + sum(len(r) for r in store.rows.values()) + len(store.derived)

    def _grown(self) -> tuple[int, int]:
        return (tracemalloc.get_traced_memory()[0] - self.start,
                resident() - self.resident if self.resident else 0)

    def spent(self, store: MemoryStore) -> bool:
        n = self.items(store)
        if self.per_item is None:
            allocated, grown = self._grown()
            if max(allocated, grown) > 0.7 * self.limit:
                # Spent before the cost per item was measured (a small budget): it is this much.
                self.per_item, self.fixed = max(64.0, allocated / max(n, 1), grown / max(n, 1)), 0.0
                self.close()
                return True
            if n < (self.CALIBRATE_AT if self._first is None else self._first[0] + self.CALIBRATE_AT):
                return False
            if self._first is None:
                self._first = (n, allocated, grown)
                return False
            n1, allocated1, grown1 = self._first
            self.per_item = max(64.0, (allocated - allocated1) / (n - n1), (grown - grown1) / (n - n1))
            self.fixed = max(0.0, allocated - n * self.per_item, grown - n * self.per_item)
            self.close()
        # a margin for what is not counted: the flush in the writer's hands, the page being folded
        return self.fixed + n * self.per_item > 0.7 * self.limit

    def close(self) -> None:
        if self._tracing:
            tracemalloc.stop()
            self._tracing = False


class Writer(threading.Thread):
    """Writes the folder's flushes in order, on its own connection, while the folder folds the
    next chunk: SQLite and psycopg do their I/O without the GIL, so the two overlap. One flush
    waits at most (queue of one), which bounds memory. An error stops the writing; the folder
    sees it at its next flush."""

    def __init__(self, write: Callable[..., None]):
        super().__init__(name="orghistory-rebuild-writer", daemon=True)
        self.write = write
        self.q: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        while True:
            item = self.q.get()
            try:
                if item is None:
                    return
                if self.error is None:
                    self.write(*item)
            except BaseException as e:  # noqa: BLE001 - handed to the folder's thread
                self.error = e
            finally:
                self.q.task_done()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def submit(self, item: tuple) -> None:
        self._raise()
        self.q.put(item)

    def drain(self) -> None:
        """Wait until everything submitted is written (or failed: then raise it here)."""
        self.q.join()
        self._raise()

    def close(self) -> None:
        if self.is_alive():
            self.q.put(None)
            self.join(60)
