"""The projector: applies recorded events to the read-side tables, with the tracking position
written in the same transaction, so a crash can never apply an event twice or skip one.

One engine for both paths: the fold runs against a ``MemoryStore`` and its changes are written in
bulk. A rebuild's store holds the whole version (``store.py``); the incremental catch-up's
(``batchstore.py``) reads from the tables what one batch needs, and writes back in the batch's
transaction.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

from events.recorded import Kind, RecordedEvent
from events.validtime import ValidTime
from events.vocabulary import TYPES, FactType, apply_changes, fact_type, is_unit_edge, people_of, units_of

from .batchstore import BatchStore
from .changes import tracked, write_tracking
from .clock import now, stamp
from .db import DEFAULT_PROJECTION, Conn
from .encoding import fact_values, forget_parsed, payload_of, row_key, view_of
from .fold import FactView, Row, _Person, fold_person
from .foldcache import Derived, FoldCache, Reader
from .registrations import HANDLERS
from .rows import (
    ROLES,
    TENURES,
    FactRow,
    MergeRow,
    ProjectionState,
    RowKey,
    RowTable,
    Seat,
    UnitRow,
)

NAME = DEFAULT_PROJECTION
def apply_events(conn: Conn, events: Sequence[RecordedEvent], cache: FoldCache | None = None,
                 since: Reader | None = None) -> int:
    """The incremental path: fold ``events`` (those after the tracked position) inside ``conn``'s
    write transaction, and write what changed in bulk, with the position, in the same one.
    ``cache``: the folds this process kept from its earlier batches; ``since``: reads the events
    other processes folded meanwhile, so it keeps the folds of the people they do not name (see
    ``foldcache``)."""
    store = BatchStore(conn)
    if cache is not None:
        store.derived = cache.folds_for(conn, since)
    store.prefetch(events)
    n = Projector(store).apply(events)
    if n:
        at = now()
        changes = store.take()
        changes.write(conn, at)
        if cache is not None and changes.position:
            cache.written(conn, changes.position, at)
    return n


def reapply_event(conn: Conn, e: RecordedEvent) -> None:
    """Apply one (parked) event now, out of its place: its rows are recorded from now on."""
    store = BatchStore(conn)
    Projector(store).reapply(e)
    store.take().write(conn, now())


class Projector:
    """Folds events into a ``MemoryStore``: the rebuild's, which holds the whole version, or a
    ``BatchStore`` (``apply_events``), which reads what it needs from the tables. Nothing is
    written until the store's changes are taken and written."""

    def __init__(self, store: ProjectionState):
        self.s = store

    def apply(self, events: Iterable[RecordedEvent]) -> int:
        position, last = self.s.position(lock=True)
        n = 0
        for e in events:
            if e.position <= position:
                continue  # already applied: positions only grow
            # Record time never goes backwards, even if two writers' clocks disagree slightly.
            recorded = max(stamp(e.recorded_at), last)
            self._apply_one(e, recorded)
            position, last, n = e.position, recorded, n + 1
        if n:
            self.s.set_position(position, last)
        return n

    def reapply(self, e: RecordedEvent) -> None:
        """Apply one (parked) event now, out of its place: its rows are recorded from now on."""
        _, last = self.s.position()
        self._apply_one(e, max(stamp(e.recorded_at), last))

    # -- one event ----------------------------------------------------------------------------

    def _apply_one(self, e: RecordedEvent, recorded: str) -> None:
        org = e.org
        if org is not None:
            spec = fact_type(e.type)
            if spec is not None:  # a fact of the vocabulary: it has its org's id too
                fact_id = e.id
                if fact_id is None:
                    raise ValueError(f"the fact at position {e.position} ({e.type}) has no id")
                self._apply_fact(e, org, fact_id, spec, recorded)
                return
        # not a fact of an organization: registrations, imports, subscriptions
        if e.type in (Kind.PERSON_MERGED, Kind.MERGE_RETRACTED):
            self._merge(e, recorded)
            return
        handler = HANDLERS.get(e.type)
        if handler is not None:  # None: internal bookkeeping (idempotency records)
            handler(self.s, e, recorded)

    # -- a fact of the vocabulary -------------------------------------------------------------

    def _apply_fact(self, e: RecordedEvent, org: str, fact_id: str, spec: FactType, recorded: str) -> None:
        """``org`` and ``fact_id``: ``e``'s, which a fact always has."""
        s, f = self.s, e.fields
        row = s.insert_fact(fact_values(org, fact_id, e, recorded), f)
        if spec.amends is not None:
            touched = self._amend(e, org, fact_id, spec, recorded)
            if touched is None:
                return  # its target is not a fact we hold
            touched_people, touched_units = touched
        else:
            touched_people, units = spec.people_in(f), spec.units_in(f)
            s.link(org, fact_id, touched_people, units)
            touched_units = {f["unit"]} if spec.unit_edge else set()
            self._refresh_units(org, touched_units)
            if spec.folds and not touched_units:
                # A plain fact about people (not a correction, not a unit's formation or
                # dissolution) may extend their cached folds instead of re-deriving them.
                for person in sorted({self._canonical(p) for p in touched_people}):
                    self._rederive(org, person, recorded, (row, units))
                return
        for unit in touched_units:
            touched_people |= s.unit_people(org, unit)
        for person in sorted({self._canonical(p) for p in touched_people}):
            self._rederive(org, person, recorded)

    def _amend(self, e: RecordedEvent, org: str, fact_id: str, spec: FactType,
               recorded: str) -> tuple[set[str], set[str]] | None:
        """A correction or retraction (``e``, the fact ``fact_id`` of ``org``) of an earlier fact:
        the people and units of the target, before and after, are the ones to re-derive."""
        s, f = self.s, e.fields
        target = self._fact(org, f["target"])
        if target is None:
            return None
        before = json.loads(target["payload"])
        touched_people, touched_units = people_of(before), self._unit_scope(before)
        if spec.amends == "retracts":
            s.retract(org, f["target"], fact_id, recorded)
        else:
            after = apply_changes(before, f["changes"], "changes")
            corrections = json.loads(target["corrections"]) + [
                {"id": fact_id, "recorded_at": recorded, "changes": f["changes"]}]
            w = ValidTime.parse(after.get("effective") or "unknown")
            s.correct(org, f["target"], json.dumps(after), json.dumps(corrections), after.get("effective"),
                      w.lo, w.hi, after["confidence"])
            self._link(org, f["target"], after)
            touched_people |= people_of(after)
            touched_units |= self._unit_scope(after)
        self._refresh_units(org, touched_units)
        return touched_people, touched_units

    # -- people merged into one ----------------------------------------------------------------

    def _canonical(self, person: str) -> str:
        """The person ``person`` is, after merges (a chain ends: merging refuses cycles)."""
        seen = {person}
        into = self.s.merged_into(person)
        while into is not None and into not in seen:
            seen.add(into)
            person, into = into, self.s.merged_into(into)
        return person

    def _group(self, person: str) -> set[str]:
        """``person`` and everyone merged into them, directly or through others."""
        out, todo = {person}, [person]
        while todo:
            for alias in self.s.merged_from(todo.pop()):
                if alias not in out:
                    out.add(alias)
                    todo.append(alias)
        return out

    def _merge(self, e: RecordedEvent, recorded: str) -> None:
        """A merge (or its retraction) changes who holds the merged person's tenures: re-derive
        both sides in every organization where either has facts."""
        f, s = e.fields, self.s
        person = f["person"]
        before = s.merged_into(person)
        if e.type == Kind.PERSON_MERGED:
            s.set_merge(MergeRow(person, f["into"], e.position, recorded, f.get("reason")), person)
        else:
            s.set_merge(None, person)
        affected = self._group(person) | ({f["into"]} if f.get("into") else set()) | ({before} if before else set())
        everyone = {p for a in affected for p in self._group(self._canonical(a))} | affected
        orgs = {org for p in everyone for org in s.person_orgs(p)}
        for org in sorted(orgs):
            for p in sorted(everyone):
                self._rederive(org, p, recorded)

    @staticmethod
    def _unit_scope(fields: dict[str, Any]) -> set[str]:
        """The unit a fact forms or dissolves, if it does."""
        return {fields["unit"]} if is_unit_edge(fields["type"]) else set()

    def _link(self, org: str, fact_id: str, fields: dict[str, Any]) -> None:
        self.s.link(org, fact_id, people_of(fields), units_of(fields))

    def _fact(self, org: str, fact_id: str) -> FactRow | None:
        return self.s.fact(org, fact_id)

    def _refresh_units(self, org: str, units: set[str]) -> None:
        """The units table holds each unit as currently believed (formation and dissolution)."""
        for unit in units:
            rows = self.s.unit_edges(org, unit)
            formed = next((r for r in rows if TYPES[r["type"]].unit_edge == "formed"), None)
            dissolved = [r for r in rows if TYPES[r["type"]].unit_edge == "dissolved"]
            if formed is None:
                self.s.set_unit(org, unit, None)
                continue
            x = json.loads(formed["payload"])
            d = json.loads(dissolved[-1]["payload"]) if dissolved else None
            self.s.set_unit(org, unit, UnitRow(
                org=org, slug=unit, name=x["name"], kind=x["kind"], mandate=x.get("mandate"),
                commitments=json.dumps(x.get("commitments") or []), formed=x.get("effective") or "unknown",
                formed_lo=ValidTime.parse(x.get("effective") or "unknown").lo,
                dissolved=d.get("effective") if d else None, formed_event=formed["id"],
                dissolved_event=dissolved[-1]["id"] if dissolved else None))

    # -- re-derivation ------------------------------------------------------------------------

    def _rederive(self, org: str, person: str, recorded: str, new: tuple[FactRow, set[str]] | None = None) -> None:
        """``new``: the facts row of the one new fact the re-derivation is for, and its units, if
        its person's cached fold may be extended with it (see ``_extend``)."""
        s = self.s
        if self._canonical(person) != person:
            # Merged into someone else: their rows hold this person's tenures now.
            self._store_all(org, person, [], recorded)
            return
        group = self._group(person)
        if len(group) > 1:
            self._rederive_group(org, person, group, recorded)
            return
        cache = s.derived  # each person's unfinished fold, kept while the store lives
        if new is not None:
            hit = cache.get((org, person))
            if hit is None and s.fact_count(org, person) == 1:
                # Their first fact: folding it onto an empty fold is the whole derivation.
                hit = cache[(org, person)] = Derived(_Person(person, {}), None, set())
            if hit is not None and self._extend(hit, org, person, *new, recorded):
                return
        own = s.person_facts(org, person)
        # A correction may have moved a fact to someone else: keep only what is about this person now.
        parsed = [(r, payload_of(r)) for r in own]
        parsed = [(r, p) for r, p in parsed if person in people_of(p)]
        units = sorted({u for _, p in parsed for u in units_of(p)})
        formed, dissolved_ids = self._units_context(org, units)
        # The units table already knows each unit's (current) dissolution: fetch just those facts.
        views = [view_of(r, p) for r, p in parsed]
        dissolutions = s.facts_by_ids(org, dissolved_ids)
        views += [view_of(r, payload_of(r)) for r in dissolutions]
        state = fold_person(person, views, formed)
        rows = state.finish()
        self._store_all(org, person, rows, recorded)
        state.rows, state.dirty = [], set()  # all stored; going on from here needs only what is open
        cache[(org, person)] = Derived(state, max((v.sort_key() for v in views), default=None), set(units))
        for r in own:
            forget_parsed(r)
        for r in dissolutions:
            forget_parsed(r)

    def _rederive_group(self, org: str, person: str, group: set[str], recorded: str) -> None:
        """Fold the facts of ``person`` and of everyone merged into them as one person's."""
        s = self.s
        as_one = {p: person for p in group}
        seen: set[str] = set()
        views: list[FactView] = []
        units: set[str] = set()
        for member in sorted(group):
            for r in s.person_facts(org, member):
                if r["id"] in seen:
                    continue
                seen.add(r["id"])
                payload = payload_of(r)
                if not group & people_of(payload):
                    continue  # a correction moved it to someone else
                fields = {k: (as_one.get(v, v) if k in ("person", "outgoing", "incoming") else v)
                          for k, v in payload.items()}
                units |= units_of(fields)
                views.append(FactView(r["id"], int(r["position"]), r["type"], fields, r["confidence"],
                                      view_of(r, payload).evidence))
        formed, dissolved_ids = self._units_context(org, sorted(units))
        views += [view_of(r, payload_of(r)) for r in s.facts_by_ids(org, dissolved_ids) if r["id"] not in seen]
        rows = fold_person(person, views, formed).finish()
        self._store_all(org, person, rows, recorded)
        s.derived.pop((org, person), None)  # folded without the cache: nothing kept to extend

    def _extend(self, hit: Derived, org: str, person: str, row: FactRow, units: set[str], recorded: str) -> bool:
        """Fold one new fact onto the person's cached fold, when that gives what a full
        re-derivation would: the fact sorts after every fact folded so far (valid time, then
        position), and none of its units brings in a dissolution. Then only the rows still open
        and the rows the fact closes can differ; the rows closed before stay as they are."""
        view = view_of(row, payload_of(row))
        key = view.sort_key()
        if not hit.follows(key):
            return False
        new_units = units - hit.units
        if new_units:
            info = self.s.units_info(org, sorted(new_units))
            if any(u.dissolved_event for u in info):
                return False
            for u in info:
                hit.state.formed[u.slug] = u.formed_lo
            hit.units |= new_units
        hit.take(view, key)
        forget_parsed(row)
        # Only what the fact touched is built and compared, so a fact costs the same whether its
        # person holds one seat or a hundred.
        changed, seats = hit.state.take_changes()
        self._store_all(org, person, changed, recorded, only=seats)
        return True

    def _units_context(self, org: str, units: Sequence[str]) -> tuple[dict[str, str], list[str]]:
        """When each unit was formed (nobody sat in it before), and the ids of the facts that
        dissolved them (the units table already knows each unit's current dissolution)."""
        formed: dict[str, str] = {}
        dissolved_ids: list[str] = []
        for u in self.s.units_info(org, units):
            formed[u.slug] = u.formed_lo
            if u.dissolved_event:
                dissolved_ids.append(u.dissolved_event)
        return formed, dissolved_ids

    def _store_all(self, org: str, person: str, rows: list[Row], recorded: str,
                   only: set[Seat] | None = None) -> None:
        """Store a person's tenures and roles (see ``_store``). Given ``only`` seats, a table none
        of whose seats are among them and none of whose rows changed is left alone: a team's
        joins and leaves need not look up the person's roles."""
        tenures = [r for r in rows if r.unit is not None]
        roles = [r for r in rows if r.unit is None]
        if only is None or tenures or any(unit is not None for unit, _, _ in only):
            self._store(org, person, tenures, TENURES, recorded, only)
        if only is None or roles or any(unit is None for unit, _, _ in only):
            self._store(org, person, roles, ROLES, recorded, only)

    def _store(self, org: str, person: str, rows: list[Row], table: RowTable, recorded: str,
               only: set[Seat] | None = None) -> None:
        """Close what we no longer believe and add what we newly believe, from ``recorded`` on.
        ``only``: ``rows`` replace just the stored rows still open in valid time of these seats
        (unit, role, tenure key; unit None for a role)."""
        wanted: dict[RowKey, int] = {}
        for r in rows:
            key = row_key(r)
            wanted[key] = wanted.get(key, 0) + 1
        if only is None:
            current = self.s.current_rows(table, org, person)
        else:
            current = self.s.open_rows(table, org, person, only)
        if not wanted and not current:
            return
        stale: list[int] = []
        for row_id, key in current:
            if wanted.get(key, 0) > 0:
                wanted[key] -= 1
            else:
                stale.append(row_id)
        self.s.close_rows(table, stale, recorded)
        self.s.add_rows(table, org, [k for k, n in wanted.items() for _ in range(n)], recorded)


def park(conn: Conn, position: int, event_id: str | None, type_: str | None, error: str) -> None:
    """Record an event whose fold raised, and move the version past it (in this same transaction)."""
    at = now()
    conn.execute(
        "INSERT INTO parked (name, position, event_id, type, error, parked_at) VALUES (?,?,?,?,?,?) "
        "ON CONFLICT (name, position) DO UPDATE SET error=excluded.error, attempts=parked.attempts+1",
        (conn.track, position, event_id, type_, error[:4000], at))
    _, last = tracked(conn)
    write_tracking(conn, position, last or at, at)
