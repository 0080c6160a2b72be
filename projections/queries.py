"""Read views as plain SQL functions: every answer takes ``as_of`` (valid time) and ``known_at``
(record time, None for "what we believe now"), and cites the events behind each entry."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Iterator, TypeVar

from events.validtime import ValidTime
from events.vocabulary import CORRECTED, RETRACTED

from .db import Conn, SQLParam
from .fold import OPEN_END
from .schema import FOREVER, WIDE
from .subscriptions import subscription as subscription  # re-exported: the API asks queries
from .subscriptions import subscription_failures as subscription_failures
from .subscriptions import subscriptions as subscriptions

T = TypeVar("T")
ROLE_ORDER = {"chair": 0, "co-chair": 1, "lead": 2, "co-lead": 3, "director": 4, "member": 5, "observer": 9}


def _known(alias: str, known_at: str | None) -> tuple[str, tuple[str, ...]]:
    if known_at is None:
        return f"{alias}.recorded_to = ?", (FOREVER,)
    return f"{alias}.recorded_from <= ? AND {alias}.recorded_to > ?", (known_at, known_at)


def _entry(row: dict[str, Any], as_of: str | None) -> dict[str, Any]:
    entry = {
        "person": row["person"],
        "name": row.get("name") or row["person"],
        "role": row["role"],
        "since": row["start_text"],
        "until": row["end_text"],
        "certain": bool(as_of is not None and row["start_hi"] <= as_of < row["end_lo"]),
        "disputed": bool(row["disputed"]),
        "evidence": json.loads(row["evidence"]),
    }
    if row.get("unit") is not None:
        entry["unit"] = row["unit"]
    if row["tenure_key"]:
        entry["tenure"] = row["tenure_key"]
    if row["end_text"] is not None:
        entry["cause"] = row["cause"]
    return entry


def _sort(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (ROLE_ORDER.get(e["role"], 6), e["role"], e["name"].lower(), e["person"]))


def evidence(conn: Conn, org: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    """The cited events, each with its sources, confidence and record time."""
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(ids), 200):
        among, among_params = conn.one_of("id", chunk)
        rows = conn.all(
            f"SELECT id, position, type, recorded_at, payload, confidence, corrections FROM facts "
            f"WHERE org=? AND {among}", (org, *among_params))
        for r in rows:
            p = json.loads(r["payload"])
            out[r["id"]] = {
                "id": r["id"], "position": int(r["position"]), "type": r["type"], "effective": p.get("effective"),
                "confidence": r["confidence"], "sources": p.get("sources") or [], "note": p.get("note"),
                "recorded_at": r["recorded_at"],
                "corrected_by": [c["id"] for c in json.loads(r["corrections"])],
            }
    return out


def _chunks(items: list[T], n: int) -> Iterator[list[T]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


ASOF_COLUMNS = ("t.person, t.role, t.tenure_key, t.start_text, t.start_hi, t.end_text, t.end_lo, t.cause, "
                "t.evidence, t.disputed")


def _alive(conn: Conn, table: str, org: str, unit: str | None, d: str, known_at: str | None) -> list[dict[str, Any]]:
    """Rows of ``table`` possibly alive on day ``d``: open rows through the covering index,
    closed rows through their span year. Neither part reads history outside that year."""
    known, kparams = _known("t", known_at)
    unit_where, unit_params = ("t.unit=? AND ", (unit,)) if unit is not None else ("", ())
    cols = ASOF_COLUMNS + (", t.unit" if unit is not None else "")
    open_part = f"SELECT {cols} FROM {table} t WHERE t.org=? AND {unit_where}t.end_hi=? AND {known} AND t.start_lo <= ?"
    # One equality lookup per span year (the date's year, and WIDE for rows spanning decades):
    # an IN list is not always used as an index condition by PostgreSQL's planner.
    closed = (f"SELECT {cols} FROM spans s JOIN {table} t ON t.id = s.row_id "
              f"WHERE s.kind=? AND s.org=? AND s.unit=? AND s.year=? AND {known} AND t.start_lo <= ? AND t.end_hi > ?")
    # One statement, one round trip: the same text for every date, so PostgreSQL can keep its plan.
    rows = conn.all(f"{open_part} UNION ALL {closed} UNION ALL {closed}",
                    (org, *unit_params, OPEN_END, *kparams, d,
                     table, org, unit or "", int(d[:4]), *kparams, d, d,
                     table, org, unit or "", WIDE, *kparams, d, d))
    names = _names(conn, {r["person"] for r in rows}, d, known_at)
    for r in rows:
        r["name"] = names.get(r["person"])
    return rows


class NameBook:
    """People's names on a day as known at a time, from every name they were given (``names``):
    a name given without a date holds for all time (as of its record time), one given with an
    ``effective`` date holds from that day on, the earlier names before it."""

    def __init__(self, conn: Conn, people: set[str]):
        self.rows: dict[str, list[dict[str, Any]]] = {}
        for chunk in _chunks(sorted(people), 500):
            among, among_params = conn.one_of("person", chunk)
            for r in conn.all(f"SELECT person, name, eff_lo, recorded_at FROM names "
                              f"WHERE {among} ORDER BY person, position", among_params):
                self.rows.setdefault(r["person"], []).append(r)

    def name(self, person: str, as_of: str | None = None, known_at: str | None = None) -> str | None:
        segments: list[tuple[str, str]] = []  # (from day, name), in day order
        for r in self.rows.get(person, ()):
            if known_at is not None and r["recorded_at"] > known_at:
                break
            if r["eff_lo"] is None:
                segments = [("", r["name"])]
            else:
                segments = [seg for seg in segments if seg[0] < r["eff_lo"]] + [(r["eff_lo"], r["name"])]
        if not segments:
            return None
        if as_of is None:
            return segments[-1][1]
        held = [name for start, name in segments if start <= as_of]
        return held[-1] if held else segments[0][1]


def _names(conn: Conn, people: set[str], as_of: str | None = None, known_at: str | None = None) -> dict[str, str]:
    book = NameBook(conn, people)
    out = {}
    for p in people:
        name = book.name(p, as_of, known_at)
        if name is not None:
            out[p] = name
    return out


def members(conn: Conn, org: str, units: list[str], as_of: date, known_at: str | None) -> list[dict[str, Any]]:
    d = as_of.isoformat()
    rows = [r for unit in units for r in _alive(conn, "tenures", org, unit, d, known_at)]
    return _sort([_entry(r, d) for r in rows])


def board_units(conn: Conn, org: str) -> list[str]:
    return [r["slug"] for r in conn.all("SELECT slug FROM units WHERE org=? AND kind='board' ORDER BY slug", (org,))]


def roles(conn: Conn, org: str, as_of: date, known_at: str | None) -> list[dict[str, Any]]:
    d = as_of.isoformat()
    rows = _alive(conn, "roles", org, None, d, known_at)
    return sorted((_entry(r, d) for r in rows), key=lambda e: (e["role"], e["name"].lower()))


def changes(conn: Conn, org: str, start: date, end: date, known_at: str | None,
            import_id: str | None = None) -> list[dict[str, Any]]:
    """Who joined and left which unit and role in ``[start, end)``, with causes, in date order;
    with ``import_id``, only the joins and leaves that import recorded or corrected."""
    a, b = start.isoformat(), end.isoformat()
    out = []
    for table in ("tenures", "roles"):
        unit = "t.unit" if table == "tenures" else "NULL AS unit"
        known, kparams = _known("t", known_at)
        cols = (f"{unit}, t.person, t.role, t.tenure_key, t.start_text, t.start_lo, t.end_text, t.end_lo, t.cause, "
                "t.start_event, t.end_event, t.disputed")
        for r in conn.all(f"SELECT {cols} FROM {table} t "
                          f"WHERE t.org=? AND {known} AND t.start_lo >= ? AND t.start_lo < ? AND t.start_text <> 'unknown'",
                          (org, *kparams, a, b)):
            out.append({"change": "joined", "date": r["start_text"], "sort": r["start_lo"], "unit": r["unit"],
                        "person": r["person"], "role": r["role"],
                        "event": r["start_event"], "disputed": bool(r["disputed"])})
        for r in conn.all(f"SELECT {cols} FROM {table} t "
                          f"WHERE t.org=? AND {known} AND t.end_text IS NOT NULL AND t.end_lo >= ? AND t.end_lo < ?",
                          (org, *kparams, a, b)):
            out.append({"change": "left", "date": r["end_text"], "sort": r["end_lo"], "unit": r["unit"],
                        "person": r["person"], "role": r["role"],
                        "cause": r["cause"], "event": r["end_event"], "disputed": bool(r["disputed"])})
    if import_id is not None:
        touched = _import_touched(conn, org, import_id)
        out = [c for c in out if c["event"] in touched]
    book = NameBook(conn, {c["person"] for c in out})
    for c in out:
        c["name"] = book.name(c["person"], c["sort"], known_at) or c["person"]
    out.sort(key=lambda c: (c["sort"], c["change"] != "left", c["person"], c["role"]))
    for c in out:
        del c["sort"]
    return out


def _import_touched(conn: Conn, org: str, import_id: str) -> set[str]:
    """The facts an import recorded, and the facts its corrections changed."""
    found = get_import(conn, org, import_id)
    if found is None or found["first_position"] is None:
        return set()
    rows = conn.all("SELECT id, type, payload FROM facts WHERE org=? AND position >= ? AND position <= ?",
                    (org, found["first_position"], found["last_position"]))
    out = {r["id"] for r in rows}
    out |= {json.loads(r["payload"])["target"] for r in rows if r["type"] == CORRECTED.name}
    return out


def _as_known(row: dict[str, Any], known_at: str | None) -> dict[str, Any] | None:
    """A fact as it was believed at ``known_at``: only corrections recorded by then applied."""
    if known_at is not None:
        if row["recorded_at"] > known_at or (row["retracted_at"] and row["retracted_at"] <= known_at):
            return None
        payload: dict[str, Any] = json.loads(row["original"])
        for c in json.loads(row["corrections"]):
            if c["recorded_at"] <= known_at:
                payload.update(c["changes"])
        return payload
    if row["retracted_by"]:
        return None
    current: dict[str, Any] = json.loads(row["payload"])
    return current


def timeline(conn: Conn, org: str, known_at: str | None, start: date | None = None, end: date | None = None,
             limit: int = 1000, import_id: str | None = None) -> list[dict[str, Any]]:
    """Facts in valid-time order with their sources (corrections and retractions are in ``history``);
    with ``import_id``, the facts that import recorded or corrected."""
    where = ["org=?", "type NOT IN (?, ?)"]
    params: list[SQLParam] = [org, CORRECTED.name, RETRACTED.name]
    if import_id is not None:
        touched = sorted(_import_touched(conn, org, import_id))
        if not touched:
            return []
        among, among_params = conn.one_of("id", touched)
        where.append(among)
        params += among_params
    # As known at a record time, a fact corrected since may have had other dates then: the date
    # filters keep every corrected fact, and judge it below by the dates it had at known_at.
    corrected = " OR corrections <> '[]'" if known_at is not None else ""
    if known_at is not None:
        where.append("recorded_at <= ?")
        params.append(known_at)
    if start:
        where.append(f"(eff_hi >= ?{corrected})")
        params.append(start.isoformat())
    if end:
        where.append(f"(eff_lo < ?{corrected})")
        params.append(end.isoformat())
    # with known_at the limit is applied after that judgement, in the order then believed
    cap = "LIMIT ?" if known_at is None else ""
    rows = conn.all(f"SELECT * FROM facts WHERE {' AND '.join(where)} ORDER BY eff_lo, eff_hi, position {cap}",
                    (*params, limit) if known_at is None else params)
    out = []
    for r in rows:
        p = _as_known(r, known_at)
        if p is None or not _within(p.get("effective"), start, end):
            continue
        out.append({"id": r["id"], "position": int(r["position"]), "recorded_at": r["recorded_at"],
                    "corrected_by": [c["id"] for c in json.loads(r["corrections"])
                                     if known_at is None or c["recorded_at"] <= known_at], **p})
    # A correction may move a fact in valid time: order by what is believed.
    out.sort(key=lambda f: (ValidTime.parse(f.get("effective") or "unknown").earliest, f["position"]))
    return out[:limit]


def _within(effective: str | None, start: date | None, end: date | None) -> bool:
    """Whether a fact dated ``effective`` may fall in ``[start, end)``."""
    when = ValidTime.parse(effective or "unknown")
    return (start is None or when.latest >= start) and (end is None or when.earliest < end)


def person_history(conn: Conn, person: str, known_at: str | None) -> list[dict[str, Any]]:
    out = []
    name = _names(conn, {person}, None, known_at).get(person)
    for table in ("tenures", "roles"):
        known, kparams = _known("t", known_at)
        for r in conn.all(f"SELECT t.* FROM {table} t WHERE t.person=? AND {known}", (person, *kparams)):
            r["name"] = name
            e = _entry(r, None)
            del e["certain"]
            e["org"] = r["org"]
            e["kind"] = "seat" if table == "tenures" else "role"
            e["_sort"] = (r["start_lo"], r["end_lo"])
            out.append(e)
    out.sort(key=lambda e: (e.pop("_sort"), e["org"], e["role"]))
    return out


def list_orgs(conn: Conn) -> list[dict[str, Any]]:
    return conn.all("SELECT slug, name, recorded_at FROM orgs ORDER BY slug")


def get_org(conn: Conn, slug: str) -> dict[str, Any] | None:
    return conn.one("SELECT slug, name, recorded_at FROM orgs WHERE slug=?", (slug,))


def list_people(conn: Conn, after: str = "", limit: int = 1000) -> list[dict[str, Any]]:
    return conn.all("SELECT slug, name, recorded_at FROM people WHERE slug > ? ORDER BY slug LIMIT ?", (after, limit))


def get_person(conn: Conn, slug: str) -> dict[str, Any] | None:
    found = conn.one("SELECT slug, name, recorded_at FROM people WHERE slug=?", (slug,))
    if found is None:
        return None
    found["identifiers"] = [{"scheme": r["scheme"], "identifier": r["value"]} for r in conn.all(
        "SELECT scheme, value FROM identifiers WHERE person=? ORDER BY scheme, value", (slug,))]
    into = conn.one("SELECT into_person, reason FROM merges WHERE person=?", (slug,))
    if into is not None:
        found["merged_into"] = into["into_person"]
    found["merged"] = [r["person"] for r in conn.all("SELECT person FROM merges WHERE into_person=? ORDER BY person",
                                                     (slug,))]
    return found


def _import_view(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "org": r["org"], "source": r["source"], "format": r["format"], "digest": r["digest"],
            "recorded_at": r["recorded_at"], "position": int(r["position"]), "writer": r["writer"],
            "events": {"count": int(r["events"]), "first": r["first_event"], "last": r["last_event"]},
            "summary": json.loads(r["summary"]),
            "first_position": None if r["first_position"] is None else int(r["first_position"]),
            "last_position": None if r["last_position"] is None else int(r["last_position"])}


def list_imports(conn: Conn, org: str, source: str | None = None) -> list[dict[str, Any]]:
    where, params = ("AND source=?", (org, source)) if source else ("", (org,))
    return [_import_view(r) for r in conn.all(f"SELECT * FROM imports WHERE org=? {where} ORDER BY position", params)]


def get_import(conn: Conn, org: str, import_id: str) -> dict[str, Any] | None:
    r = conn.one("SELECT * FROM imports WHERE org=? AND id=?", (org, import_id))
    return _import_view(r) if r else None


def list_units(conn: Conn, org: str) -> list[dict[str, Any]]:
    rows = conn.all("SELECT * FROM units WHERE org=? ORDER BY slug", (org,))
    return [{"slug": r["slug"], "name": r["name"], "kind": r["kind"], "mandate": r["mandate"],
             "commitments": json.loads(r["commitments"]), "formed": r["formed"], "dissolved": r["dissolved"],
             "evidence": [x for x in (r["formed_event"], r["dissolved_event"]) if x]} for r in rows]


def get_unit(conn: Conn, org: str, unit: str) -> dict[str, Any] | None:
    return next((u for u in list_units(conn, org) if u["slug"] == unit), None)


def position(conn: Conn) -> int:
    """The position the version ``conn`` is bound to has reached."""
    return int(conn.scalar("SELECT position FROM tracking WHERE name=?", (conn.track,)) or 0)


def why(conn: Conn, org: str, unit: str | None, person: str, as_of: date, known_at: str | None) -> dict[str, Any]:
    """Why ``person`` holds (or does not hold) a seat in ``unit`` (None: an organization role) on
    ``as_of``: the tenures alive then, each event behind them with its sources, confidence and
    record time, the corrections that changed those events, and how our knowledge of the tenure
    changed over record time."""
    d = as_of.isoformat()
    table, unit_where, params = ("tenures", "unit=? AND ", (unit,)) if unit is not None else ("roles", "", ())
    versions = conn.all(f"SELECT * FROM {table} WHERE org=? AND {unit_where}person=? ORDER BY recorded_from, id",
                        (org, *params, person))
    believed = [v for v in versions if (v["recorded_to"] == FOREVER if known_at is None
                                        else v["recorded_from"] <= known_at < v["recorded_to"])]
    alive = [v for v in believed if v["start_lo"] <= d < v["end_hi"]]
    ids = {i for v in alive for i in json.loads(v["evidence"])}
    cited = evidence(conn, org, ids)
    corrections = evidence(conn, org, {c for e in cited.values() for c in e["corrected_by"]})
    for e in cited.values():
        e["corrections"] = [corrections[c] | {"changes": _changes_of(conn, org, c)} for c in e["corrected_by"]
                            if c in corrections]
    name = _names(conn, {person}, d, known_at).get(person)
    return {
        "org": org, "unit": unit, "person": person, "name": name, "as_of": d, "known_at": known_at,
        "holds": bool(alive),
        "tenures": [_entry({**v, "name": name}, d) for v in alive],
        "chain": sorted(cited.values(), key=lambda e: e["position"]),
        "disputed": any(e["confidence"] == "disputed" for e in cited.values()),
        "knowledge": [{"since": v["start_text"], "until": v["end_text"], "role": v["role"],
                       "recorded_from": v["recorded_from"],
                       "recorded_to": None if v["recorded_to"] == FOREVER else v["recorded_to"],
                       "evidence": json.loads(v["evidence"])}
                      for v in versions if v["start_lo"] <= d < v["end_hi"]],
    }


def _changes_of(conn: Conn, org: str, correction: str) -> dict[str, Any]:
    row = conn.one("SELECT payload FROM facts WHERE org=? AND id=?", (org, correction))
    return json.loads(row["payload"]).get("changes", {}) if row else {}
