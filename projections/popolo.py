"""Export an organization as Popolo, from what we currently believe (the read side)."""

from __future__ import annotations

import json
from typing import Any

from events.popolo import last_day
from events.validtime import ValidTime

from .db import Conn
from .schema import FOREVER


def _popolo_date(text: str | None) -> str | None:
    """Our valid-time text as a Popolo date, or None where Popolo has no form for it."""
    if not text:
        return None
    return text if ValidTime.parse(text).precision in ("day", "month", "year") else None


def export(conn: Conn, org: str) -> dict[str, Any]:
    units = conn.all("SELECT slug, name, kind, formed FROM units WHERE org=? ORDER BY slug", (org,))
    rows = conn.all("SELECT * FROM tenures WHERE org=? AND recorded_to=? ORDER BY unit, person, start_lo, id",
                    (org, FOREVER))
    people = {r["slug"]: r["name"] for r in conn.all(
        "SELECT DISTINCT p.slug, p.name FROM people p JOIN tenures t ON t.person=p.slug WHERE t.org=?", (org,))}
    memberships = []
    for i, r in enumerate(rows):
        m: dict[str, Any] = {"id": r["tenure_key"] or f"{r['unit']}-{r['person']}-{i}", "person_id": r["person"],
                             "organization_id": r["unit"], "role": r["role"]}
        if r["start_text"] != "unknown":
            start = _popolo_date(r["start_text"])
            m["start_date" if start else "x_orghistory_start"] = start or r["start_text"]
        if r["end_text"] is not None:
            end = last_day(r["end_text"]) if r["end_text"] != "unknown" else None
            if end and _popolo_date(end):
                m["end_date"] = end
            else:
                m["x_orghistory_end"] = end or "unknown"
        m["x_orghistory_evidence"] = json.loads(r["evidence"])
        memberships.append(m)
    return {
        "persons": [{"id": slug, "name": name} for slug, name in sorted(people.items())],
        "organizations": [{"id": u["slug"], "name": u["name"], "classification": u["kind"],
                           **({"founding_date": u["formed"]} if _popolo_date(u["formed"]) else {})} for u in units],
        "memberships": memberships,
    }
