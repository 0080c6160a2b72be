"""The unfinished folds a process keeps between catch-up batches (``FoldCache``).

A catch-up batch folds into a fresh ``BatchStore``, which knew nothing of the people it had folded
in the batch before: the first fact of each person in a batch re-derived that person from all of
their facts. Under a stream of appends about the same people (a dataset's sync, a busy team) that
was most of the fold's time, and grew with each person's history. The process that folds (the
worker, with its stores kept open, or the embedded service) keeps each person's unfinished fold
here and goes on from it in the next batch, as a rebuild does within its one store.

Kept folds are only right for people nothing else has changed since this process last wrote the
version. Every write to a version writes its tracking row (position and ``updated_at``), so a
batch finds the row as this process left it, or learns that another process wrote since:

- another worker folded the events after our position (workers take turns at the catch-up): the
  kept folds go on through those events (``forward``), as the other worker's fold went on from
  its own, without writing anything (it wrote their rows). A fold that cannot go on (the fact
  sorts before what it has folded, or names a unit it does not know) is dropped. If any of those
  events could change people it does not name (a correction, a unit formed or dissolved, a
  merge), or was parked, or there are too many to read, every fold is dropped;
- a parked event was retried (folded out of its place, the position unchanged): every fold is
  dropped. Retries are counted in ``parked``, so this does not depend on anyone's clock.
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Sequence

from events.recorded import Kind, RecordedEvent
from events.vocabulary import fact_type

from .db import Conn
from .fold import FactView, SortKey, _Person


@dataclass(slots=True)
class Derived:
    """A person's fold as a store keeps it between facts: unfinished, so the next fact can go on
    from it."""

    state: _Person
    last: SortKey | None  # the greatest sort key folded in
    units: set[str]

    def follows(self, key: SortKey) -> bool:
        """Whether a fact of sort key ``key`` comes after everything folded in: only then does
        folding it onto this fold give what a full re-derivation would."""
        return self.last is None or key > self.last

    def take(self, view: FactView, key: SortKey) -> None:
        """Fold ``view`` (sort key ``key``, which ``follows``) in."""
        self.state.apply(view)
        self.last = key

    def dump(self) -> bytes:
        """This fold, at rest, as bytes for ``load`` in this same process. (``marshal``: plain
        values only, and several times faster than pickling the objects, both ways.)"""
        last = None if self.last is None else (self.last[0].toordinal(), self.last[1].toordinal(), self.last[2])
        return marshal.dumps((self.state.dump(), last, sorted(self.units)))

    @classmethod
    def load(cls, blob: bytes) -> Derived:
        state, last, units = marshal.loads(blob)
        key = None if last is None else (date.fromordinal(last[0]), date.fromordinal(last[1]), last[2])
        return cls(_Person.load(state), key, set(units))


# Enough for the people of many batches, small enough to bound a worker's memory (a kept fold is
# one to a few kilobytes, so tens of megabytes at most): past it, the cache starts over.
LIMIT = 20_000
# Past this many events folded by others, reading them to see whom they name costs more than
# the folds kept would save.
MOST_TO_READ = 5_000

Stamp = tuple[str, int, str, int]  # the version's tracking key, its position, its updated_at, retries
# The events after one position up to another (inclusive), from the log.
Reader = Callable[[int, int], Sequence[RecordedEvent]]
# Events that change no one's tenures: registrations, renames, identifiers, imports, bookkeeping.
_NO_FOLD = frozenset({Kind.ORG_REGISTERED, Kind.PERSON_REGISTERED, Kind.PERSON_RENAMED, Kind.PERSON_IDENTIFIED,
                      Kind.IMPORTED, Kind.SUBSCRIPTION_CREATED, Kind.SUBSCRIPTION_CHANGED, Kind.INTERNAL})

PARKED_BETWEEN = "SELECT count(*) FROM parked WHERE name=? AND position > ? AND position <= ?"
STAMP = ("SELECT t.position, t.updated_at, (SELECT count(*) FROM parked p WHERE p.name=t.name "
         "AND p.resolution='retried') AS retries FROM tracking t WHERE t.name=?")


def forward(derived: dict[tuple[str, str], Derived], events: Sequence[RecordedEvent]) -> bool:
    """Take the kept folds on through ``events`` (in position order), folded and written by
    another process. False: one of them may change people it does not name; drop every fold."""
    for e in events:
        org = e.org
        spec = fact_type(e.type) if org is not None else None
        if spec is None or org is None:
            if e.type not in _NO_FOLD:
                return False  # a merge, or a kind this list does not know: assume the worst
            continue
        if spec.amends is not None or spec.unit_edge is not None:
            return False
        people = spec.people_in(e.fields)
        if not people:
            continue
        view = FactView(e.id or "", e.position, e.type, e.fields, e.fields.get("confidence") or "reported")
        key, units = view.sort_key(), spec.units_in(e.fields)
        for person in people:
            hit = derived.get((org, person))
            if hit is None:
                continue
            # As ``Projector._extend``: only a fact after everything folded, in units already known.
            if not hit.follows(key) or not units <= hit.units:
                del derived[(org, person)]
                continue
            hit.take(view, key)
            hit.state.rows, hit.state.dirty = [], set()  # the other process stored them
    return True


@dataclass
class FoldCache:
    derived: dict[tuple[str, str], Derived] = field(default_factory=dict)
    stamp: Stamp | None = None  # the tracking row as this process last wrote it
    retries: int = 0  # parked events retried, as this batch found them (its lock on tracking holds them)

    def folds_for(self, conn: Conn, since: Reader | None = None) -> dict[tuple[str, str], Derived]:
        """The kept folds still right for the version as it is now (read in ``conn``'s write
        transaction, after its tracking row is locked). ``since`` reads the events another
        process folded since this one wrote, for the kept folds to go on through (``forward``);
        without it, any other write drops them all."""
        row = conn.one(STAMP, (conn.track,))
        now = (conn.track, int(row["position"]), row["updated_at"], int(row["retries"])) if row else None
        was, self.stamp = self.stamp, None  # until this batch's write says otherwise
        self.retries = now[3] if now else 0
        if now == was and len(self.derived) <= LIMIT:
            return self.derived
        if not (now is not None and was is not None and since is not None and now[0] == was[0]
                and now[3] == was[3] and was[1] < now[1] <= was[1] + MOST_TO_READ and len(self.derived) <= LIMIT
                and not conn.scalar(PARKED_BETWEEN, (conn.track, was[1], now[1]))
                and forward(self.derived, since(was[1], now[1]))):
            self.derived.clear()
        return self.derived

    def written(self, conn: Conn, position: int, at: str) -> None:
        """This process wrote the version's tracking row: ``position`` at ``at``. (If the
        transaction then fails, the row keeps its old value and the next batch starts over.)"""
        self.stamp = (conn.track, position, at, self.retries)
