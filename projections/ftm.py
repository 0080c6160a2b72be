"""Export an organization as FollowTheMoney entities, from what we currently believe.

People are ``Person`` entities, units ``PublicBody``/``Organization`` entities (an office made
from a position of no organization is that ``Position`` again), a membership with a post is an
``Occupancy`` of a ``Position``, any other a ``Membership``. Our own entities carry ids the reader
takes back as our slugs (``orghistory.person.<slug>``), and each membership the id of the record
it came from, so an export imported back (as the same source) changes nothing. FtM has no place
for date windows or causes: those are left out (see ``popolo.py`` for a lossless export).
"""

from __future__ import annotations

import re
from typing import Iterator

from events.imports.ftm import ID_PREFIX
from events.imports.model import last_day, slugify

from .answers import FtMEntity
from .db import Conn
from .popolo import fact_payloads, popolo_date
from .schema import FOREVER

_FTM_ID = re.compile(r"^[0-9a-zA-Z]([0-9a-zA-Z.\-]*[0-9a-zA-Z])?$")


def _entity(eid: str, schema: str, **props: list[str] | str | None) -> FtMEntity:
    clean = {k: (v if isinstance(v, list) else [v]) for k, v in props.items() if v not in (None, [], "")}
    return {"id": eid, "schema": schema, "properties": clean}


def _record_id(record: str, fallback: str) -> str:
    """A membership's entity id: its source record id where FtM takes it as one."""
    return record if _FTM_ID.match(record) else f"orghistory.record.{slugify(record)}-{fallback}"


def _urls(sources: list[dict[str, str]]) -> list[str]:
    return [s["url"] for s in sources if s.get("url")]


def export(conn: Conn, org: str, source: str | None = None) -> Iterator[FtMEntity]:
    """The entities, people and units first, then positions, then the links between them."""
    units = conn.all("SELECT slug, name, kind, formed, formed_event FROM units WHERE org=? ORDER BY slug", (org,))
    rows = conn.all("SELECT * FROM tenures WHERE org=? AND recorded_to=? ORDER BY unit, person, start_lo, id",
                    (org, FOREVER))
    facts = fact_payloads(conn, org, {r["start_event"] for r in rows if r["start_event"]} |
                          {u["formed_event"] for u in units})
    # Units keep the entity id their source gave them where there is one (so an export imported
    # back as the same source names the same records); ours otherwise.
    unit_id: dict[str, str] = {}
    for u in units:
        record = ((facts.get(u["formed_event"]) or {}).get("origin") or {}).get("record")
        if record and _FTM_ID.match(record) and record not in unit_id.values():
            unit_id[u["slug"]] = record
        else:
            unit_id[u["slug"]] = ID_PREFIX["unit"] + u["slug"]
    offices = {u["slug"] for u in units if (facts.get(u["formed_event"]) or {}).get("classification") == "position"}
    links, positions, people = [], {}, set()
    for n, r in enumerate(rows):
        join = facts.get(r["start_event"] or "", {})
        origin = join.get("origin") or {}
        if source is not None and origin.get("source") != source:
            continue
        if origin.get("part") == "group":
            continue  # a Popolo group seat: FtM has no such link (see popolo.py)
        person = ID_PREFIX["person"] + r["person"]
        people.add(r["person"])
        dates = {"startDate": popolo_date(r["start_text"])}
        end = last_day(r["end_text"]) if r["end_text"] is not None else None
        dates["endDate"] = popolo_date(end) if end else None
        record = _record_id(origin.get("record") or r["tenure_key"] or "tenure", str(n))
        urls = _urls(join.get("sources") or [])
        post = join.get("post")
        if post or r["unit"] in offices:
            title = post or join.get("title") or r["role"]
            if r["unit"] in offices:
                position = unit_id[r["unit"]]
            else:
                position = f"orghistory.post.{r['unit']}.{slugify(title)}"
                positions[position] = _entity(position, "Position", name=title, organization=unit_id[r["unit"]])
            status = "ended" if r["end_text"] is not None else "current"
            links.append(_entity(record, "Occupancy", holder=person, post=position, status=status,
                                 sourceUrl=urls, **dates))
        else:
            links.append(_entity(record, "Membership", member=person, organization=unit_id[r["unit"]],
                                 role=join.get("title") or (r["role"] if r["role"] != "member" else None),
                                 sourceUrl=urls, **dates))
    names = dict((r["slug"], r["name"]) for r in conn.all("SELECT slug, name FROM people")) if people else {}
    wikidata: dict[str, list[str]] = {}
    for r in conn.all("SELECT value, person FROM identifiers WHERE scheme='wikidata' ORDER BY value"):
        wikidata.setdefault(r["person"], []).append(r["value"])
    for p in sorted(people):
        yield _entity(ID_PREFIX["person"] + p, "Person", name=names.get(p, p), wikidataId=wikidata.get(p, []))
    for u in units:
        formed = facts.get(u["formed_event"]) or {}
        founded = popolo_date(u["formed"])
        urls = _urls(formed.get("sources") or [])
        if u["slug"] in offices:
            yield _entity(unit_id[u["slug"]], "Position", name=u["name"], inceptionDate=founded, sourceUrl=urls)
        else:
            classification = formed.get("classification") or u["kind"]
            schema = "PublicBody" if classification == "PublicBody" or u["kind"] == "office" else "Organization"
            yield _entity(unit_id[u["slug"]], schema, name=u["name"], classification=classification,
                          incorporationDate=founded, sourceUrl=urls)
    yield from positions.values()
    yield from links
