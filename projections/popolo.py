"""Export an organization as Popolo, from what we currently believe (the read side).

Faithful enough to go round: importing the export into a fresh organization gives the same as-of
answers, and importing it back (as the same source) into the organization it came from finds
nothing to change. So each source record is one membership again (its seat in a group as its
``on_behalf_of_id``, under its own id), people and units carry their slugs as ``orghistory``
identifiers, units their classification and sources, and records the import rejected come back as
``x_orghistory_rejected`` with their reasons.
"""

from __future__ import annotations

import json
from typing import Iterable

from events.imports.model import ORGHISTORY_SCHEME, last_day, slugify
from events.imports.sync import noted_text
from events.jsontypes import JSONObject
from events.validtime import ValidTime
from events.vocabulary import NOTED

from .answers import (
    Identifier,
    MembershipDetails,
    MembershipLinks,
    PopoloDocument,
    PopoloMembership,
    PopoloOrganization,
    PopoloPost,
    RejectedRecord,
)
from .db import Conn, DBRow
from .schema import FOREVER


def popolo_date(text: str | None) -> str | None:
    """Our valid-time text as a Popolo date, or None where Popolo has no form for it."""
    if not text or text == "unknown":
        return None
    return text if ValidTime.parse(text).precision in ("day", "month", "year") else None


def popolo_sources(sources: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """Our sources as Popolo's ``{url, note}`` (our title is Popolo's note); other fields kept."""
    out = []
    for s in sources:
        p = {k: v for k, v in s.items() if k != "title"}
        if s.get("title"):
            p["note"] = s["title"]
        out.append(p)
    return out


def fact_payloads(conn: Conn, org: str, ids: set[str]) -> dict[str, JSONObject]:
    """The current fields of facts ``ids`` of ``org``, by id."""
    return {r["id"]: json.loads(r["payload"])
            for r in conn.all_among("SELECT id, payload FROM facts WHERE org=? AND {among}", "id", list(ids), (org,))}


def _identifiers(conn: Conn, people: list[str]) -> dict[str, list[Identifier]]:
    out: dict[str, list[Identifier]] = {p: [{"scheme": ORGHISTORY_SCHEME, "identifier": p}] for p in people}
    for r in conn.all("SELECT scheme, value, person FROM identifiers ORDER BY scheme, value"):
        if r["person"] in out:
            out[r["person"]].append({"scheme": r["scheme"], "identifier": r["value"]})
    return out


def export(conn: Conn, org: str, source: str | None = None) -> PopoloDocument:
    """The organization as Popolo; with ``source``, only the memberships that source gave."""
    org_row = conn.one("SELECT slug, name FROM orgs WHERE slug=?", (org,))
    units = conn.all("SELECT slug, name, kind, formed, formed_event FROM units WHERE org=? ORDER BY slug", (org,))
    rows = conn.all("SELECT * FROM tenures WHERE org=? AND recorded_to=? ORDER BY unit, person, start_lo, id",
                    (org, FOREVER))
    joins = fact_payloads(conn, org, {r["start_event"] for r in rows if r["start_event"]} |
                   {u["formed_event"] for u in units})
    # Units keep the id their source gave them (the slug is their orghistory identifier): an export
    # imported back as the same source names the same records.
    export_id: dict[str, str] = {}
    for u in units:
        record = (joins.get(u["formed_event"], {}).get("origin") or {}).get("record")
        export_id[u["slug"]] = record if record and record not in export_id.values() else u["slug"]
    memberships, posts = _memberships(rows, joins, source, export_id)
    rejected = _rejected(conn, org, source)
    people = sorted({m["person_id"] for m in memberships})
    names = {r["slug"]: r["name"] for r in conn.all_among("SELECT slug, name FROM people WHERE {among}", "slug", people)}
    identifiers = _identifiers(conn, people)
    organizations = []
    for u in units:
        formed = joins.get(u["formed_event"], {})
        o: PopoloOrganization = {"id": export_id[u["slug"]], "name": u["name"],
                                 "classification": formed.get("classification") or u["kind"],
                                 "x_orghistory_kind": u["kind"],
                                 "identifiers": [{"scheme": ORGHISTORY_SCHEME, "identifier": u["slug"]}]}
        if popolo_date(u["formed"]):
            o["founding_date"] = u["formed"]
        elif u["formed"] != "unknown":
            o["x_orghistory_founded"] = u["formed"]
        if formed.get("sources"):
            o["sources"] = popolo_sources(formed["sources"])
        organizations.append(o)
    doc: PopoloDocument = {
        "x_orghistory_org": {"slug": org, "name": org_row["name"] if org_row else org},
        "persons": [{"id": p, "name": names.get(p, p), "identifiers": identifiers[p]} for p in people],
        "organizations": organizations,
        "memberships": memberships,
    }
    if posts:
        doc["posts"] = posts
    if rejected:
        doc["x_orghistory_rejected"] = rejected
    return doc


def _memberships(rows: list[DBRow], joins: dict[str, JSONObject], source: str | None,
                 export_id: dict[str, str]) -> tuple[list[PopoloMembership], list[PopoloPost]]:
    """One membership per source record (its main seat, with its group seat as on_behalf_of);
    one per tenure for facts recorded by hand."""
    # (source, record) of a source's record; ("", tenure, row index) of a fact recorded by hand
    records: dict[tuple[str, str] | tuple[str, str, int], dict[str, list[DBRow]]] = {}
    for i, r in enumerate(rows):
        join = joins.get(r["start_event"] or "", {})
        origin = join.get("origin")
        if source is not None and (origin or {}).get("source") != source:
            continue
        key: tuple[str, str] | tuple[str, str, int] = (
            (origin["source"], origin["record"]) if origin else ("", r["tenure_key"] or f"{r['unit']}-{r['person']}", i))
        part = (origin or {}).get("part") or "main"
        records.setdefault(key, {}).setdefault(part, []).append({**r, "_join": join})
    sources_of = {k[0] for k in records if k[0]}
    memberships: list[PopoloMembership] = []
    posts: dict[str, PopoloPost] = {}
    used: set[str] = set()
    for key, parts in records.items():
        mains = parts.get("main") or parts.get("group") or []
        group = parts.get("group") if "main" in parts else None
        for n, r in enumerate(mains):
            record = key[1] if len(sources_of) <= 1 or not key[0] else f"{key[0]}:{key[1]}"
            mid = record if n == 0 else f"{record}#{n + 1}"
            while mid in used:
                mid += "+"
            used.add(mid)
            links: MembershipLinks = {}
            if group and n < len(group):
                links["on_behalf_of_id"] = export_id[group[n]["unit"]]
            post = r["_join"].get("post")
            if post:
                post_id = slugify(f"{r['unit']}-{post}")
                posts[post_id] = {"id": post_id, "label": post, "organization_id": export_id[r["unit"]]}
                links["post_id"] = post_id
            memberships.append(_membership(mid, r, export_id[r["unit"]], links))
    return memberships, sorted(posts.values(), key=lambda p: p["id"])


def _membership(mid: str, r: DBRow, unit_id: str, links: MembershipLinks) -> PopoloMembership:
    join = r["_join"]
    m: MembershipDetails = {}
    role = join.get("title") or (r["role"] if r["role"] != "member" else None)
    if role:
        m["role"] = role
    if r["start_text"] != "unknown":
        start = popolo_date(r["start_text"])
        if start:
            m["start_date"] = start
        else:
            m["x_orghistory_start"] = r["start_text"]
    if r["end_text"] is not None:
        end = last_day(r["end_text"])
        if popolo_date(end):
            m["end_date"] = end
        else:
            m["x_orghistory_end"] = end
        if r["cause"] and r["cause"] != "unknown":
            m["x_orghistory_cause"] = r["cause"]
    if join.get("sources"):
        m["sources"] = popolo_sources(join["sources"])
    return {"id": mid, "person_id": r["person"], "organization_id": unit_id, **m,
            "x_orghistory_evidence": json.loads(r["evidence"]), **links}


def _rejected(conn: Conn, org: str, source: str | None) -> list[RejectedRecord]:
    """The records imports rejected (kept as noted facts), as they were given, with the reasons."""
    out: list[RejectedRecord] = []
    for r in conn.all("SELECT payload FROM facts WHERE org=? AND type=? AND retracted_by IS NULL "
                      "ORDER BY position", (org, NOTED.name)):
        p = json.loads(r["payload"])
        origin = p.get("origin") or {}
        if origin.get("part") != "rejected" or (source is not None and origin.get("source") != source):
            continue
        prefix = noted_text("", origin["record"], origin["source"])
        reason = p["title"][len(prefix):] if p["title"].startswith(prefix) else p["title"]
        try:
            record = json.loads(p.get("summary") or "{}")
        except ValueError:
            record = {}
        rejected: RejectedRecord = {"id": origin["record"], "reason": reason, "record": record}
        if p.get("effective") not in (None, "unknown"):
            rejected["effective"] = p["effective"]
        out.append(rejected)
    return out
