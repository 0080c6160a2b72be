"""Where the projector keeps its working state: in memory, written back in bulk.

``MemoryStore`` holds a version's state in dicts and writes what changed in bulk (COPY on
PostgreSQL) when its changes are taken: the rebuild holds the whole version in one. The
incremental catch-up uses ``BatchStore`` (``batchstore.py``), the same store read through from the
tables for one batch. The projector's logic is the same for both, so a rebuilt version equals an
incrementally folded one (``verify`` checks exactly that). Both are ``rows.ProjectionState``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

from events.jsontypes import JSONObject
from events.vocabulary import is_unit_edge

from .changes import Changes
from .db import Conn
from .fold import OPEN_END
from .rows import (
    FACT_UPDATE_COLUMNS,
    ROW_TABLES,
    FactRow,
    FactValues,
    IdentifierRow,
    ImportRow,
    MergeRow,
    NameRow,
    OrgRow,
    PersonRow,
    RowKey,
    RowTable,
    Seat,
    SubscriptionRow,
    UnitRow,
)
from .schema import FOREVER, span_years

if TYPE_CHECKING:
    from .foldcache import Derived


# A ``spans`` row (``SPAN_COLUMNS``).
Span = tuple[str, str, str, int, str, str, int]
# Where a current row still open in valid time is indexed: (org, person) + its seat.
OpenSeat = tuple[str, str, str | None, str, str]


def _spans(table: RowTable, org: str, closed: Iterable[tuple[RowKey, int]]) -> list[Span]:
    """The ``spans`` rows (one per year a closed row's valid time touches) of newly added rows."""
    start_lo, end_hi = table.start_lo_at, table.end_hi_at
    out: list[Span] = []
    for key, row_id in closed:
        # The unit and the valid-time bounds are text columns read by their run-time positions
        # (``RowTable``): not cast, as this runs for every closed row a rebuild adds.
        unit: str = key[0] if table.has_unit else ""  # type: ignore[assignment]
        lo: str = key[start_lo]  # type: ignore[assignment]
        hi: str = key[end_hi]  # type: ignore[assignment]
        out += [(table.name, org, unit, year, hi, lo, row_id) for year in span_years(lo, hi)]
    return out


class MemoryStore:
    """The projector's state in dicts; ``flush`` writes what changed since the last flush, and the
    position reached, in one transaction. (An interrupted rebuild resumes with a ``RebuildStore``,
    which reads back what it flushed as needed.)"""

    # Tables whose rows this store may write again (it did not load all of them: ``BatchStore``);
    # none here, as this store holds every row of the version.
    ignore_conflicts: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.pos, self.last = 0, ""
        self.orgs: dict[str, OrgRow] = {}
        self.people: set[str] = set()
        self.subs: dict[str, SubscriptionRow] = {}  # by aggregate_id
        self.facts: dict[tuple[str, str], FactRow] = {}
        self.fact_people: dict[tuple[str, str], set[str]] = {}  # (org, person) -> fact ids
        self.fact_units: dict[tuple[str, str], set[str]] = {}  # (org, unit) -> fact ids
        # (org, fact) -> its people: a tuple (mostly of one), not a set, as there is one per fact
        self.fact_persons: dict[tuple[str, str], tuple[str, ...]] = {}
        self.units: dict[tuple[str, str], UnitRow] = {}
        self.rows: dict[RowTable, dict[int, RowKey]] = {t: {} for t in ROW_TABLES}  # id -> key + (org, from)
        # Current rows (record time) by (org, person), and those still open in valid time by
        # (org, person) + seat; dicts as ordered sets of row ids.
        self.current: dict[RowTable, dict[tuple[str, str], dict[int, None]]] = {t: {} for t in ROW_TABLES}
        self.open_seats: dict[RowTable, dict[OpenSeat, dict[int, None]]] = {t: {} for t in ROW_TABLES}
        self.next_id: dict[RowTable, int] = {t: 1 for t in ROW_TABLES}
        self._flushed_facts: set[tuple[str, str]] = set()  # facts already in the tables (updates, not inserts)
        self.derived: dict[tuple[str, str], Derived] = {}  # (org, person) -> the projector's unfinished fold
        self.merges: dict[str, MergeRow] = {}  # by person (``_hold_merge`` keeps both)
        self.merged_by: dict[str, set[str]] = {}  # by the person merged into
        self.identifiers: set[tuple[str, str]] = set()
        self.imports: set[tuple[str, str]] = set()
        self._reset_changes()

    def _reset_changes(self) -> None:
        self.new_orgs: list[OrgRow] = []
        self.new_people: list[PersonRow] = []
        self.new_subs: set[str] = set()
        self.changed_subs: set[str] = set()
        self.new_facts: list[tuple[str, str]] = []
        self.changed_facts: set[tuple[str, str]] = set()
        self.new_fact_people: list[tuple[str, str, str]] = []  # org, person, fact
        self.new_fact_units: list[tuple[str, str, str]] = []  # org, unit, fact
        # Links of facts already in the tables (a correction moved one to other people or units):
        # a store that did not load every link may add one the tables hold.
        self.relinked_people: list[tuple[str, str, str]] = []
        self.relinked_units: list[tuple[str, str, str]] = []
        self.changed_units: set[tuple[str, str]] = set()
        self.new_rows: dict[RowTable, list[int]] = {t: [] for t in ROW_TABLES}
        self.closed: dict[RowTable, dict[int, str]] = {t: {} for t in ROW_TABLES}  # id -> recorded_to
        self.new_spans: list[Span] = []
        self.new_names: list[NameRow] = []
        self.renamed: dict[str, str] = {}  # person -> current name, for people flushed before
        self.new_identifiers: list[IdentifierRow] = []
        self.new_imports: list[ImportRow] = []
        self.changed_merges: set[str] = set()

    # position
    def position(self, lock: bool = False) -> tuple[int, str]:
        return self.pos, self.last

    def set_position(self, position: int, recorded: str) -> None:
        self.pos, self.last = position, recorded

    # registrations and subscriptions
    def add_org(self, row: OrgRow) -> None:
        if row.slug not in self.orgs:
            self.orgs[row.slug] = row
            self.new_orgs.append(row)

    def add_person(self, row: PersonRow) -> None:
        if row.slug not in self.people:
            self.people.add(row.slug)
            self.new_people.append(row)

    # names, identifiers, merges, imports
    def add_name(self, row: NameRow) -> None:
        self.new_names.append(row)

    def set_person_name(self, person: str, name: str) -> None:
        pending = next((i for i, p in enumerate(self.new_people) if p.slug == person), None)
        if pending is not None:  # not flushed yet: write it with its new name
            self.new_people[pending] = self.new_people[pending]._replace(name=name)
        else:
            self.renamed[person] = name

    def add_identifier(self, row: IdentifierRow) -> None:
        if (row.scheme, row.value) not in self.identifiers:
            self.identifiers.add((row.scheme, row.value))
            self.new_identifiers.append(row)

    def add_import(self, row: ImportRow) -> None:
        if (row.org, row.id) not in self.imports:
            self.imports.add((row.org, row.id))
            self.new_imports.append(row)

    def set_merge(self, row: MergeRow | None, person: str) -> None:
        self._hold_merge(person, row)
        self.changed_merges.add(person)
        self.derived.clear()  # who is whom changed: no kept fold can be trusted (merges are rare)

    def _hold_merge(self, person: str, row: MergeRow | None) -> None:
        """Hold ``person``'s merge (None: none), indexed both ways: every re-derivation asks who
        was merged into its person, and scanning every merge for it made each fact's cost grow
        with the merges a dataset holds."""
        old = self.merges.pop(person, None)
        if old is not None:
            aliases = self.merged_by[old.into_person]
            aliases.discard(person)
            if not aliases:
                del self.merged_by[old.into_person]
        if row is not None:
            self.merges[person] = row
            self.merged_by.setdefault(row.into_person, set()).add(person)

    def merged_into(self, person: str) -> str | None:
        m = self.merges.get(person)
        return m.into_person if m else None

    def merged_from(self, person: str) -> set[str]:
        return set(self.merged_by.get(person, ()))

    def person_orgs(self, person: str) -> set[str]:
        # by organization (this store holds every one), not by every (org, person) link it holds
        return {org for org in self.orgs if (org, person) in self.fact_people}

    def add_subscription(self, row: SubscriptionRow) -> None:
        if row.aggregate_id not in self.subs and all(s.sub != row.sub for s in self.subs.values()):
            self.subs[row.aggregate_id] = row
            self.new_subs.add(row.aggregate_id)

    def change_subscription(self, aggregate_id: str, status: str | None, position: int, action: str,
                            from_position: int | None) -> None:
        s = self.subs.get(aggregate_id)
        if s is None:
            return
        if status is not None:
            s.status = status
        s.control_position = position
        s.redeliver_from = from_position if action == "redeliver" else None
        self.changed_subs.add(aggregate_id)

    # facts
    def insert_fact(self, values: FactValues, fields: JSONObject | None = None) -> FactRow:
        key = (values[0], values[1])
        row = self.facts.get(key)
        if row is None:
            row = FactRow(values + ("[]", None, None))  # corrections, retracted_by, retracted_at
            row._payload = fields  # the projector's parsed payload, spared a json.loads
            self.facts[key] = row
            self.new_facts.append(key)
        return row

    def fact(self, org: str, fact_id: str) -> FactRow | None:
        return self.facts.get((org, fact_id))

    def _touch(self, key: tuple[str, str]) -> None:
        if key in self._flushed_facts:
            self.changed_facts.add(key)

    def retract(self, org: str, fact_id: str, by: str, at: str) -> None:
        row = self.facts.get((org, fact_id))
        if row is not None:
            row["retracted_by"], row["retracted_at"] = by, at
            self._touch((org, fact_id))

    def correct(self, org: str, fact_id: str, payload: str, corrections: str, effective: str | None,
                eff_lo: str, eff_hi: str, confidence: str) -> None:
        row = self.facts.get((org, fact_id))
        if row is not None:
            row.correct(payload, corrections, effective, eff_lo, eff_hi, confidence)
            self._touch((org, fact_id))

    def link(self, org: str, fact_id: str, people: set[str], units: set[str]) -> None:
        # A fact not yet written has no links in the tables: its links are written plainly (COPY).
        fresh = (org, fact_id) not in self._flushed_facts
        to_people = self.new_fact_people if fresh else self.relinked_people
        to_units = self.new_fact_units if fresh else self.relinked_units
        for p in people:
            ids = self.fact_people.setdefault((org, p), set())
            if fact_id not in ids:
                ids.add(fact_id)
                self._add_person_of((org, fact_id), p)
                to_people.append((org, p, fact_id))
        for u in units:
            ids = self.fact_units.setdefault((org, u), set())
            if fact_id not in ids:
                ids.add(fact_id)
                to_units.append((org, u, fact_id))

    def _add_person_of(self, key: tuple[str, str], person: str) -> None:
        people = self.fact_persons.get(key, ())
        if person not in people:
            self.fact_persons[key] = people + (person,)

    def person_facts(self, org: str, person: str) -> list[FactRow]:
        facts = self.facts
        return [r for r in (facts[(org, i)] for i in self.fact_people.get((org, person), ()))
                if r["retracted_by"] is None]

    def facts_by_ids(self, org: str, ids: Sequence[str]) -> list[FactRow]:
        return [self.facts[(org, i)] for i in ids if (org, i) in self.facts]

    def fact_count(self, org: str, person: str) -> int:
        """How many facts ever named ``person`` (retracted ones too)."""
        return len(self.fact_people.get((org, person), ()))

    # units
    def unit_people(self, org: str, unit: str) -> set[str]:
        out: set[str] = set()
        for fact_id in self.fact_units.get((org, unit), ()):
            out.update(self.fact_persons.get((org, fact_id), ()))
        return out

    def unit_edges(self, org: str, unit: str) -> list[FactRow]:
        rows = [self.facts[(org, i)] for i in self.fact_units.get((org, unit), ())]
        return sorted((r for r in rows if is_unit_edge(r["type"]) and r["retracted_by"] is None),
                      key=lambda r: r["position"])

    def set_unit(self, org: str, unit: str, row: UnitRow | None) -> None:
        if row is None:
            self.units.pop((org, unit), None)
        else:
            self.units[(org, unit)] = row
        self.changed_units.add((org, unit))

    def units_info(self, org: str, units: Sequence[str]) -> list[UnitRow]:
        return [row for row in (self.units.get((org, u)) for u in units) if row is not None]

    # tenures and roles
    def current_rows(self, table: RowTable, org: str, person: str) -> list[tuple[int, RowKey]]:
        rows = self.rows[table]
        return [(i, rows[i][:-2]) for i in self.current[table].get((org, person), ())]

    def open_rows(self, table: RowTable, org: str, person: str, seats: Iterable[Seat]) -> list[tuple[int, RowKey]]:
        """The person's current rows still open in valid time in ``seats``: found through an
        index, so the cost does not grow with the rows the person holds."""
        rows, index = self.rows[table], self.open_seats[table]
        return [(i, rows[i][:-2]) for seat in seats for i in index.get((org, person) + seat, ())]

    def _keep(self, table: RowTable, i: int, row: RowKey, org: str) -> None:
        """Index a current row of ``org`` (``row`` is its key, then org and recorded_from)."""
        person = table.person(row)
        self.current[table].setdefault((org, person), {})[i] = None
        if row[table.end_event_at] is None:
            self.open_seats[table].setdefault((org, person) + table.seat(row), {})[i] = None

    def _drop(self, table: RowTable, i: int, row: RowKey) -> None:
        # the org column (a slug) follows the key; read by position, not cast, for every row closed
        org: str = row[-2]  # type: ignore[assignment]
        person = table.person(row)
        del self.current[table][(org, person)][i]
        if row[table.end_event_at] is None:
            del self.open_seats[table][(org, person) + table.seat(row)][i]

    def close_rows(self, table: RowTable, ids: list[int], recorded: str) -> None:
        rows, closed = self.rows[table], self.closed[table]
        for i in ids:
            self._drop(table, i, rows[i])
            closed[i] = recorded

    def add_rows(self, table: RowTable, org: str, keys: list[RowKey], recorded: str) -> None:
        end_hi = table.end_hi_at
        closed: list[tuple[RowKey, int]] = []
        for k in keys:
            i = self.next_id[table]
            self.next_id[table] = i + 1
            self.rows[table][i] = row = k + (org, recorded)
            self.new_rows[table].append(i)
            self._keep(table, i, row, org)
            if k[end_hi] != OPEN_END:
                closed.append((k, i))
        self.new_spans += _spans(table, org, closed)

    # --- persistence -------------------------------------------------------------------------

    def flush(self, conn: Conn, now: str) -> int:
        """Write every change since the last flush and the position, in ``conn``'s transaction.
        Returns how many rows were written."""
        return self.take().write(conn, now)

    def unflushed(self) -> int:
        """How many rows the next ``take`` would hand on (new facts, links, rows and their closes,
        registrations): what a flush holds in memory until it is written."""
        return (len(self.new_facts) + len(self.changed_facts) + len(self.new_fact_people) + len(self.new_fact_units)
                + sum(len(r) for r in self.new_rows.values()) + sum(len(c) for c in self.closed.values())
                + len(self.new_spans) + len(self.new_people) + len(self.new_names))

    def take(self) -> Changes:
        """Every change since the last flush, as plain tuples that later folding cannot alter, so
        another thread may write them while this one folds on."""
        c = Changes(position=self.pos, last=self.last, ignore_conflicts=self.ignore_conflicts)
        c.orgs, c.people = self.new_orgs, self.new_people
        c.subs = [self.subs[a].values() for a in self.new_subs]
        c.sub_updates = [(x.status, x.control_position, x.redeliver_from, a)
                         for a, x in ((a, self.subs[a]) for a in self.changed_subs - self.new_subs)]
        c.facts = [self.facts[k].values() for k in self.new_facts]
        c.fact_updates = [self.facts[k].values(FACT_UPDATE_COLUMNS) + k for k in self.changed_facts]
        c.fact_people, c.fact_units = self.new_fact_people, self.new_fact_units
        c.relinked_people, c.relinked_units = self.relinked_people, self.relinked_units
        c.unit_deletes = list(self.changed_units)
        c.units = [self.units[k] for k in self.changed_units if k in self.units]
        for table in ROW_TABLES:
            rows, closed = self.rows[table], self.closed[table]
            new = set(self.new_rows[table])
            c.rows[table.name] = [(i,) + rows[i] + (closed.get(i, FOREVER),) for i in self.new_rows[table]]
            c.closes[table.name] = [(recorded, i) for i, recorded in closed.items() if i not in new]
            c.last_id[table.name] = self.next_id[table] - 1 if self.new_rows[table] else None
            for i in closed:  # closed in record time: never needed again by the fold
                del rows[i]
        c.spans = self.new_spans
        c.names, c.renamed, c.identifiers, c.imports = self.new_names, list(self.renamed.items()), \
            self.new_identifiers, self.new_imports
        c.merge_deletes = list(self.changed_merges)
        c.merges = [self.merges[p] for p in self.changed_merges if p in self.merges]
        self._flushed_facts.update(self.new_facts)
        self._reset_changes()
        return c
