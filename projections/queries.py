"""Read views as plain SQL functions: every answer takes ``as_of`` (valid time) and ``known_at``
(record time, None for "what we believe now"), and cites the events behind each entry."""

from __future__ import annotations

from datetime import date
from typing import Literal

from events.jsontypes import JSONObject
from events.validtime import ValidTime
from events.vocabulary import CORRECTED, RETRACTED

from . import answers
from .db import Conn, DBRow, SQLParam
from .encoding import loads
from .fold import OPEN_END
from .names import NameBook
from .names import names as _names
from .schema import FOREVER, SPANS_BOUNDED, WIDE
from .subscriptions import subscription as subscription  # re-exported: the API asks queries
from .subscriptions import subscription_failures as subscription_failures
from .subscriptions import subscriptions as subscriptions

ROLE_ORDER = {"chair": 0, "co-chair": 1, "lead": 2, "co-lead": 3, "director": 4, "member": 5, "observer": 9}


def _known(alias: str, known_at: str | None) -> tuple[str, tuple[str, ...]]:
    if known_at is None:
        return f"{alias}.recorded_to = ?", (FOREVER,)
    return f"{alias}.recorded_from <= ? AND {alias}.recorded_to > ?", (known_at, known_at)


def _placement(row: DBRow) -> answers.Placement:
    out: answers.Placement = {}
    if row.get("unit") is not None:
        out["unit"] = row["unit"]
    if row["tenure_key"]:
        out["tenure"] = row["tenure_key"]
    if row["end_text"] is not None:
        out["cause"] = row["cause"]
    return out


def _entry(row: DBRow, as_of: str) -> answers.Entry:
    return {
        "person": row["person"],
        "name": row.get("name") or row["person"],
        "role": row["role"],
        "since": row["start_text"],
        "until": row["end_text"],
        "certain": bool(row["start_hi"] <= as_of < row["end_lo"]),
        "disputed": bool(row["disputed"]),
        "evidence": loads(row["evidence"]),
        **_placement(row),
    }


def _sort(entries: list[answers.Entry]) -> list[answers.Entry]:
    return sorted(entries, key=lambda e: (ROLE_ORDER.get(e["role"], 6), e["role"], e["name"].lower(), e["person"]))


def evidence(conn: Conn, org: str, ids: set[str]) -> dict[str, answers.Evidence]:
    """The cited events, each with its sources, confidence and record time."""
    out: dict[str, answers.Evidence] = {}
    for r in conn.all_among("SELECT id, position, type, recorded_at, payload, confidence, corrections FROM facts "
                            "WHERE org=? AND {among}", "id", list(ids), (org,), chunk=200):
        p = loads(r["payload"])
        out[r["id"]] = {
            "id": r["id"], "position": int(r["position"]), "type": r["type"], "effective": p.get("effective"),
            "confidence": r["confidence"], "sources": p.get("sources") or [], "note": p.get("note"),
            "recorded_at": r["recorded_at"],
            "corrected_by": [c["id"] for c in loads(r["corrections"])],
        }
    return out


ASOF_COLUMNS = ("t.person, t.role, t.tenure_key, t.start_text, t.start_hi, t.end_text, t.end_lo, t.cause, "
                "t.evidence, t.disputed")


def _alive(conn: Conn, table: str, org: str, unit: str | None, d: str, known_at: str | None) -> list[DBRow]:
    """Rows of ``table`` possibly alive on day ``d``: open rows through the covering index,
    closed rows through their span year. Neither part reads history outside that year."""
    known, kparams = _known("t", known_at)
    unit_where, unit_params = ("t.unit=? AND ", (unit,)) if unit is not None else ("", ())
    cols = "t.id, " + ASOF_COLUMNS + (", t.unit" if unit is not None else "")
    open_part = f"SELECT {cols} FROM {table} t WHERE t.org=? AND {unit_where}t.end_hi=? AND {known} AND t.start_lo <= ?"
    # One equality lookup per span year (the date's year, and WIDE for rows spanning decades):
    # an IN list is not always used as an index condition by PostgreSQL's planner. The rows not
    # alive on the day are passed over by the bounds in the spans key, where the version has them.
    bounds = "s" if (conn.schema or 1) >= SPANS_BOUNDED else "t"
    closed = (f"SELECT {cols} FROM spans s JOIN {table} t ON t.id = s.row_id "
              f"WHERE s.kind=? AND s.org=? AND s.unit=? AND s.year=? AND {bounds}.end_hi > ? AND {bounds}.start_lo <= ? "
              f"AND {known}")
    # One statement, one round trip, the names of the people included: the same text for every
    # date, so PostgreSQL can keep its plan.
    joined = conn.all(f"SELECT a.*, n.name AS given_name, n.eff_lo AS given_from, n.recorded_at AS given_at "
                      f"FROM ({open_part} UNION ALL {closed} UNION ALL {closed}) a "
                      f"LEFT JOIN names n ON n.person = a.person ORDER BY a.id, n.position",
                      (org, *unit_params, OPEN_END, *kparams, d,
                       table, org, unit or "", int(d[:4]), d, d, *kparams,
                       table, org, unit or "", WIDE, d, d, *kparams))
    rows: dict[int, DBRow] = {}
    book = NameBook()
    first_row: dict[str, int] = {}  # each person's names, taken once (from their first row)
    for r in joined:
        row_id = r.pop("id")
        given = {"name": r.pop("given_name"), "eff_lo": r.pop("given_from"), "recorded_at": r.pop("given_at")}
        rows.setdefault(row_id, r)
        if first_row.setdefault(r["person"], row_id) == row_id and given["name"] is not None:
            book.give(r["person"], given)
    for r in rows.values():
        r["name"] = book.name(r["person"], d, known_at)
    return list(rows.values())


def members(conn: Conn, org: str, units: list[str], as_of: date, known_at: str | None) -> list[answers.Entry]:
    d = as_of.isoformat()
    rows = [r for unit in units for r in _alive(conn, "tenures", org, unit, d, known_at)]
    return _sort([_entry(r, d) for r in rows])


def board_units(conn: Conn, org: str) -> list[str]:
    return [r["slug"] for r in conn.all("SELECT slug FROM units WHERE org=? AND kind='board' ORDER BY slug", (org,))]


def roles(conn: Conn, org: str, as_of: date, known_at: str | None) -> list[answers.Entry]:
    d = as_of.isoformat()
    rows = _alive(conn, "roles", org, None, d, known_at)
    return sorted((_entry(r, d) for r in rows), key=lambda e: (e["role"], e["name"].lower()))


def changes(conn: Conn, org: str, start: date, end: date, known_at: str | None,
            import_id: str | None = None) -> list[answers.Change]:
    """Who joined and left which unit and role in ``[start, end)``, with causes, in date order;
    with ``import_id``, only the joins and leaves that import recorded or corrected."""
    a, b = start.isoformat(), end.isoformat()
    found: list[tuple[Literal["joined", "left"], DBRow]] = []  # as read: tenures, then roles
    for table in ("tenures", "roles"):
        unit = "t.unit" if table == "tenures" else "NULL AS unit"
        known, kparams = _known("t", known_at)
        cols = (f"{unit}, t.person, t.role, t.tenure_key, t.start_text, t.start_lo, t.end_text, t.end_lo, t.cause, "
                "t.start_event, t.end_event, t.disputed")
        found += [("joined", r) for r in conn.all(
            f"SELECT {cols} FROM {table} t "
            f"WHERE t.org=? AND {known} AND t.start_lo >= ? AND t.start_lo < ? AND t.start_text <> 'unknown'",
            (org, *kparams, a, b))]
        found += [("left", r) for r in conn.all(
            f"SELECT {cols} FROM {table} t "
            f"WHERE t.org=? AND {known} AND t.end_text IS NOT NULL AND t.end_lo >= ? AND t.end_lo < ?",
            (org, *kparams, a, b))]
    if import_id is not None:
        touched = _import_touched(conn, org, import_id)
        found = [(kind, r) for kind, r in found if r["start_event" if kind == "joined" else "end_event"] in touched]
    book = NameBook.read(conn, {r["person"] for _, r in found})
    out = [_change(kind, r, book, known_at) for kind, r in found]
    out.sort(key=lambda c: (c[0], c[1]["change"] != "left", c[1]["person"], c[1]["role"]))
    return [c for _, c in out]


def _change(kind: Literal["joined", "left"], r: DBRow, book: NameBook,
            known_at: str | None) -> tuple[str, answers.Change]:
    """A join or leave, with the day it is sorted by."""
    if kind == "joined":
        name = book.name(r["person"], r["start_lo"], known_at) or r["person"]
        return r["start_lo"], {"change": "joined", "date": r["start_text"], "unit": r["unit"], "person": r["person"],
                               "role": r["role"], "event": r["start_event"], "disputed": bool(r["disputed"]),
                               "name": name}
    name = book.name(r["person"], r["end_lo"], known_at) or r["person"]
    return r["end_lo"], {"change": "left", "date": r["end_text"], "unit": r["unit"], "person": r["person"],
                         "role": r["role"], "cause": r["cause"], "event": r["end_event"],
                         "disputed": bool(r["disputed"]), "name": name}


def _import_touched(conn: Conn, org: str, import_id: str) -> set[str]:
    """The facts an import recorded, and the facts its corrections changed."""
    found = get_import(conn, org, import_id)
    if found is None or found["first_position"] is None:
        return set()
    rows = conn.all("SELECT id, type, payload FROM facts WHERE org=? AND position >= ? AND position <= ?",
                    (org, found["first_position"], found["last_position"]))
    out = {r["id"] for r in rows}
    out |= {loads(r["payload"])["target"] for r in rows if r["type"] == CORRECTED.name}
    return out


def _as_known(row: DBRow, known_at: str | None) -> JSONObject | None:
    """A fact as it was believed at ``known_at``: only corrections recorded by then applied."""
    if known_at is not None:
        if row["recorded_at"] > known_at or (row["retracted_at"] and row["retracted_at"] <= known_at):
            return None
        payload: JSONObject = loads(row["original"])
        for c in loads(row["corrections"]):
            if c["recorded_at"] <= known_at:
                payload.update(c["changes"])
        return payload
    if row["retracted_by"]:
        return None
    current: JSONObject = loads(row["payload"])
    return current


def timeline(conn: Conn, org: str, known_at: str | None, start: date | None = None, end: date | None = None,
             limit: int = 1000, import_id: str | None = None) -> list[answers.TimelineFact]:
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
        header: answers.FactHeader = {"id": r["id"], "position": int(r["position"]), "recorded_at": r["recorded_at"],
                                      "corrected_by": [c["id"] for c in loads(r["corrections"])
                                                       if known_at is None or c["recorded_at"] <= known_at]}
        out.append(answers.timeline_fact(header, p))
    # A correction may move a fact in valid time: order by what is believed.
    out.sort(key=lambda f: (ValidTime.parse(f.get("effective") or "unknown").earliest, f["position"]))
    return out[:limit]


def _within(effective: str | None, start: date | None, end: date | None) -> bool:
    """Whether a fact dated ``effective`` may fall in ``[start, end)``."""
    when = ValidTime.parse(effective or "unknown")
    return (start is None or when.latest >= start) and (end is None or when.earliest < end)


def person_history(conn: Conn, person: str, known_at: str | None) -> list[answers.HistoryEntry]:
    out: list[tuple[tuple[str, str], answers.HistoryEntry]] = []  # (start, end) to sort by, the entry
    name = _names(conn, {person}, None, known_at).get(person)
    for table in ("tenures", "roles"):
        known, kparams = _known("t", known_at)
        for r in conn.all(f"SELECT t.* FROM {table} t WHERE t.person=? AND {known}", (person, *kparams)):
            out.append(((r["start_lo"], r["end_lo"]), {
                "person": r["person"], "name": name or r["person"], "role": r["role"], "since": r["start_text"],
                "until": r["end_text"], "disputed": bool(r["disputed"]), "evidence": loads(r["evidence"]),
                **_placement(r), "org": r["org"], "kind": "seat" if table == "tenures" else "role"}))
    out.sort(key=lambda e: (e[0], e[1]["org"], e[1]["role"]))
    return [e for _, e in out]


def _listed(r: DBRow) -> answers.Listed:
    return {"slug": r["slug"], "name": r["name"], "recorded_at": r["recorded_at"]}


def list_orgs(conn: Conn) -> list[answers.Listed]:
    return [_listed(r) for r in conn.all("SELECT slug, name, recorded_at FROM orgs ORDER BY slug")]


def get_org(conn: Conn, slug: str) -> answers.Listed | None:
    found = conn.one("SELECT slug, name, recorded_at FROM orgs WHERE slug=?", (slug,))
    return None if found is None else _listed(found)


def list_people(conn: Conn, after: str = "", limit: int = 1000) -> list[answers.Listed]:
    return [_listed(r) for r in conn.all("SELECT slug, name, recorded_at FROM people WHERE slug > ? ORDER BY slug "
                                         "LIMIT ?", (after, limit))]


def get_person(conn: Conn, slug: str) -> answers.Person | None:
    found = conn.one("SELECT slug, name, recorded_at FROM people WHERE slug=?", (slug,))
    if found is None:
        return None
    identifiers: list[answers.Identifier] = [{"scheme": r["scheme"], "identifier": r["value"]} for r in conn.all(
        "SELECT scheme, value FROM identifiers WHERE person=? ORDER BY scheme, value", (slug,))]
    into = conn.one("SELECT into_person, reason FROM merges WHERE person=?", (slug,))
    merged = [r["person"] for r in conn.all("SELECT person FROM merges WHERE into_person=? ORDER BY person", (slug,))]
    if into is None:  # spelled out: from a ``**_listed(found)`` mypy would ask where merged_into went
        return answers.Person(slug=found["slug"], name=found["name"], recorded_at=found["recorded_at"],
                              identifiers=identifiers, merged=merged)
    return answers.Person(**_listed(found), identifiers=identifiers, merged_into=into["into_person"], merged=merged)


def _import_view(r: DBRow) -> answers.Import:
    return {"id": r["id"], "org": r["org"], "source": r["source"], "format": r["format"], "digest": r["digest"],
            "recorded_at": r["recorded_at"], "position": int(r["position"]), "writer": r["writer"],
            "events": {"count": int(r["events"]), "first": r["first_event"], "last": r["last_event"]},
            "summary": loads(r["summary"]),
            "first_position": None if r["first_position"] is None else int(r["first_position"]),
            "last_position": None if r["last_position"] is None else int(r["last_position"])}


def list_imports(conn: Conn, org: str, source: str | None = None) -> list[answers.Import]:
    where, params = ("AND source=?", (org, source)) if source else ("", (org,))
    return [_import_view(r) for r in conn.all(f"SELECT * FROM imports WHERE org=? {where} ORDER BY position", params)]


def get_import(conn: Conn, org: str, import_id: str) -> answers.Import | None:
    r = conn.one("SELECT * FROM imports WHERE org=? AND id=?", (org, import_id))
    return _import_view(r) if r else None


def list_units(conn: Conn, org: str) -> list[answers.Unit]:
    rows = conn.all("SELECT * FROM units WHERE org=? ORDER BY slug", (org,))
    return [{"slug": r["slug"], "name": r["name"], "kind": r["kind"], "mandate": r["mandate"],
             "commitments": loads(r["commitments"]), "formed": r["formed"], "dissolved": r["dissolved"],
             "evidence": [x for x in (r["formed_event"], r["dissolved_event"]) if x]} for r in rows]


def get_unit(conn: Conn, org: str, unit: str) -> answers.Unit | None:
    return next((u for u in list_units(conn, org) if u["slug"] == unit), None)


def position(conn: Conn) -> int:
    """The position the version ``conn`` is bound to has reached (as its read saw it on binding)."""
    if conn.bound_position is not None:
        return conn.bound_position
    return int(conn.scalar("SELECT position FROM tracking WHERE name=?", (conn.track,)) or 0)


def why(conn: Conn, org: str, unit: str | None, person: str, as_of: date, known_at: str | None) -> answers.Why:
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
    ids = {i for v in alive for i in loads(v["evidence"])}
    cited = evidence(conn, org, ids)
    corrections = evidence(conn, org, {c for e in cited.values() for c in e["corrected_by"]})
    for e in cited.values():
        e["corrections"] = [answers.Correction(**corrections[c], changes=_changes_of(conn, org, c))
                            for c in e["corrected_by"] if c in corrections]
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
                       "evidence": loads(v["evidence"])}
                      for v in versions if v["start_lo"] <= d < v["end_hi"]],
    }


def _changes_of(conn: Conn, org: str, correction: str) -> JSONObject:
    row = conn.one("SELECT payload FROM facts WHERE org=? AND id=?", (org, correction))
    changes: JSONObject = loads(row["payload"]).get("changes", {}) if row else {}
    return changes
