"""The unfinished folds a process keeps between catch-up batches (``FoldCache``).

A catch-up batch folds into a fresh ``BatchStore``, which knew nothing of the people it had folded
in the batch before: the first fact of each person in a batch re-derived that person from all of
their facts. Under a stream of appends about the same people (a dataset's sync, a busy team) that
was most of the fold's time, and grew with each person's history. The process that folds (the
worker, with its stores kept open, or the embedded service) keeps each person's unfinished fold
here and goes on from it in the next batch, as a rebuild does within its one store.

Kept folds are only right if nothing else wrote the version since this process last did: another
worker's batch, a parked event retried by the service. Every write to a version writes its
tracking row (position and ``updated_at``), so the cache is used only when that row is still what
this process wrote last; otherwise it starts empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .db import Conn

if TYPE_CHECKING:
    from .projector import Derived

# Enough for the people of many batches, small enough to bound a worker's memory (a kept fold is
# one to a few kilobytes, so tens of megabytes at most): past it, the cache starts over.
LIMIT = 20_000

Stamp = tuple[str, int, str]  # the version's tracking key, its position, its updated_at


@dataclass
class FoldCache:
    derived: dict[tuple[str, str], Derived] = field(default_factory=dict)
    stamp: Stamp | None = None  # the tracking row as this process last wrote it

    def folds_for(self, conn: Conn) -> dict[tuple[str, str], Derived]:
        """The kept folds, if the version is as this process left it (read in ``conn``'s write
        transaction, after its tracking row is locked); else an empty cache."""
        row = conn.one("SELECT position, updated_at FROM tracking WHERE name=?", (conn.track,))
        now = (conn.track, int(row["position"]), row["updated_at"]) if row else None
        if now is None or now != self.stamp or len(self.derived) > LIMIT:
            self.derived.clear()
        self.stamp = None  # until this batch's write says otherwise
        return self.derived

    def written(self, conn: Conn, position: int, at: str) -> None:
        """This process wrote the version's tracking row: ``position`` at ``at``. (If the
        transaction then fails, the row keeps its old value and the next batch starts over.)"""
        self.stamp = (conn.track, position, at)
