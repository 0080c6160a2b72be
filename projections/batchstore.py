"""The incremental catch-up's store: the rebuild's in-memory fold, read through from the tables.

A catch-up batch folds a few hundred events. ``BatchStore`` is a ``MemoryStore`` that starts
empty and loads, on first use, only what the batch needs from the version's tables: the facts and
current rows of the people it touches, the units it names, the facts a correction targets. It
loads the people and units a batch names up front (``prefetch``: a handful of queries for the
whole batch), and anything else the fold asks for on demand. At the end, ``take().write`` writes
every change in bulk in the caller's transaction, with the tracked position, so exactly-once holds
as before: one engine for catch-up and rebuild, and a few statements per batch instead of a dozen
per event.

Rows this store did not load may already be in the tables (a fact, a person, a name registered
twice, a fact's link to a person or unit whose facts were not loaded): its inserts of those ignore
conflicts, as the tables' keys say which row is the same. A person's facts, once loaded, join the
links made before.
"""

from __future__ import annotations

import json
from itertools import chain
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from events.recorded import RecordedEvent
from events.vocabulary import TYPES, fact_type, is_unit_edge, people_of, units_of

from .changes import tracked
from .db import Conn
from .rows import (
    ALL_FACT_COLUMNS,
    MERGE_COLUMNS,
    ROW_TABLES,
    SUB_COLUMNS,
    UNIT_COLUMNS,
    Cell,
    FactRow,
    MergeRow,
    RowKey,
    RowTable,
    Seat,
    SubscriptionRow,
    UnitRow,
)
from .schema import FOREVER
from .store import MemoryStore

if TYPE_CHECKING:
    from .readback import Unwritten

UNIT_EDGES = tuple(t.name for t in TYPES.values() if t.unit_edge)  # the facts that form or dissolve a unit
_FACT_COLUMNS = ", ".join("f." + c for c in ALL_FACT_COLUMNS)  # a facts row, read through a join as ``f``
_CHUNK = 500  # keys per IN (...) list: well under SQLite's limit of bound parameters


def _chunks(keys: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(keys), _CHUNK):
        yield keys[i:i + _CHUNK]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class BatchStore(MemoryStore):
    """A ``MemoryStore`` over one write transaction of ``conn``: reads what it lacks from the
    tables, and its changes go back with ``take().write(conn, now)``."""

    # Registrations it did not load may be in the tables already (a person registered twice).
    # Facts are not: each event is folded once, and a new fact's links are as new as it is
    # (``MemoryStore.link``); links of older facts are always written as maybe there already.
    ignore_conflicts = frozenset({"orgs", "people", "names", "identifiers", "imports", "subscriptions"})
    # A person's rows still open in valid time are loaded without the rest where only those can
    # change (a fold that goes on: ``Projector._extend``); the rest when a re-derivation asks.

    def __init__(self, conn: Conn, carry: MemoryStore | None = None) -> None:
        """``carry``: the store this one takes over from, everything it held written to the
        tables (a rebuild over its memory budget): its position, row ids, merges and
        subscriptions go on; the rest is read back as needed."""
        super().__init__()
        self.c = conn
        self._people_loaded: set[tuple[str, str]] = set()
        self._units_loaded: set[tuple[str, str]] = set()
        self._unit_info_loaded: set[tuple[str, str]] = set()
        self._rows_loaded: set[tuple[str, str, str]] = set()  # every current row of (table, org, person)
        self._open_loaded: set[tuple[str, str, str]] = set()  # only those still open in valid time
        # Rows this store closed and handed on to be written (``take`` forgets them): a later load
        # of the rest of their person's rows may run before they are written, and must not bring
        # them back as current. (A catch-up batch takes its changes once, at its end.)
        self._gone: dict[RowTable, set[int]] = {t: set() for t in ROW_TABLES}
        self.unwritten: Unwritten | None = None  # a rebuild's flushes maybe not written yet
        self._subs_loaded = self._ids_loaded = carry is not None
        if carry is not None:
            self.pos, self.last = carry.pos, carry.last
            self.next_id, self.subs = dict(carry.next_id), carry.subs
            for person, row in carry.merges.items():
                self._hold_merge(person, row)
            self.orgs = carry.orgs
            return
        self.pos, self.last = tracked(conn, lock=True)
        # Merges are few and every re-derivation asks who is whom: read them once.
        for r in conn.execute(f"SELECT {', '.join(MERGE_COLUMNS)} FROM merges").fetchall():
            self._hold_merge(r[0], MergeRow(*r))

    # -- loading ------------------------------------------------------------------------------

    def _recall(self, org: str, people: set[str]) -> None:
        """Take up the folds of ``people`` that were written aside (a rebuild's ``RebuildStore``)."""

    def prefetch(self, events: Sequence[RecordedEvent]) -> None:
        """Load, in a few queries, the people and units the batch's facts name."""
        people: dict[str, set[str]] = {}
        units: dict[str, set[str]] = {}
        targets: dict[str, list[str]] = {}
        edges: dict[str, set[str]] = {}
        for e in events:
            org = e.org
            if org is None:
                continue
            spec = fact_type(e.type)
            if spec is None:
                continue
            if spec.unit_edge:
                edges.setdefault(org, set()).add(e.fields["unit"])
            if spec.amends:
                targets.setdefault(org, []).append(e.fields["target"])
            people.setdefault(org, set()).update(spec.people_in(e.fields))
            units.setdefault(org, set()).update(spec.units_in(e.fields))
        for org, ids in targets.items():  # a correction re-derives the people of the fact it corrects
            self._load_facts(org, ids)
            for i in ids:
                row = self.facts.get((org, i))
                if row is not None:
                    fields = json.loads(row.payload)
                    people.setdefault(org, set()).update(people_of(fields))
                    units.setdefault(org, set()).update(units_of(fields))
                    if is_unit_edge(row.type):
                        edges.setdefault(org, set()).add(fields["unit"])
        for org, names in edges.items():  # a unit formed or dissolved re-derives everyone in it
            self._load_units(org, sorted(names))
            # ... from all their facts and rows: load those in bulk now. Asked for one by one as
            # each is re-derived, a dissolution cost a query per member and table (a rebuild
            # reading back, on a history of 5,000 teams, spent its time in those).
            members = sorted({p for u in names for p in self.unit_people(org, u)})
            self._load_people(org, members)
            for table in ROW_TABLES:
                self._load_rows(table, org, members)
        for org, names in people.items():
            self._recall(org, names)
            # A person whose fold is kept goes on from it (``Projector._extend``): only the rows
            # still open can change, and their facts are read only if the fold cannot go on.
            # Loading every fact and row of each person, every batch, was most of the catch-up's
            # time, and grew with their history.
            kept = {p for p in names if (org, p) in self.derived}
            rest = sorted(names - kept)
            self._load_people(org, rest)
            for table in ROW_TABLES:
                self._load_rows(table, org, rest)
                self._load_rows(table, org, sorted(kept), open_only=True)
        for org, names in units.items():
            self._load_unit_info(org, sorted(names))

    def _adopt(self, r: Sequence[Cell]) -> FactRow:
        """A facts row read from the tables, unless this store holds it already (maybe changed),
        or the writer has a newer one to write (``unwritten``: a correction, a retraction)."""
        row = FactRow(r)
        row.position = int(row.position)
        if self.unwritten is not None:
            row = self.unwritten.facts.get((row.org, row.id), row)
        return self._adopt_unwritten(row)  # which keeps what this store holds, if it does

    def _adopt_unwritten(self, row: FactRow) -> FactRow:
        """A fact written, or about to be (``unwritten``: its write lands before any of this
        store's), unless this store holds it already: its changes from here on are updates."""
        key = (row.org, row.id)
        kept = self.facts.get(key)
        if kept is not None:
            return kept
        self.facts[key] = row
        self._flushed_facts.add(key)
        return row

    def _load_people(self, org: str, people: Sequence[str]) -> None:
        todo = [p for p in people if (org, p) not in self._people_loaded]
        for part in _chunks(todo):  # (asked for on every fact, mostly for people loaded already)
            for r in self.c.execute(
                    f"SELECT p.person, {_FACT_COLUMNS} FROM fact_people p JOIN facts f ON f.org=p.org AND f.id=p.fact "
                    f"WHERE p.org=? AND p.person IN ({_marks(len(part))})", (org, *part)).fetchall():
                row = self._adopt(r[1:])
                self.fact_people.setdefault((org, r[0]), set()).add(row.id)
            if self.unwritten is not None:
                for p in part:
                    for fact in self.unwritten.person_facts.get((org, p), ()):
                        self._adopt_unwritten(self.unwritten.facts[(org, fact)])
                        self.fact_people.setdefault((org, p), set()).add(fact)
            self._people_loaded.update((org, p) for p in part)

    def _load_rows(self, table: RowTable, org: str, people: Sequence[str], open_only: bool = False) -> None:
        """The current rows of ``people``, or (``open_only``) only those still open in valid time."""
        # (asked on every fact, nearly always of people loaded already: kept cheap)
        full, opened, name = self._rows_loaded, self._open_loaded, table.name
        todo = [p for p in people if (k := (name, org, p)) not in full and not (open_only and k in opened)]
        if not todo:
            return
        rows, closed, gone = self.rows[table], self.closed[table], self._gone[table]
        for part in _chunks(todo):
            for r in self.c.execute(
                    f"SELECT id, {', '.join(table.columns)}, org, recorded_from FROM {table.name} "
                    f"WHERE org=? AND person IN ({_marks(len(part))}) AND recorded_to=?"
                    + (" AND end_event IS NULL" if open_only else ""),
                    (org, *part, FOREVER)).fetchall():
                i, key = int(r[0]), tuple(r[1:])
                if i in rows or i in closed or i in gone:
                    continue  # loaded before as an open row, and maybe closed since: ours is the truth
                rows[i] = key
                self._keep(table, i, key, org)  # the rows read are org's (WHERE org=?)
            if self.unwritten is not None:
                held = self.unwritten.rows[table]
                for i, key in (x for p in part for x in held.get((org, p), ())):
                    if i not in rows and i not in closed and i not in gone and \
                            not (open_only and key[table.end_event_at] is not None):
                        rows[i] = key
                        self._keep(table, i, key, org)
            (self._open_loaded if open_only else self._rows_loaded).update((table.name, org, p) for p in part)

    def _load_units(self, org: str, units: Sequence[str]) -> None:
        """Which facts name each unit, who each of them names, and the units' formation and
        dissolution facts (``unit_edges``)."""
        todo = [u for u in units if (org, u) not in self._units_loaded]
        for part in _chunks(todo):
            for u in part:
                self.fact_units.setdefault((org, u), set())
            for unit, fact, person in self.c.execute(
                    "SELECT u.unit, u.fact, p.person FROM fact_units u "
                    "LEFT JOIN fact_people p ON p.org=u.org AND p.fact=u.fact "
                    f"WHERE u.org=? AND u.unit IN ({_marks(len(part))})", (org, *part)).fetchall():
                self.fact_units[(org, unit)].add(fact)
                if person is not None:
                    self._add_person_of((org, fact), person)
            for r in self.c.execute(
                    f"SELECT {_FACT_COLUMNS} FROM fact_units u JOIN facts f ON f.org=u.org AND f.id=u.fact "
                    f"WHERE u.org=? AND u.unit IN ({_marks(len(part))}) AND f.type IN ({_marks(len(UNIT_EDGES))})",
                    (org, *part, *UNIT_EDGES)).fetchall():
                self._adopt(r)
            if self.unwritten is not None:
                for u in part:
                    for fact in self.unwritten.unit_facts.get((org, u), ()):
                        self.fact_units[(org, u)].add(fact)
                        for person in self.unwritten.fact_persons.get((org, fact), ()):
                            self._add_person_of((org, fact), person)
                        row = self.unwritten.facts.get((org, fact))
                        if row is not None and is_unit_edge(row.type):
                            self._adopt_unwritten(row)
            self._units_loaded.update((org, u) for u in part)

    def _load_unit_info(self, org: str, units: Sequence[str]) -> None:
        todo = [u for u in units if (org, u) not in self._unit_info_loaded]
        if self.unwritten is not None:  # a unit changed there is as it holds it (None: none)
            changed = self.unwritten.units
            for u in todo:
                unit = changed.get((org, u))
                if unit is not None:
                    self.units.setdefault((org, u), unit)
            self._unit_info_loaded.update((org, u) for u in todo if (org, u) in changed)
            todo = [u for u in todo if (org, u) not in changed]
        for r in self._select_in(UNIT_COLUMNS, "units", "slug", org, todo):
            self.units.setdefault((r[0], r[1]), UnitRow(*r))
        self._unit_info_loaded.update((org, u) for u in todo)

    def _load_facts(self, org: str, ids: Sequence[str]) -> None:
        if self.unwritten is not None:
            for row in [self.unwritten.facts.get((org, i)) for i in ids]:
                if row is not None:
                    self._adopt_unwritten(row)
        for r in self._select_in(ALL_FACT_COLUMNS, "facts", "id", org, [i for i in ids if (org, i) not in self.facts]):
            self._adopt(r)

    def _select_in(self, columns: Sequence[str], table: str, key: str, org: str,
                   keys: Sequence[str]) -> Iterator[Any]:
        """The ``columns`` of ``table``'s rows in ``org`` whose ``key`` is one of ``keys``, read a
        chunk of keys at a time."""
        for part in _chunks(keys):
            yield from self.c.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE org=? AND {key} IN "
                                      f"({_marks(len(part))})", (org, *part)).fetchall()

    def _load_subs(self) -> None:
        if not self._subs_loaded:
            self._subs_loaded = True
            for r in self.c.execute(f"SELECT {', '.join(SUB_COLUMNS)} FROM subscriptions").fetchall():
                self.subs.setdefault(r[1], SubscriptionRow(*r))

    def _load_ids(self) -> None:
        if not self._ids_loaded:
            self._ids_loaded = True
            for table in ROW_TABLES:
                self.next_id[table] = int(self.c.scalar(f"SELECT COALESCE(MAX(id), 0) FROM {table.name}")) + 1

    # -- the MemoryStore interface, read through ----------------------------------------------

    def person_orgs(self, person: str) -> set[str]:
        # what the tables hold, and the links folded since (this store knows only some organizations)
        held = chain(self.fact_people, self.unwritten.person_facts if self.unwritten is not None else ())
        return {r["org"] for r in self.c.all("SELECT DISTINCT org FROM fact_people WHERE person=?", (person,))} | \
            {org for (org, p) in held if p == person}

    def add_subscription(self, row: SubscriptionRow) -> None:
        self._load_subs()
        super().add_subscription(row)

    def change_subscription(self, aggregate_id: str, status: str | None, position: int, action: str,
                            from_position: int | None) -> None:
        self._load_subs()
        super().change_subscription(aggregate_id, status, position, action, from_position)

    def fact(self, org: str, fact_id: str) -> FactRow | None:
        if (org, fact_id) not in self.facts:
            self._load_facts(org, [fact_id])
        return self.facts.get((org, fact_id))

    def retract(self, org: str, fact_id: str, by: str, at: str) -> None:
        self.fact(org, fact_id)
        super().retract(org, fact_id, by, at)

    def correct(self, org: str, fact_id: str, payload: str, corrections: str, effective: str | None,
                eff_lo: str, eff_hi: str, confidence: str) -> None:
        self.fact(org, fact_id)
        super().correct(org, fact_id, payload, corrections, effective, eff_lo, eff_hi, confidence)

    def person_facts(self, org: str, person: str) -> list[FactRow]:
        self._load_people(org, [person])
        return super().person_facts(org, person)

    def facts_by_ids(self, org: str, ids: Sequence[str]) -> list[FactRow]:
        self._load_facts(org, ids)
        return super().facts_by_ids(org, ids)

    def fact_count(self, org: str, person: str) -> int:
        self._load_people(org, [person])
        return super().fact_count(org, person)

    def unit_people(self, org: str, unit: str) -> set[str]:
        self._load_units(org, [unit])
        return super().unit_people(org, unit)

    def unit_edges(self, org: str, unit: str) -> list[FactRow]:
        # Every edge fact of the unit is loaded (``_load_units``) or new in this batch; the unit's
        # other facts need not be, and are not edges.
        self._load_units(org, [unit])
        edges = [r for r in (self.facts.get((org, i)) for i in self.fact_units.get((org, unit), ())) if r is not None]
        return sorted((r for r in edges if is_unit_edge(r["type"]) and r["retracted_by"] is None),
                      key=lambda r: r["position"])

    def units_info(self, org: str, units: Sequence[str]) -> list[UnitRow]:
        self._load_unit_info(org, units)
        return super().units_info(org, units)

    def set_unit(self, org: str, unit: str, row: UnitRow | None) -> None:
        self._unit_info_loaded.add((org, unit))
        super().set_unit(org, unit, row)

    def current_rows(self, table: RowTable, org: str, person: str) -> list[tuple[int, RowKey]]:
        self._load_rows(table, org, [person])
        return super().current_rows(table, org, person)

    def open_rows(self, table: RowTable, org: str, person: str, seats: Iterable[Seat]) -> list[tuple[int, RowKey]]:
        self._load_rows(table, org, [person], open_only=True)
        return super().open_rows(table, org, person, seats)

    def add_rows(self, table: RowTable, org: str, keys: list[RowKey], recorded: str) -> None:
        self._load_ids()
        self._load_rows(table, org, sorted({table.person(k) for k in keys}), open_only=True)
        super().add_rows(table, org, keys, recorded)
