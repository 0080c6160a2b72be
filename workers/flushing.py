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


class Budget:
    """How much memory the fold holds, estimated from what it holds (facts, current rows, kept
    folds) at a cost per item measured on this run: the bytes Python allocated since the start
    (``tracemalloc``, on only until then), over the items held the first time there are enough to
    tell. Not the resident memory: Python keeps what it freed and reuses it, so a second rebuild
    in the same process (the embedded server, a bench) saw no growth, took its items for free
    and never let go (measured: 1.8 GiB held against a 512 MiB budget)."""

    CALIBRATE_AT = 20_000  # items held before the cost per item is measured

    def __init__(self, limit: int):
        self.limit = limit
        self.per_item: float | None = None
        self._tracing = not tracemalloc.is_tracing()  # ours to stop (a test run may trace already)
        if self._tracing:
            tracemalloc.start()
        self.start = tracemalloc.get_traced_memory()[0]

    @staticmethod
    def items(store: MemoryStore) -> int:
        return len(store.facts) + sum(len(r) for r in store.rows.values()) + len(store.derived)

    def spent(self, store: MemoryStore) -> bool:
        n = self.items(store)
        if self.per_item is None:
            if n < self.CALIBRATE_AT:
                return False
            self.per_item = max(64.0, (tracemalloc.get_traced_memory()[0] - self.start) / n)
            self.close()
        # a margin for what is not counted: the allocator's own overhead, the flush in the
        # writer's hands, the page being folded
        return n * self.per_item > 0.7 * self.limit

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
