"""Popolo (as used by EveryPolitician and mySociety) to orghistory facts, and the date rules.

Popolo's ``end_date`` is the last day a membership held; our leave takes effect the next day, so
an as-of answer equals Popolo's closed-interval reading. Missing dates are inherited from the
membership's ``legislative_period_id`` event. Nothing is dropped: memberships without a person
become noted facts, duplicate ids and overlapping memberships become separate tenures.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Iterator

from .validtime import InvalidValidTime, ValidTime

KINDS = {"board": "board", "committee": "committee", "department": "department", "office": "office"}


def slugify(value: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-")
    return (s or "x")[:100].strip("-") or "x"


def leave_effective(end_date: str) -> str:
    """The day after Popolo's last day: ``2024-04-10`` -> ``2024-04-11``; ``2024-04`` -> a window."""
    v = ValidTime.parse(end_date)
    lo, hi = v.earliest + timedelta(days=1), v.latest + timedelta(days=1)
    return lo.isoformat() if lo == hi else f"{lo.isoformat()}/{hi.isoformat()}"


def last_day(leave: str) -> str:
    """Inverse of ``leave_effective``: our leave text back to Popolo's ``end_date`` (with its precision)."""
    v = ValidTime.parse(leave)
    lo, hi = v.earliest - timedelta(days=1), v.latest - timedelta(days=1)
    if lo == hi:
        return lo.isoformat()
    for text in (lo.isoformat()[:7], lo.isoformat()[:4]):
        w = ValidTime.parse(text)
        if (w.earliest, w.latest) == (lo, hi):
            return text
    return f"{lo.isoformat()}/{hi.isoformat()}"


def _sources(record: dict) -> list[dict]:
    out = []
    for s in record.get("sources") or []:
        if isinstance(s, dict) and s.get("url"):
            src = {"url": s["url"]}
            if s.get("note"):
                src["title"] = str(s["note"])
            out.append(src)
    return out


def _date(value: Any) -> str | None:
    if not value:
        return None
    try:
        return ValidTime.parse(str(value)).text
    except InvalidValidTime:
        return None


def facts_from_popolo(doc: dict) -> tuple[list[dict], list[dict]]:
    """(people to register, facts to append) for one organization."""
    people = {}
    for p in doc.get("persons") or []:
        if p.get("id"):
            people[p["id"]] = {"slug": slugify(p["id"]), "name": p.get("name") or str(p["id"])}
    units: dict[str, dict] = {}
    orgs = {o["id"]: o for o in doc.get("organizations") or [] if o.get("id")}
    posts = {p["id"]: p for p in doc.get("posts") or [] if p.get("id")}
    periods = {e["id"]: e for e in doc.get("events") or [] if e.get("id")}
    facts: list[dict] = []

    def unit_of(org_id: str) -> str:
        if org_id not in units:
            o = orgs.get(org_id, {"id": org_id, "name": org_id})
            slug = slugify(org_id)
            units[org_id] = {"type": "unit_formed", "unit": slug, "name": o.get("name") or org_id,
                             "kind": KINDS.get(str(o.get("classification", "")).lower(), "team"),
                             "effective": _date(o.get("founding_date")) or "unknown",
                             "sources": _sources(o), "confidence": "reported",
                             "note": f"Popolo organization {org_id}"}
        return units[org_id]["unit"]

    for o in orgs:
        unit_of(o)
    seen: dict[str, int] = {}
    for i, m in enumerate(doc.get("memberships") or []):
        mid = str(m.get("id") or f"membership-{i}")
        seen[mid] = seen.get(mid, 0) + 1
        key = slugify(mid if seen[mid] == 1 else f"{mid}-{seen[mid]}")  # duplicate ids: both kept
        post = posts.get(m.get("post_id")) or {}
        org_id = m.get("organization_id") or post.get("organization_id")
        period = periods.get(m.get("legislative_period_id")) or {}
        start = _date(m.get("x_orghistory_start")) or _date(m.get("start_date")) or _date(period.get("start_date"))
        end = _date(m.get("x_orghistory_end")) or _date(m.get("end_date")) or _date(period.get("end_date"))
        role = slugify(m.get("role") or post.get("role") or "member")
        common = {"sources": _sources(m), "confidence": "reported"}
        if not m.get("person_id") or not org_id:
            facts.append({"type": "noted", "title": f"Popolo membership {mid} without a person or organization",
                          "summary": str({k: v for k, v in m.items() if k != "sources"})[:9000],
                          "effective": start or "unknown", **common})
            continue
        if m["person_id"] not in people:
            people[m["person_id"]] = {"slug": slugify(m["person_id"]), "name": str(m["person_id"])}
        person = people[m["person_id"]]["slug"]
        targets = [(unit_of(org_id), role)]
        if m.get("on_behalf_of_id"):  # a party or group is a unit of its own
            targets.append((unit_of(m["on_behalf_of_id"]), "member"))
        for unit, r in targets:
            facts.append({"type": "member_joined", "unit": unit, "person": person, "role": r, "tenure": key,
                          "effective": start or "unknown", **common})
            if end:
                facts.append({"type": "member_left", "unit": unit, "person": person, "role": r, "tenure": key,
                              "cause": "term-ended" if period and not m.get("end_date") else "unknown",
                              "effective": leave_effective(end), **common})
    return list(people.values()), list(units.values()) + facts


def chunks(items: list, n: int) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def load_popolo(app, org: str, doc: dict, batch: int = 1000, progress=None) -> dict[str, int]:
    """Import into ``org`` (registered if new) in batched atomic appends. Re-running skips units
    and people that already exist; ``progress(done, total)`` is called after each batch."""
    from .errors import AlreadyExists

    if not isinstance(doc, dict):
        raise ValueError("a Popolo document is a JSON object with persons, organizations and memberships")
    app.register_org(org, org)
    people, facts = facts_from_popolo(doc)
    new_people = 0
    for p in people:
        try:
            new_people += app.register_person(p["slug"], p["name"], "popolo-import")[1]
        except AlreadyExists:
            pass  # same slug, another name: keep the registered one
    existing_units = set(app.get_org(org).units)
    facts = [f for f in facts if not (f["type"] == "unit_formed" and f["unit"] in existing_units)]
    done = 0
    for part in chunks(facts, batch):
        app.append(org, part, writer="popolo-import")
        done += len(part)
        if progress:
            progress(done, len(facts))
    return {"people": new_people, "facts": len(facts)}
