"""FollowTheMoney entities (as OpenSanctions and Aleph publish them, one JSON object a line) to a
``Dataset``, with the ``followthemoney`` package's own model: its schemata (and their
inheritance: a ``PublicBody`` is an ``Organization``), their properties and property types.

- ``Person`` -> a person (``wikidataId`` values are identifiers);
- anything that is an ``Organization`` (``PublicBody``, ``Company``, ...) -> a unit;
- ``Position`` -> a post; its ``organization`` is the unit its holders sit in; a position of no
  organization (most in OpenSanctions) is a unit of its own, an office;
- ``Occupancy`` (holder, post), ``Membership`` (member, organization), ``Directorship`` (director,
  organization), ``Employment`` (employee, employer) -> memberships, keyed by their entity ids;
  an occupancy whose ``status`` is ``ended`` with no ``endDate`` ended on a day we do not know.

FtM's ``endDate`` is read as the last day held, as Popolo's ``end_date`` is. The package itself
accepts unknown properties and bad values by dropping them; this reader refuses them instead,
naming the place (``entities[12].properties.startDate[0]``), because silently dropping a date
would invent a tenure. Entities of other schemata are counted and left out. Fragments of one
entity (the same id on several lines) are merged, as FtM streams do.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from ..errors import InvalidFact, Unavailable
from ..vocabulary import sources as check_sources
from ..vocabulary import text
from . import model as records  # the shared record types, by their module's name
from .model import digest, ends_before_start, membership_leave, popolo_date, slugify

FORMAT = "ftm"
MAX_ENTITIES = 500_000
# Our ids written into exports (``orghistory.person.<slug>``): read back as that slug.
ID_PREFIX = {"person": "orghistory.person.", "unit": "orghistory.unit."}
KINDS = {"board": "board", "committee": "committee", "department": "department", "office": "office"}
# Membership-like schemata: (person property, organization property, default role).
LINKS = {"Membership": ("member", "organization", "member"),
         "Directorship": ("director", "organization", "director"),
         "Employment": ("employee", "employer", "employee")}


def ftm_model() -> Any:  # followthemoney publishes no types
    """The followthemoney model, or ``Unavailable`` when the optional package is not installed."""
    try:
        from followthemoney import model
    except ImportError:  # pragma: no cover - depends on the installation
        raise Unavailable("FollowTheMoney needs the 'ftm' extra: pip install 'orghistory[ftm]' "
                          "(it builds PyICU: libicu-dev, pkg-config and a C++ compiler)", "format") from None
    return model


def parse_lines(lines: Iterable[str]) -> list[tuple[str, Any]]:
    """NDJSON lines -> [(path, object)], blank lines skipped; ``InvalidFact`` names a bad line."""
    out: list[tuple[str, Any]] = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        path = f"entities[{len(out)}]"
        try:
            out.append((path, json.loads(line)))
        except ValueError as e:
            raise InvalidFact(f"line {number + 1} is not JSON: {e}", path) from None
        except RecursionError:
            raise InvalidFact(f"line {number + 1} nests too deep", path) from None
        if len(out) > MAX_ENTITIES:
            raise InvalidFact(f"at most {MAX_ENTITIES} entities", path)
    return out


def read_ftm(entities: Iterable[tuple[str, Any]]) -> records.Dataset:
    """The dataset the entities describe; ``InvalidFact`` (with the path) if one is malformed."""
    model = ftm_model()
    merged: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for path, raw in entities:
        eid, schema, props = _check(model, path, raw)
        known = merged.get(eid)
        if known is None:
            merged[eid] = {"path": path, "schema": schema, "props": props}
            order.append(eid)
            continue
        common = model.common_schema(known["schema"], schema) if known["schema"] != schema else schema
        if common is None:  # pragma: no cover - common_schema raises instead
            raise InvalidFact(f"entity {eid!r} is a {known['schema'].name} elsewhere", f"{path}.schema")
        known["schema"] = common
        for name, values in props.items():
            known["props"].setdefault(name, [])
            known["props"][name] += [v for v in values if v not in known["props"][name]]
    data = records.Dataset(FORMAT, digest(FORMAT, [{"id": e, "schema": merged[e]["schema"].name,
                                            "properties": {k: sorted(v) for k, v in merged[e]["props"].items()}}
                                           for e in sorted(merged)]))
    ignored: dict[str, int] = {}
    posts: dict[str, dict[str, Any]] = {}
    for eid in order:
        e = merged[eid]
        schema, props, path = e["schema"], e["props"], e["path"]
        if schema.is_a("Person"):
            _person(data, eid, path, props)
        elif schema.is_a("Organization"):
            _unit(data, eid, path, schema.name, props)
        elif schema.name == "Position":
            posts[eid] = {"path": path, "props": props}
        elif schema.name not in ("Occupancy", *LINKS):
            ignored[schema.name] = ignored.get(schema.name, 0) + 1
    for eid, post in posts.items():
        _position(data, eid, post["path"], post["props"])
    for eid in order:
        e = merged[eid]
        if e["schema"].name in ("Occupancy", *LINKS):
            _link(data, eid, e["path"], e["schema"].name, e["props"], posts)
    data.ignored = ignored
    return data


def _check(model: Any, path: str, raw: Any) -> tuple[str, Any, dict[str, list[str]]]:
    """Id, schema and properties of one entity, each checked against the FtM model."""
    if not isinstance(raw, dict):
        raise InvalidFact("must be a FollowTheMoney entity: an object with id, schema and properties", path)
    eid = raw.get("id")
    if not isinstance(eid, str) or not eid.strip():
        raise InvalidFact("is required: the entity's id", f"{path}.id")
    text(eid, f"{path}.id")
    schema = model.get(raw.get("schema")) if isinstance(raw.get("schema"), str) else None
    if schema is None:
        raise InvalidFact("must be a FollowTheMoney schema (Person, Organization, Position, Occupancy, ...)",
                          f"{path}.schema")
    props = raw.get("properties", {})
    if not isinstance(props, dict):
        raise InvalidFact("must be an object of property lists", f"{path}.properties")
    clean: dict[str, list[str]] = {}
    for name, values in props.items():
        p = f"{path}.properties.{name}"
        if schema.get(name) is None:
            raise InvalidFact(f"{schema.name} has no property {name!r}", p)
        if not isinstance(values, list):
            raise InvalidFact("must be a list of strings", p)
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise InvalidFact("must be a string", f"{p}[{i}]")
            text(v, f"{p}[{i}]")
        clean[name] = [v.strip() for v in values if v.strip()]
    return eid, schema, clean


def _first(props: dict[str, list[str]], name: str) -> str | None:
    values = props.get(name) or []
    return values[0] if values else None


def _sources(props: dict[str, list[str]], path: str) -> tuple[dict[str, str], ...]:
    raw = [{"url": u} for u in props.get("sourceUrl", [])]
    publisher = _first(props, "publisher")
    if publisher:
        raw = [dict(s, publisher=publisher) for s in raw] or [{"publisher": publisher}]
    try:
        return tuple(check_sources(raw, f"{path}.properties"))
    except InvalidFact as e:  # name the property, not our own list
        field = (e.field or "").replace(".properties[", ".properties.sourceUrl[").replace("].url", "]")
        raise InvalidFact(e.message, field) from None


def _own_id(eid: str, kind: str) -> tuple[tuple[str, str], ...]:
    prefix = ID_PREFIX[kind]
    return ((records.ORGHISTORY_SCHEME, eid[len(prefix):]),) if eid.startswith(prefix) else ()


def _person(data: records.Dataset, eid: str, path: str, props: dict[str, list[str]]) -> None:
    name = _first(props, "name") or " ".join(filter(None, (_first(props, "firstName"), _first(props, "lastName"))))
    if not name:
        data.other_rejections.append(records.Rejection("person", eid, path, "has no name"))
        return
    identifiers = _own_id(eid, "person") + tuple(("wikidata", q) for q in props.get("wikidataId", []))
    data.people[eid] = records.PersonRecord(eid, path, name, identifiers)


def _date(props: dict[str, list[str]], name: str, path: str,
          pick: Callable[[list[str]], str] = min) -> str | None:
    """A date property as valid-time text (the earliest or latest of several); ``ValueError``
    naming the property when a value is no date."""
    values = []
    for i, v in enumerate(props.get(name) or []):
        try:
            values.append(popolo_date(v.split("T", 1)[0]))
        except ValueError as e:
            raise ValueError(f"{name}[{i}]: {e}") from None
    return pick(values) if values else None


def _unit(data: records.Dataset, eid: str, path: str, schema: str, props: dict[str, list[str]]) -> None:
    classification = _first(props, "classification") or schema
    try:
        founded = _date(props, "incorporationDate", path)
    except ValueError as e:
        data.other_rejections.append(records.Rejection("organization", eid, path, str(e)))
        return
    data.units[eid] = records.UnitRecord(eid, path, _first(props, "name") or eid,
                                 KINDS.get(classification.lower(), "office" if schema == "PublicBody" else "team"),
                                 classification, founded, _sources(props, path), _own_id(eid, "unit"))


def _position(data: records.Dataset, eid: str, path: str, props: dict[str, list[str]]) -> None:
    """A position of no organization is an office of its own: a unit its holders sit in."""
    if _first(props, "organization"):
        return
    try:
        founded = _date(props, "inceptionDate", path)
    except ValueError as e:
        data.other_rejections.append(records.Rejection("organization", eid, path, str(e)))
        return
    data.units[eid] = records.UnitRecord(eid, path, _first(props, "name") or eid, "office", "position", founded,
                                 _sources(props, path), _own_id(eid, "unit"))


def _link(data: records.Dataset, eid: str, path: str, schema: str, props: dict[str, list[str]],
          posts: dict[str, dict[str, Any]]) -> None:
    """An occupancy or a membership-like link, as a membership record (or a rejection)."""
    raw = {"id": eid, "schema": schema, "properties": props}
    sources = _sources(props, path)
    try:
        start = _date(props, "startDate", path)
        last = _date(props, "endDate", path, max)
    except ValueError as e:
        data.rejected[eid] = records.Rejection("membership", eid, path, str(e), raw)
        return

    def reject(reason: str) -> None:
        data.rejected[eid] = records.Rejection("membership", eid, path, reason, raw, start)

    if schema == "Occupancy":
        person, post_id = _first(props, "holder"), _first(props, "post")
        post = posts.get(post_id or "")
        if post is None:
            return reject(f"names position {post_id!r}, which the file does not list" if post_id else
                          "names no position")
        unit = _first(post["props"], "organization") or post_id
        title = _first(post["props"], "name")
        role, post_name = slugify(title or "holder"), title
        if last is None and "ended" in props.get("status", []):
            last = "unknown"  # ended, on a day the source does not give
    else:
        person_prop, org_prop, default_role = LINKS[schema]
        person, unit = _first(props, person_prop), _first(props, org_prop)
        title = _first(props, "role")
        role, post_name = slugify(title or default_role), None
    if not person:
        return reject("names no person")
    if person not in data.people:
        return reject(f"names {person!r}, which is not a person the file lists")
    if not unit or unit not in data.units:
        return reject(f"names organization {unit!r}, which the file does not list" if unit else
                      "names no organization")
    leave = membership_leave(start, last)
    if ends_before_start(start, leave):
        return reject(f"ends ({last}) before it starts ({start})")
    data.memberships[eid] = records.MembershipRecord(id=eid, path=path, person=person, unit=unit, role=role, title=title,
                                             post=post_name, start=start, leave=leave, sources=sources)
