"""Where the projector keeps its working state: in memory, written back in bulk.

``MemoryStore`` holds a version's state in dicts and writes what changed in bulk (COPY on
PostgreSQL) when its changes are taken: the rebuild holds the whole version in one. The
incremental catch-up uses ``BatchStore`` (``batchstore.py``), the same store read through from the
tables for one batch. The projector's logic is the same for both, so a rebuilt version equals an
incrementally folded one (``verify`` checks exactly that).

Rows of ``tenures``/``roles`` are handled as *keys*: ``(unit?,) + TABLE_COLUMNS`` values, the
identity the projector diffs on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from events.vocabulary import is_unit_edge

from .db import Conn
from .fold import OPEN_END
from .schema import FOREVER, span_years

TABLE_COLUMNS = ("person", "role", "tenure_key", "start_text", "start_lo", "start_hi", "end_text", "end_lo",
                 "end_hi", "cause", "start_event", "end_event", "evidence", "disputed")
FACT_COLUMNS = ("org", "id", "position", "type", "recorded_at", "effective", "eff_lo", "eff_hi", "confidence",
                "payload", "original", "writer")
ALL_FACT_COLUMNS = FACT_COLUMNS + ("corrections", "retracted_by", "retracted_at")
FACT_UPDATE_COLUMNS = ("payload", "corrections", "effective", "eff_lo", "eff_hi", "confidence", "retracted_by",
                       "retracted_at")
UNIT_COLUMNS = ("org", "slug", "name", "kind", "mandate", "commitments", "formed", "formed_lo", "dissolved",
                "formed_event", "dissolved_event")
SUB_COLUMNS = ("sub", "aggregate_id", "url", "org", "types", "secret", "status", "control_position",
               "redeliver_from", "start_after", "created_at")
NAME_COLUMNS = ("person", "name", "effective", "eff_lo", "position", "recorded_at")
IDENTIFIER_COLUMNS = ("scheme", "value", "person", "position", "recorded_at")
IMPORT_COLUMNS = ("org", "id", "source", "format", "digest", "position", "recorded_at", "first_event", "last_event",
                  "first_position", "last_position", "events", "summary", "writer")
MERGE_COLUMNS = ("person", "into_person", "position", "recorded_at", "reason")
EDGES = ("formed", "dissolved")
_START_LO, _END_HI = TABLE_COLUMNS.index("start_lo"), TABLE_COLUMNS.index("end_hi")
_END_EVENT = TABLE_COLUMNS.index("end_event")
Seat = tuple  # (unit, role, tenure key): unit None for an organization-level role


class FactRow:
    """A ``facts`` row as ``MemoryStore`` keeps it: read and written like a dict (``row["payload"]``, ``row.get("_view")``), in slots rather than a dict, because a
    rebuild holds every fact of the log (measured: a fifth of its memory went on these dicts).
    ``_payload`` and ``_view`` are the projector's parsed caches."""

    __slots__ = ALL_FACT_COLUMNS + ("_payload", "_view")

    def __init__(self, values: Sequence) -> None:
        for k, v in zip(ALL_FACT_COLUMNS, values, strict=True):
            setattr(self, k, v)
        self._payload = self._view = None

    def __getitem__(self, key: str):
        return getattr(self, key)

    def __setitem__(self, key: str, value) -> None:
        setattr(self, key, value)

    def get(self, key: str, default=None):
        return getattr(self, key, default)

    def pop(self, key: str, default=None):
        """Clears a slot (a row has every column; only the caches are ever popped)."""
        value = getattr(self, key, default)
        setattr(self, key, None)
        return value

    def update(self, **fields) -> None:
        for k, v in fields.items():
            setattr(self, k, v)

    def values(self, columns: Sequence[str] = ALL_FACT_COLUMNS) -> tuple:
        return tuple(getattr(self, c) for c in columns)


def row_columns(table: str) -> tuple[str, ...]:
    return (("unit",) if table == "tenures" else ()) + TABLE_COLUMNS


def tracked(conn: Conn, name: str | None = None, lock: bool = False) -> tuple[int, str]:
    """The position (and record time) a version has reached. ``lock``: hold its row for this
    transaction (PostgreSQL), so concurrent folders serialize on it even without the runner lock."""
    name = name or conn.track
    suffix = conn.dialect.lock_tracking(conn, name) if lock else ""
    row = conn.one(f"SELECT position, recorded_at FROM tracking WHERE name=?{suffix}", (name,))
    return (int(row["position"]), row["recorded_at"]) if row else (0, "")


def write_tracking(conn: Conn, position: int, recorded: str, now: str, name: str | None = None) -> None:
    conn.execute(
        "INSERT INTO tracking (name, position, recorded_at, updated_at) VALUES (?,?,?,?) "
        "ON CONFLICT (name) DO UPDATE SET position=excluded.position, recorded_at=excluded.recorded_at, "
        "updated_at=excluded.updated_at", (name or conn.track, position, recorded, now))


def _spans(table: str, org: str, closed: Iterable[tuple[tuple, int]]) -> list[tuple]:
    offset = 1 if table == "tenures" else 0
    out = []
    for key, row_id in closed:
        unit = key[0] if offset else ""
        out += [(table, org, unit, year, row_id)
                for year in span_years(key[offset + _START_LO], key[offset + _END_HI])]
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
        self.orgs: dict[str, tuple] = {}
        self.people: set[str] = set()
        self.subs: dict[str, list] = {}  # aggregate_id -> SUB_COLUMNS values
        self.facts: dict[tuple[str, str], FactRow] = {}
        self.fact_people: dict[tuple[str, str], set[str]] = {}  # (org, person) -> fact ids
        self.fact_units: dict[tuple[str, str], set[str]] = {}  # (org, unit) -> fact ids
        # (org, fact) -> its people: a tuple (mostly of one), not a set, as there is one per fact
        self.fact_persons: dict[tuple[str, str], tuple[str, ...]] = {}
        self.units: dict[tuple[str, str], tuple] = {}
        self.rows: dict[str, dict[int, tuple]] = {"tenures": {}, "roles": {}}  # id -> key + (org, from)
        # Current rows (record time) by (org, person), and those still open in valid time by
        # (org, person) + seat; dicts as ordered sets of row ids.
        self.current: dict[str, dict[tuple[str, str], dict[int, None]]] = {"tenures": {}, "roles": {}}
        self.open_seats: dict[str, dict[tuple, dict[int, None]]] = {"tenures": {}, "roles": {}}
        self.next_id = {"tenures": 1, "roles": 1}
        self._flushed_facts: set[tuple[str, str]] = set()  # facts already in the tables (updates, not inserts)
        self.derived: dict[tuple[str, str], object] = {}  # (org, person) -> the projector's unfinished fold
        self.merges: dict[str, tuple] = {}  # person -> MERGE_COLUMNS values
        self.identifiers: set[tuple[str, str]] = set()
        self.imports: set[tuple[str, str]] = set()
        self._reset_changes()

    def _reset_changes(self) -> None:
        self.new_orgs: list[tuple] = []
        self.new_people: list[tuple] = []
        self.new_subs: set[str] = set()
        self.changed_subs: set[str] = set()
        self.new_facts: list[tuple[str, str]] = []
        self.changed_facts: set[tuple[str, str]] = set()
        self.new_fact_people: list[tuple] = []
        self.new_fact_units: list[tuple] = []
        self.changed_units: set[tuple[str, str]] = set()
        self.new_rows: dict[str, list[int]] = {"tenures": [], "roles": []}
        self.closed: dict[str, dict[int, str]] = {"tenures": {}, "roles": {}}  # id -> recorded_to
        self.new_spans: list[tuple] = []
        self.new_names: list[tuple] = []
        self.renamed: dict[str, str] = {}  # person -> current name, for people flushed before
        self.new_identifiers: list[tuple] = []
        self.new_imports: list[tuple] = []
        self.changed_merges: set[str] = set()

    # position
    def position(self, lock: bool = False) -> tuple[int, str]:
        return self.pos, self.last

    def set_position(self, position: int, recorded: str) -> None:
        self.pos, self.last = position, recorded

    # registrations and subscriptions
    def add_org(self, slug: str, name: str, position: int, recorded: str) -> None:
        if slug not in self.orgs:
            self.orgs[slug] = (slug, name, position, recorded)
            self.new_orgs.append(self.orgs[slug])

    def add_person(self, slug: str, name: str, position: int, recorded: str) -> None:
        if slug not in self.people:
            self.people.add(slug)
            self.new_people.append((slug, name, position, recorded))

    # names, identifiers, merges, imports
    def add_name(self, values: tuple) -> None:
        self.new_names.append(values)

    def set_person_name(self, person: str, name: str) -> None:
        pending = next((i for i, p in enumerate(self.new_people) if p[0] == person), None)
        if pending is not None:  # not flushed yet: write it with its new name
            p = self.new_people[pending]
            self.new_people[pending] = (p[0], name, p[2], p[3])
        else:
            self.renamed[person] = name

    def add_identifier(self, values: tuple) -> None:
        if (values[0], values[1]) not in self.identifiers:
            self.identifiers.add((values[0], values[1]))
            self.new_identifiers.append(values)

    def add_import(self, values: tuple) -> None:
        if (values[0], values[1]) not in self.imports:
            self.imports.add((values[0], values[1]))
            self.new_imports.append(values)

    def set_merge(self, values: tuple | None, person: str) -> None:
        if values is None:
            self.merges.pop(person, None)
        else:
            self.merges[person] = values
        self.changed_merges.add(person)
        self.derived.clear()  # who is whom changed: no kept fold can be trusted (merges are rare)

    def merged_into(self, person: str) -> str | None:
        m = self.merges.get(person)
        return m[1] if m else None

    def merged_from(self, person: str) -> set[str]:
        return {p for p, m in self.merges.items() if m[1] == person}

    def person_orgs(self, person: str) -> set[str]:
        return {org for (org, p) in self.fact_people if p == person}

    def add_subscription(self, values: tuple) -> None:
        if values[1] not in self.subs and all(s[0] != values[0] for s in self.subs.values()):
            self.subs[values[1]] = list(values)
            self.new_subs.add(values[1])

    def change_subscription(self, aggregate_id: str, status: str | None, position: int, action: str,
                            from_position: int | None) -> None:
        s = self.subs.get(aggregate_id)
        if s is None:
            return
        if status is not None:
            s[6] = status
        s[7] = position
        s[8] = from_position if action == "redeliver" else None
        self.changed_subs.add(aggregate_id)

    # facts
    def insert_fact(self, values: tuple, fields: dict | None = None) -> None:
        key = (values[0], values[1])
        if key not in self.facts:
            row = FactRow(values + ("[]", None, None))  # corrections, retracted_by, retracted_at
            row._payload = fields  # the projector's parsed payload, spared a json.loads
            self.facts[key] = row
            self.new_facts.append(key)

    def fact(self, org: str, fact_id: str) -> dict | None:
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
            row.update(payload=payload, corrections=corrections, effective=effective, eff_lo=eff_lo, eff_hi=eff_hi,
                       confidence=confidence)
            row.pop("_payload", None)  # the projector's parsed caches of the old payload
            row.pop("_view", None)
            self._touch((org, fact_id))

    def link(self, org: str, fact_id: str, people: set[str], units: set[str]) -> None:
        for p in people:
            ids = self.fact_people.setdefault((org, p), set())
            if fact_id not in ids:
                ids.add(fact_id)
                self._add_person_of((org, fact_id), p)
                self.new_fact_people.append((org, p, fact_id))
        for u in units:
            ids = self.fact_units.setdefault((org, u), set())
            if fact_id not in ids:
                ids.add(fact_id)
                self.new_fact_units.append((org, u, fact_id))

    def _add_person_of(self, key: tuple[str, str], person: str) -> None:
        people = self.fact_persons.get(key, ())
        if person not in people:
            self.fact_persons[key] = people + (person,)

    def person_facts(self, org: str, person: str) -> list[dict]:
        facts = self.facts
        return [r for r in (facts[(org, i)] for i in self.fact_people.get((org, person), ()))
                if r["retracted_by"] is None]

    def facts_by_ids(self, org: str, ids: Sequence[str]) -> list[dict]:
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

    def unit_edges(self, org: str, unit: str) -> list[dict]:
        rows = [self.facts[(org, i)] for i in self.fact_units.get((org, unit), ())]
        return sorted((r for r in rows if is_unit_edge(r["type"]) and r["retracted_by"] is None),
                      key=lambda r: r["position"])

    def set_unit(self, org: str, unit: str, values: tuple | None) -> None:
        if values is None:
            self.units.pop((org, unit), None)
        else:
            self.units[(org, unit)] = values
        self.changed_units.add((org, unit))

    def units_info(self, org: str, units: Sequence[str]) -> list[dict]:
        out = []
        for u in units:
            v = self.units.get((org, u))
            if v is not None:
                out.append({"slug": u, "formed_lo": v[7], "dissolved_event": v[10]})
        return out

    # tenures and roles
    def current_rows(self, table: str, org: str, person: str) -> list[tuple[int, tuple]]:
        rows = self.rows[table]
        return [(i, rows[i][:-2]) for i in self.current[table].get((org, person), ())]

    def open_rows(self, table: str, org: str, person: str, seats: Iterable[Seat]) -> list[tuple[int, tuple]]:
        """The person's current rows still open in valid time in ``seats``: found through an
        index, so the cost does not grow with the rows the person holds."""
        rows, index = self.rows[table], self.open_seats[table]
        return [(i, rows[i][:-2]) for seat in seats for i in index.get((org, person) + seat, ())]

    def _keep(self, table: str, i: int, row: tuple) -> None:
        """Index a current row (``row`` ends with org and recorded_from)."""
        if table == "tenures":
            self.current[table].setdefault((row[-2], row[1]), {})[i] = None
            if row[_END_EVENT + 1] is None:
                self.open_seats[table].setdefault((row[-2], row[1], row[0], row[2], row[3]), {})[i] = None
        else:
            self.current[table].setdefault((row[-2], row[0]), {})[i] = None
            if row[_END_EVENT] is None:
                self.open_seats[table].setdefault((row[-2], row[0], None, row[1], row[2]), {})[i] = None

    def _drop(self, table: str, i: int, row: tuple) -> None:
        if table == "tenures":
            del self.current[table][(row[-2], row[1])][i]
            if row[_END_EVENT + 1] is None:
                del self.open_seats[table][(row[-2], row[1], row[0], row[2], row[3])][i]
        else:
            del self.current[table][(row[-2], row[0])][i]
            if row[_END_EVENT] is None:
                del self.open_seats[table][(row[-2], row[0], None, row[1], row[2])][i]

    def close_rows(self, table: str, ids: list[int], recorded: str) -> None:
        rows, closed = self.rows[table], self.closed[table]
        for i in ids:
            self._drop(table, i, rows[i])
            closed[i] = recorded

    def add_rows(self, table: str, org: str, keys: list[tuple], recorded: str) -> None:
        end_hi = (1 if table == "tenures" else 0) + _END_HI
        closed = []
        for k in keys:
            i = self.next_id[table]
            self.next_id[table] = i + 1
            self.rows[table][i] = row = k + (org, recorded)
            self.new_rows[table].append(i)
            self._keep(table, i, row)
            if k[end_hi] != OPEN_END:
                closed.append((k, i))
        self.new_spans += _spans(table, org, closed)

    # --- persistence -------------------------------------------------------------------------

    def flush(self, conn: Conn, now: str) -> int:
        """Write every change since the last flush and the position, in ``conn``'s transaction.
        Returns how many rows were written."""
        return self.take().write(conn, now)

    def take(self) -> Changes:
        """Every change since the last flush, as plain tuples that later folding cannot alter, so
        another thread may write them while this one folds on."""
        c = Changes(position=self.pos, last=self.last, ignore_conflicts=self.ignore_conflicts)
        c.orgs, c.people = self.new_orgs, self.new_people
        c.subs = [tuple(self.subs[a]) for a in self.new_subs]
        c.sub_updates = [(x[6], x[7], x[8], a) for a, x in ((a, self.subs[a]) for a in self.changed_subs - self.new_subs)]
        c.facts = [self.facts[k].values() for k in self.new_facts]
        c.fact_updates = [self.facts[k].values(FACT_UPDATE_COLUMNS) + k for k in self.changed_facts]
        c.fact_people, c.fact_units = self.new_fact_people, self.new_fact_units
        c.unit_deletes = list(self.changed_units)
        c.units = [self.units[k] for k in self.changed_units if k in self.units]
        for table in ("tenures", "roles"):
            rows, closed = self.rows[table], self.closed[table]
            new = set(self.new_rows[table])
            c.rows[table] = [(i,) + rows[i] + (closed.get(i, FOREVER),) for i in self.new_rows[table]]
            c.closes[table] = [(recorded, i) for i, recorded in closed.items() if i not in new]
            c.last_id[table] = self.next_id[table] - 1 if self.new_rows[table] else None
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


def _insert(conn: Conn, table: str, columns: Sequence[str], rows: list[tuple], ignore_conflicts: bool = False) -> int:
    """Many rows at once (COPY on PostgreSQL). ``ignore_conflicts``: a row whose key is taken
    already is left out (no COPY then: it cannot skip a row)."""
    if not rows:
        return 0
    if ignore_conflicts:
        conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))}) "
                         "ON CONFLICT DO NOTHING", rows)
    else:
        conn.copy_rows(table, columns, rows)
    return len(rows)



@dataclass
class Changes:
    """What one flush writes (see ``MemoryStore.take``)."""

    position: int
    last: str
    orgs: list = field(default_factory=list)
    people: list = field(default_factory=list)
    subs: list = field(default_factory=list)
    sub_updates: list = field(default_factory=list)
    facts: list = field(default_factory=list)
    fact_updates: list = field(default_factory=list)
    fact_people: list = field(default_factory=list)
    fact_units: list = field(default_factory=list)
    unit_deletes: list = field(default_factory=list)
    units: list = field(default_factory=list)
    rows: dict = field(default_factory=dict)
    closes: dict = field(default_factory=dict)
    last_id: dict = field(default_factory=dict)
    spans: list = field(default_factory=list)
    names: list = field(default_factory=list)
    renamed: list = field(default_factory=list)
    identifiers: list = field(default_factory=list)
    imports: list = field(default_factory=list)
    merge_deletes: list = field(default_factory=list)
    merges: list = field(default_factory=list)
    # Tables a store that saw only part of the version (``BatchStore``) may write a row of again.
    ignore_conflicts: frozenset[str] = frozenset()

    def write(self, conn: Conn, now: str) -> int:
        ic = self.ignore_conflicts.__contains__
        n = _insert(conn, "orgs", ("slug", "name", "position", "recorded_at"), self.orgs, ic("orgs"))
        n += _insert(conn, "people", ("slug", "name", "position", "recorded_at"), self.people, ic("people"))
        n += _insert(conn, "names", NAME_COLUMNS, self.names, ic("names"))
        conn.executemany("UPDATE people SET name=? WHERE slug=?", [(name, p) for p, name in self.renamed])
        n += _insert(conn, "identifiers", IDENTIFIER_COLUMNS, self.identifiers, ic("identifiers"))
        n += _insert(conn, "imports", IMPORT_COLUMNS, self.imports, ic("imports"))
        conn.executemany("DELETE FROM merges WHERE person=?", [(p,) for p in self.merge_deletes])
        n += _insert(conn, "merges", MERGE_COLUMNS, self.merges)
        n += _insert(conn, "subscriptions", SUB_COLUMNS, self.subs, ic("subscriptions"))
        conn.executemany("UPDATE subscriptions SET status=?, control_position=?, redeliver_from=? WHERE aggregate_id=?",
                         self.sub_updates)
        n += _insert(conn, "facts", ALL_FACT_COLUMNS, self.facts, ic("facts"))
        conn.executemany(f"UPDATE facts SET {', '.join(c + '=?' for c in FACT_UPDATE_COLUMNS)} WHERE org=? AND id=?",
                         self.fact_updates)
        n += len(self.fact_updates)
        n += _insert(conn, "fact_people", ("org", "person", "fact"), self.fact_people, ic("fact_people"))
        n += _insert(conn, "fact_units", ("org", "unit", "fact"), self.fact_units, ic("fact_units"))
        conn.executemany("DELETE FROM units WHERE org=? AND slug=?", self.unit_deletes)
        n += _insert(conn, "units", UNIT_COLUMNS, self.units)
        for table in ("tenures", "roles"):
            cols = ("id",) + row_columns(table) + ("org", "recorded_from", "recorded_to")
            n += _insert(conn, table, cols, self.rows.get(table, []))
            conn.executemany(f"UPDATE {table} SET recorded_to=? WHERE id=?", self.closes.get(table, []))
            n += len(self.closes.get(table, []))
            if self.last_id.get(table) is not None:
                conn.dialect.after_copy(conn, table, self.last_id[table])
        n += _insert(conn, "spans", ("kind", "org", "unit", "year", "row_id"), self.spans)
        if self.position:
            write_tracking(conn, self.position, self.last, now)
        return n
