"""What a flush writes (``Changes``), and the tracked position written with it.

``MemoryStore.take`` turns its changes into plain tuples that later folding cannot alter, so
another thread may write them while the fold goes on (a rebuild's writer thread).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from . import rows as shapes  # the tables' columns and named rows
from .db import Conn


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



def _insert(conn: Conn, table: str, columns: Sequence[str], rows: Sequence[Sequence[shapes.Cell]], ignore_conflicts: bool = False) -> int:
    """Many rows at once (COPY on PostgreSQL). ``ignore_conflicts``: a row whose key is taken
    already is left out."""
    if not rows:
        return 0
    if ignore_conflicts:
        conn.insert_new(table, columns, rows)
    else:
        conn.copy_rows(table, columns, rows)
    return len(rows)


@dataclass
class Changes:
    """What one flush writes (see ``MemoryStore.take``)."""

    position: int
    last: str
    orgs: list[shapes.OrgRow] = field(default_factory=list)
    people: list[shapes.PersonRow] = field(default_factory=list)
    subs: list[shapes.Values] = field(default_factory=list)
    sub_updates: list[tuple[str, int, int | None, str]] = field(default_factory=list)  # status, control_position, redeliver_from, aggregate_id
    facts: list[shapes.Values] = field(default_factory=list)
    fact_updates: list[shapes.Values] = field(default_factory=list)
    fact_people: list[tuple[str, str, str]] = field(default_factory=list)  # FACT_PEOPLE_COLUMNS (a new fact's)
    fact_units: list[tuple[str, str, str]] = field(default_factory=list)  # FACT_UNITS_COLUMNS (a new fact's)
    # Links of facts written before (a correction moved them): the tables may hold them already.
    relinked_people: list[tuple[str, str, str]] = field(default_factory=list)
    relinked_units: list[tuple[str, str, str]] = field(default_factory=list)
    unit_deletes: list[tuple[str, str]] = field(default_factory=list)
    units: list[shapes.UnitRow] = field(default_factory=list)
    rows: dict[str, list[shapes.Values]] = field(default_factory=dict)  # by table: id, key, org, recorded_from, recorded_to
    closes: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # by table: (recorded_to, id)
    last_id: dict[str, int | None] = field(default_factory=dict)
    spans: list[tuple[str, str, str, int, str, str, int]] = field(default_factory=list)  # shapes.SPAN_COLUMNS
    names: list[shapes.NameRow] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # person, name
    identifiers: list[shapes.IdentifierRow] = field(default_factory=list)
    imports: list[shapes.ImportRow] = field(default_factory=list)
    merge_deletes: list[str] = field(default_factory=list)
    merges: list[shapes.MergeRow] = field(default_factory=list)
    # Tables a store that saw only part of the version (``BatchStore``) may write a row of again.
    ignore_conflicts: frozenset[str] = frozenset()

    def write(self, conn: Conn, now: str) -> int:
        ic = self.ignore_conflicts.__contains__
        n = _insert(conn, "orgs", ("slug", "name", "position", "recorded_at"), self.orgs, ic("orgs"))
        n += _insert(conn, "people", ("slug", "name", "position", "recorded_at"), self.people, ic("people"))
        n += _insert(conn, "names", shapes.NAME_COLUMNS, self.names, ic("names"))
        conn.executemany("UPDATE people SET name=? WHERE slug=?", [(name, p) for p, name in self.renamed])
        n += _insert(conn, "identifiers", shapes.IDENTIFIER_COLUMNS, self.identifiers, ic("identifiers"))
        n += _insert(conn, "imports", shapes.IMPORT_COLUMNS, self.imports, ic("imports"))
        conn.executemany("DELETE FROM merges WHERE person=?", [(p,) for p in self.merge_deletes])
        n += _insert(conn, "merges", shapes.MERGE_COLUMNS, self.merges)
        n += _insert(conn, "subscriptions", shapes.SUB_COLUMNS, self.subs, ic("subscriptions"))
        conn.executemany("UPDATE subscriptions SET status=?, control_position=?, redeliver_from=? WHERE aggregate_id=?",
                         self.sub_updates)
        n += _insert(conn, "facts", shapes.ALL_FACT_COLUMNS, self.facts, ic("facts"))
        conn.executemany(f"UPDATE facts SET {', '.join(c + '=?' for c in shapes.FACT_UPDATE_COLUMNS)} WHERE org=? AND id=?",
                         self.fact_updates)
        n += len(self.fact_updates)
        # A new fact's links are new: COPYed, never checked against the table's key (the check
        # cost a catch-up batch of 1,000 facts about 40 ms on PostgreSQL, a sixth of its time).
        n += _insert(conn, "fact_people", shapes.FACT_PEOPLE_COLUMNS, self.fact_people)
        n += _insert(conn, "fact_units", shapes.FACT_UNITS_COLUMNS, self.fact_units)
        n += _insert(conn, "fact_people", shapes.FACT_PEOPLE_COLUMNS, self.relinked_people, ignore_conflicts=True)
        n += _insert(conn, "fact_units", shapes.FACT_UNITS_COLUMNS, self.relinked_units, ignore_conflicts=True)
        conn.executemany("DELETE FROM units WHERE org=? AND slug=?", self.unit_deletes)
        n += _insert(conn, "units", shapes.UNIT_COLUMNS, self.units)
        for table in shapes.ROW_TABLES:
            cols = ("id",) + table.columns + ("org", "recorded_from", "recorded_to")
            n += _insert(conn, table.name, cols, self.rows.get(table.name, []))
            conn.set_by_id(table.name, "recorded_to", self.closes.get(table.name, []))
            n += len(self.closes.get(table.name, []))
            last_id = self.last_id.get(table.name)
            if last_id is not None:
                conn.dialect.after_copy(conn, table.name, last_id)
        n += _insert(conn, "spans", shapes.SPAN_COLUMNS, self.spans)
        if self.position:
            write_tracking(conn, self.position, self.last, now)
        return n
