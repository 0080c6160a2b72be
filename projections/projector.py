"""The projector: applies recorded events to the read-side tables, with the tracking position
written in the same transaction, so a crash can never apply an event twice or skip one."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable

from events.application import RecordedEvent
from events.validtime import ValidTime
from events.vocabulary import apply_changes

from .db import Conn
from .fold import FactView, Row, derive, people_of, units_of
from .schema import FOREVER, OPEN_END, span_years

NAME = "history"
TABLE_COLUMNS = ("person", "role", "tenure_key", "start_text", "start_lo", "start_hi", "end_text", "end_lo",
                 "end_hi", "cause", "start_event", "end_event", "evidence", "disputed")


def stamp(ts: datetime) -> str:
    """Fixed-width UTC text, so record times compare correctly as strings."""
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def tracked(conn: Conn, name: str = NAME, lock: bool = False) -> tuple[int, str]:
    """The position (and record time) a projection has reached. ``lock``: hold its row for this
    transaction (PostgreSQL), so concurrent folders serialize on it even without the runner lock."""
    if lock and conn.postgres:
        conn.execute("INSERT INTO tracking (name, position, recorded_at, updated_at) VALUES (?, 0, '', '') "
                     "ON CONFLICT (name) DO NOTHING", (name,))
    suffix = " FOR UPDATE" if lock and conn.postgres else ""
    row = conn.one(f"SELECT position, recorded_at FROM tracking WHERE name=?{suffix}", (name,))
    return (int(row["position"]), row["recorded_at"]) if row else (0, "")


def _row_values(r: Row) -> tuple:
    return (r.person, r.role, r.tenure_key, r.start_text, r.start_lo, r.start_hi, r.end_text, r.end_lo, r.end_hi,
            r.cause, r.start_event, r.end_event, json.dumps(list(r.evidence)), int(r.disputed))


class Projector:
    """Folds a batch of events. ``apply`` must run inside a write transaction."""

    def __init__(self, conn: Conn, name: str = NAME):
        self.c = conn
        self.name = name

    def apply(self, events: Iterable[RecordedEvent]) -> int:
        position, last = tracked(self.c, self.name, lock=True)
        n = 0
        for e in events:
            if e.position <= position:
                continue  # already applied: positions only grow
            # Record time never goes backwards, even if two writers' clocks disagree slightly.
            recorded = max(stamp(e.recorded_at), last)
            self._apply_one(e, recorded)
            position, last, n = e.position, recorded, n + 1
        if n:
            now = stamp(datetime.now(timezone.utc))
            self.c.execute(
                "INSERT INTO tracking (name, position, recorded_at, updated_at) VALUES (?,?,?,?) "
                "ON CONFLICT (name) DO UPDATE SET position=excluded.position, recorded_at=excluded.recorded_at, "
                "updated_at=excluded.updated_at",
                (self.name, position, last, now),
            )
        return n

    def park(self, position: int, event_id: str | None, type_: str | None, error: str) -> None:
        """Record an event whose fold raised, and move past it (in this same transaction)."""
        now = stamp(datetime.now(timezone.utc))
        self.c.execute(
            "INSERT INTO parked (name, position, event_id, type, error, parked_at) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT (name, position) DO UPDATE SET error=excluded.error, attempts=parked.attempts+1",
            (self.name, position, event_id, type_, error[:4000], now))
        _, last = tracked(self.c, self.name)
        self.c.execute(
            "INSERT INTO tracking (name, position, recorded_at, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT (name) DO UPDATE SET position=excluded.position, updated_at=excluded.updated_at",
            (self.name, position, last or now, now))

    def reapply(self, e: RecordedEvent) -> None:
        """Apply one (parked) event now, out of its place: its rows are recorded from now on."""
        _, last = tracked(self.c, self.name)
        self._apply_one(e, max(stamp(e.recorded_at), last))

    # -- one event ----------------------------------------------------------------------------

    def _apply_one(self, e: RecordedEvent, recorded: str) -> None:
        c, f = self.c, e.fields
        if e.type == "org_registered":
            c.execute("INSERT INTO orgs (slug, name, position, recorded_at) VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
                      (e.org, f["name"], e.position, recorded))
            return
        if e.type == "person_registered" and e.org is None:
            c.execute("INSERT INTO people (slug, name, position, recorded_at) VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
                      (f["person"], f["name"], e.position, recorded))
            return
        if e.type == "subscription_created":
            c.execute("INSERT INTO subscriptions (sub, aggregate_id, url, org, types, secret, status, control_position, "
                      "start_after, created_at) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                      (f["sub"], f["aggregate_id"], f["url"], f["org"], json.dumps(f["types"]), f["secret"], "active",
                       e.position, f["start_after"], recorded))
            return
        if e.type == "subscription_changed":
            status = {"paused": "paused", "deleted": "deleted", "resumed": "active"}.get(f["action"])
            c.execute("UPDATE subscriptions SET status=COALESCE(?, status), control_position=?, "
                      "redeliver_from=CASE WHEN ?='redeliver' THEN CAST(? AS BIGINT) ELSE NULL END WHERE aggregate_id=?",
                      (status, e.position, f["action"], f["from_position"], f["aggregate_id"]))
            return
        if e.org is None:
            return  # internal bookkeeping (idempotency records)
        org = e.org
        self._insert_fact(e, recorded)
        touched_people: set[str] = set()
        touched_units: set[str] = set()
        if e.type in ("corrected", "retracted"):
            target = self._fact(org, f["target"])
            if target is None:
                return
            before = json.loads(target["payload"])
            touched_people |= people_of(before["type"], before)
            touched_units |= self._unit_scope(before)
            if e.type == "retracted":
                c.execute("UPDATE facts SET retracted_by=?, retracted_at=? WHERE org=? AND id=?",
                          (e.id, recorded, org, f["target"]))
            else:
                after = apply_changes(before, f["changes"], "changes")
                corrections = json.loads(target["corrections"]) + [
                    {"id": e.id, "recorded_at": recorded, "changes": f["changes"]}]
                w = ValidTime.parse(after.get("effective") or "unknown")
                c.execute(
                    "UPDATE facts SET payload=?, corrections=?, effective=?, eff_lo=?, eff_hi=?, confidence=? "
                    "WHERE org=? AND id=?",
                    (json.dumps(after), json.dumps(corrections), after.get("effective"), w.earliest.isoformat(),
                     w.latest.isoformat(), after["confidence"], org, f["target"]))
                self._link(org, f["target"], after)
                touched_people |= people_of(after["type"], after)
                touched_units |= self._unit_scope(after)
            self._refresh_units(org, {u for u in touched_units})
        else:
            self._link(org, e.id, f)
            touched_people |= people_of(e.type, f)
            if e.type in ("unit_formed", "unit_dissolved"):
                touched_units.add(f["unit"])
                self._refresh_units(org, {f["unit"]})
        for unit in touched_units:
            touched_people |= {r["person"] for r in c.all(
                "SELECT DISTINCT p.person FROM fact_units u JOIN fact_people p ON p.org=u.org AND p.fact=u.fact "
                "WHERE u.org=? AND u.unit=?", (org, unit))}
        for person in sorted(touched_people):
            self._rederive(org, person, recorded)

    @staticmethod
    def _unit_scope(fields: dict[str, Any]) -> set[str]:
        return {fields["unit"]} if fields["type"] in ("unit_formed", "unit_dissolved") else set()

    def _insert_fact(self, e: RecordedEvent, recorded: str) -> None:
        f = e.fields
        w = ValidTime.parse(f["effective"]) if f.get("effective") else None
        payload = json.dumps(f)
        self.c.execute(
            "INSERT INTO facts (org, id, position, type, recorded_at, effective, eff_lo, eff_hi, confidence, payload, "
            "original, writer) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (e.org, e.id, e.position, e.type, recorded, f.get("effective"),
             w.earliest.isoformat() if w else None, w.latest.isoformat() if w else None,
             f.get("confidence") or "reported", payload, payload, e.writer))

    def _link(self, org: str, fact_id: str, fields: dict[str, Any]) -> None:
        people = people_of(fields["type"], fields)
        units = units_of(fields["type"], fields)
        self.c.executemany("INSERT INTO fact_people (org, person, fact) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                           [(org, p, fact_id) for p in people])
        self.c.executemany("INSERT INTO fact_units (org, unit, fact) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                           [(org, u, fact_id) for u in units])

    def _fact(self, org: str, fact_id: str) -> dict | None:
        return self.c.one("SELECT * FROM facts WHERE org=? AND id=?", (org, fact_id))

    def _refresh_units(self, org: str, units: set[str]) -> None:
        """The units table holds each unit as currently believed (formation and dissolution)."""
        for unit in units:
            rows = self.c.all(
                "SELECT f.id, f.type, f.payload FROM fact_units u JOIN facts f ON f.org=u.org AND f.id=u.fact "
                "WHERE u.org=? AND u.unit=? AND f.type IN ('unit_formed','unit_dissolved') AND f.retracted_by IS NULL "
                "ORDER BY f.position", (org, unit))
            formed = next((r for r in rows if r["type"] == "unit_formed"), None)
            dissolved = [r for r in rows if r["type"] == "unit_dissolved"]
            self.c.execute("DELETE FROM units WHERE org=? AND slug=?", (org, unit))
            if formed is None:
                continue
            x = json.loads(formed["payload"])
            d = json.loads(dissolved[-1]["payload"]) if dissolved else None
            self.c.execute(
                "INSERT INTO units (org, slug, name, kind, mandate, commitments, formed, formed_lo, dissolved, "
                "formed_event, dissolved_event) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (org, unit, x["name"], x["kind"], x.get("mandate"), json.dumps(x.get("commitments") or []),
                 x.get("effective") or "unknown", ValidTime.parse(x.get("effective") or "unknown").earliest.isoformat(),
                 d.get("effective") if d else None, formed["id"], dissolved[-1]["id"] if dissolved else None))

    # -- re-derivation ------------------------------------------------------------------------

    def _views(self, rows: list[dict]) -> list[FactView]:
        out = []
        for r in rows:
            corrections = json.loads(r["corrections"])
            out.append(FactView(r["id"], int(r["position"]), r["type"], json.loads(r["payload"]), r["confidence"],
                                tuple(c["id"] for c in corrections)))
        return out

    def _rederive(self, org: str, person: str, recorded: str) -> None:
        c = self.c
        own = c.all(
            "SELECT f.* FROM fact_people p JOIN facts f ON f.org=p.org AND f.id=p.fact "
            "WHERE p.org=? AND p.person=? AND f.retracted_by IS NULL", (org, person))
        # A correction may have moved a fact to someone else: keep only what is about this person now.
        own = [r for r in own if person in people_of(r["type"], json.loads(r["payload"]))]
        units = sorted({u for r in own for u in units_of(r["type"], json.loads(r["payload"]))})
        formed: dict[str, str] = {}
        dissolved_ids: list[str] = []
        if units:
            marks = ",".join("?" * len(units))
            for u in c.all(f"SELECT slug, formed_lo, dissolved_event FROM units WHERE org=? AND slug IN ({marks})",
                           (org, *units)):
                formed[u["slug"]] = u["formed_lo"]
                if u["dissolved_event"]:
                    dissolved_ids.append(u["dissolved_event"])
        # The units table already knows each unit's (current) dissolution: fetch just those facts.
        dissolutions = c.all(f"SELECT * FROM facts WHERE org=? AND id IN ({','.join('?' * len(dissolved_ids))})",
                             (org, *dissolved_ids)) if dissolved_ids else []
        rows = derive(person, self._views(own + dissolutions), formed)
        self._store(org, person, [r for r in rows if r.unit is not None], "tenures", recorded)
        self._store(org, person, [r for r in rows if r.unit is None], "roles", recorded)

    def _store(self, org: str, person: str, rows: list[Row], table: str, recorded: str) -> None:
        """Close what we no longer believe and add what we newly believe, from ``recorded`` on."""
        c = self.c
        unit_col = "unit, " if table == "tenures" else ""
        current = c.all(
            f"SELECT id, {unit_col}{', '.join(TABLE_COLUMNS)} FROM {table} "
            f"WHERE org=? AND person=? AND recorded_to=?", (org, person, FOREVER))
        wanted: dict[tuple, int] = {}
        for r in rows:
            key = ((r.unit,) if table == "tenures" else ()) + _row_values(r)
            wanted[key] = wanted.get(key, 0) + 1
        stale = []
        for row in current:
            key = ((row["unit"],) if table == "tenures" else ()) + tuple(row[col] for col in TABLE_COLUMNS)
            if wanted.get(key, 0) > 0:
                wanted[key] -= 1
            else:
                stale.append(row["id"])
        if stale:
            c.execute(f"UPDATE {table} SET recorded_to=? WHERE id IN ({','.join('?' * len(stale))})",
                      (recorded, *stale))
        new = [k for k, n in wanted.items() for _ in range(n)]
        cols = unit_col + ", ".join(TABLE_COLUMNS) + ", org, recorded_from, recorded_to"
        marks = ",".join("?" * (len(TABLE_COLUMNS) + (1 if table == "tenures" else 0) + 3))
        insert = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
        offset = 1 if table == "tenures" else 0
        start_lo_at, end_hi_at = offset + TABLE_COLUMNS.index("start_lo"), offset + TABLE_COLUMNS.index("end_hi")
        still_open = [k for k in new if k[end_hi_at] == OPEN_END]
        c.executemany(insert, [k + (org, recorded, FOREVER) for k in still_open])
        closed = [k for k in new if k[end_hi_at] != OPEN_END]
        ids = c.insert_with_ids(table, cols, [k + (org, recorded, FOREVER) for k in closed])
        spans = []
        for k, row_id in zip(closed, ids):
            unit = k[0] if table == "tenures" else ""
            spans += [(table, org, unit, year, row_id) for year in span_years(k[start_lo_at], k[end_hi_at])]
        c.executemany("INSERT INTO spans (kind, org, unit, year, row_id) VALUES (?,?,?,?,?)", spans)
