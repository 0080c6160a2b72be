"""A rebuild's store once past its memory budget (``RebuildStore``), and what its writer thread
may not have written yet (``Unwritten``).

A rebuild past its memory budget lets go of what it holds and reads back from its tables what the
next facts need (``RebuildStore``). The last flushes handed to the writer thread may
not be written then. Waiting for them took 61 s of a 204 s rebuild of the 1M history with a
128 MiB budget (the writer's time for a flush, at each of 57 evictions). Instead the new store
reads them from here, as the store it let go of held them, beside what it reads from the tables.

Both are keyed as the tables are (a fact by its id, a row by its id, a link by its three columns),
so it does not matter whether a write lands before a read or after: the same rows come from both
and are merged by their keys. Only what a read asks for enters the new store, so what it holds
(and its memory budget) starts from nothing, as before; the rest is dropped once written.

A flush that moved links of facts written before it (a correction) is not covered: who such a
fact names is in the tables, not here. The rebuild waits for those (``covers``).
"""

from __future__ import annotations

from typing import Sequence

from .batchstore import BatchStore
from .changes import Changes
from .db import Conn
from .foldspill import FoldSpill
from .rows import ROW_TABLES, FactRow, MergeRow, RowKey, RowTable, UnitRow
from .schema import FOREVER
from .store import MemoryStore


class Unwritten:
    """The flushes of ``carry`` in the writer's hands, indexed by what the read-back looks up."""

    def __init__(self, carry: MemoryStore, flushes: Sequence[Changes], before: Unwritten | None = None) -> None:
        """``before``: what ``carry`` itself read beside the tables, if it still did (it was made
        less than two flushes ago): ``carry`` holds only the facts it read of that, and the older
        of ``flushes`` may still be unwritten. Only ``flushes`` are indexed, so what is held here
        is at most two flushes, however often the rebuild lets go."""
        self.facts: dict[tuple[str, str], FactRow] = {}
        self.person_facts: dict[tuple[str, str], set[str]] = {}  # (org, person) -> ids of new facts
        self.unit_facts: dict[tuple[str, str], set[str]] = {}  # (org, unit) -> ids of new facts
        self.fact_persons: dict[tuple[str, str], set[str]] = {}  # (org, fact) -> its people
        self.rows: dict[RowTable, dict[tuple[str, str], list[tuple[int, RowKey]]]] = {t: {} for t in ROW_TABLES}
        # closed: maybe still current in the tables (a new row a later flush closed, too: the
        # store reads none of these back)
        self.gone: dict[RowTable, set[int]] = {t: set() for t in ROW_TABLES}
        self.units: dict[tuple[str, str], UnitRow | None] = {}  # None: no longer a unit
        self.flushes = tuple(flushes)  # once the writer holds neither, all here is written
        for changes in flushes:  # in the order written: a later flush's word is the last
            self._index(carry, changes, before)

    @staticmethod
    def covers(flushes: Sequence[Changes]) -> bool:
        """Whether reading ``flushes`` from here gives what the tables will hold once written."""
        return not any(c.relinked_people or c.relinked_units for c in flushes)

    def _index(self, carry: MemoryStore, changes: Changes, before: Unwritten | None) -> None:
        # Facts as ``carry`` holds them now, else as ``before`` held them: newer than, or the same
        # as, what the flushes wrote; else a new fact as written.
        for values in changes.facts:
            key = (str(values[0]), str(values[1]))  # (org, id)
            self.facts[key] = self._newest(carry, before, key) or FactRow(values)
        for values in changes.fact_updates:
            key = (str(values[-2]), str(values[-1]))
            row = self._newest(carry, before, key)
            if row is not None:
                self.facts[key] = row
        for org, person, fact in changes.fact_people:
            self.person_facts.setdefault((org, person), set()).add(fact)
            self.fact_persons.setdefault((org, fact), set()).add(person)
        for org, unit, fact in changes.fact_units:
            self.unit_facts.setdefault((org, unit), set()).add(fact)
        for table in ROW_TABLES:
            by_person = self.rows[table]
            for values in changes.rows.get(table.name, ()):  # id, the row's key, recorded_to
                if values[-1] == FOREVER:  # else written closed
                    row_key: RowKey = tuple(values[1:-1])
                    org = str(row_key[-2])  # a row's key ends with its org and recorded_from
                    by_person.setdefault((org, table.person(row_key)), []).append((int(values[0]), row_key))  # type: ignore[arg-type]
            self.gone[table].update(int(i) for _, i in changes.closes.get(table.name, ()))
        written = {(u.org, u.slug): u for u in changes.units}
        for unit_key in changes.unit_deletes:  # the units changed, as written (None: no longer one)
            self.units[unit_key] = written.get(unit_key)

    @staticmethod
    def _newest(carry: MemoryStore, before: Unwritten | None, key: tuple[str, str]) -> FactRow | None:
        row = carry.facts.get(key)
        if row is None and before is not None:
            row = before.facts.get(key)
        return row


class RebuildStore(BatchStore):
    """A rebuild's store once its memory budget is spent: what it flushed is read back as needed.
    A rebuild folds each event once, so none of the rows it writes can be there already (a
    corrected fact's links, which can, are always written as maybe there)."""

    ignore_conflicts: frozenset[str] = frozenset()

    def __init__(self, conn: Conn, carry: MemoryStore | None = None, spill: FoldSpill | None = None,
                 unwritten: Unwritten | None = None) -> None:
        """``spill``: where the rebuild wrote the folds it let go of (``foldspill``): a person met
        again goes on from their fold instead of being re-derived from all their facts.
        ``unwritten``: what the writer thread may not have written yet, read beside the tables."""
        super().__init__(conn, carry)
        self.spill = spill
        self.unwritten = unwritten
        if unwritten is not None:
            for table in ROW_TABLES:
                self._gone[table].update(unwritten.gone[table])

    def _recall(self, org: str, people: set[str]) -> None:
        if self.spill is not None:
            # What this store holds is newer than what was written aside of the same person.
            self.derived.update(self.spill.recall(org, sorted(p for p in people if (org, p) not in self.derived)))

    def take(self) -> Changes:
        # it takes every few thousand events and goes on folding: see ``_gone``
        for table in ROW_TABLES:
            self._gone[table].update(self.closed[table])
        return super().take()

    def set_merge(self, row: MergeRow | None, person: str) -> None:
        super().set_merge(row, person)
        if self.spill is not None:
            self.spill.clear()  # who is whom changed: no fold written aside can be trusted either
