"""Popolo (as EveryPolitician and mySociety publish it) to a ``Dataset``.

Popolo's ``end_date`` is the last day a membership held; our leave takes effect the next day, so
an as-of answer equals Popolo's closed-interval reading. Dates a membership lacks come from its
``legislative_period_id`` event. A membership's ``on_behalf_of_id`` (a party or group) is a seat in
that group over the same time. Records without an ``id`` (EveryPolitician's memberships have none)
are keyed by what identifies them; duplicate ids are told apart by their order (``m1#2``).

``x_orghistory_start`` / ``x_orghistory_end`` / ``x_orghistory_cause`` carry what Popolo cannot
say (date windows, unknown ends, causes); exports write them and this reader reads them back.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from typing import Any

from ..errors import InvalidFact
from ..jsontypes import JSONObject
from ..validtime import InvalidValidTime, ValidTime
from ..vocabulary import sources as check_sources
from ..vocabulary import text
from . import model as records  # the shared record types, by their module's name
from .model import content_id, digest, ends_before_start, membership_leave, popolo_date, slugify

FORMAT = "popolo"
KINDS = {"board": "board", "committee": "committee", "department": "department", "office": "office",
         "team": "team"}
CAUSES = ("resigned", "fired", "removed", "term-ended", "died", "replaced", "unknown")
MAX_RECORDS = 200_000


def _obj(value: Any, path: str) -> JSONObject:
    if not isinstance(value, dict):
        raise InvalidFact("must be a JSON object", path)
    return value


def _list(doc: JSONObject, key: str, path: str) -> list[Any]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidFact("must be a list", path)
    if len(value) > MAX_RECORDS:
        raise InvalidFact(f"at most {MAX_RECORDS} records", path)
    return value


def _records(doc: JSONObject, key: str, where: str | None = None) -> Iterator[tuple[str, JSONObject]]:
    """Each object the list ``key`` holds (none if absent), with its path; the list is at ``where``
    (default: ``key``, a list at the top of the document)."""
    where = where or key
    for i, raw in enumerate(_list(doc, key, where)):
        path = f"{where}[{i}]"
        yield path, _obj(raw, path)


def _id(value: Any, path: str, required: bool = True) -> str | None:
    """Popolo ids are strings; numbers are taken as their text."""
    if value is None or value == "":
        if required:
            raise InvalidFact("is required", path)
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidFact("must be a string", path)
    return text(str(value), path)


def _opt_str(record: JSONObject, key: str, path: str, what: str = "a string") -> str | None:
    """The field's string, or None when it is absent or empty; anything but a string (``what``
    it must be) is malformed."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidFact(f"must be {what}", f"{path}.{key}")
    return value


def _opt_text(record: JSONObject, key: str, path: str) -> str | None:
    value = _opt_str(record, key, path)
    return None if value is None else text(value, f"{path}.{key}")


def _date_field(record: JSONObject, key: str, path: str) -> str | None:
    """The field's text (checked later, per record), or None. A non-string is malformed."""
    return _opt_str(record, key, path, "a date string (YYYY, YYYY-MM or YYYY-MM-DD)")


def _objects(record: JSONObject, key: str, path: str, items: str, fields: str) -> Iterator[tuple[str, JSONObject]]:
    """Each object listed under ``key`` with its path, in order (none if the key is absent); a
    value that is no list (of ``items``) or an item that is no object (with ``fields``) is malformed."""
    raw = record.get(key)
    if raw is None:
        return
    if not isinstance(raw, list):
        raise InvalidFact(f"must be a list of {items}", f"{path}.{key}")
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidFact(f"must be an object with {fields}", f"{path}.{key}[{i}]")
        yield f"{path}.{key}[{i}]", item


def _sources(record: JSONObject, path: str) -> tuple[dict[str, str], ...]:
    """Popolo's ``{url, note}`` as our sources (``note`` is the title); our own fields pass through."""
    mapped = []
    for _, s in _objects(record, "sources", path, "sources", "url or note"):
        s = dict(s)
        if "note" in s:
            note = s.pop("note")
            if note not in (None, "") and s.get("title") in (None, ""):
                s["title"] = note
        mapped.append({k: v for k, v in s.items() if v not in (None, "")})
    return tuple(check_sources(mapped, f"{path}.sources"))


def _identifiers(record: JSONObject, path: str) -> tuple[tuple[str, str], ...]:
    out = []
    for p, ident in _objects(record, "identifiers", path, "{scheme, identifier}", "scheme and identifier"):
        scheme, value = _id(ident.get("scheme"), f"{p}.scheme"), _id(ident.get("identifier"), f"{p}.identifier")
        assert scheme is not None and value is not None
        out.append((scheme.lower(), value))
    return tuple(dict.fromkeys(out))


def read_popolo(doc: Any) -> records.Dataset:
    """The dataset a Popolo document describes; ``InvalidFact`` (with the path) if it is malformed."""
    if not isinstance(doc, dict):
        raise InvalidFact("a Popolo document is a JSON object with persons, organizations and memberships", "")
    data = records.Dataset(FORMAT, digest(FORMAT, doc))
    meta = doc.get("x_orghistory_org")
    if meta is not None:
        data.org_name = _opt_text(_obj(meta, "x_orghistory_org"), "name", "x_orghistory_org")
    _read_people(doc, data)
    _read_units(doc, data)
    posts = _read_posts(doc)
    periods = _read_periods(doc)
    _read_memberships(doc, data, posts, periods)
    _read_rejected(doc, data)
    return data


def _read_rejected(doc: JSONObject, data: records.Dataset) -> None:
    """Records an earlier import rejected, as an export wrote them: rejected again, for the same
    reason, so that an export imported back changes nothing."""
    for path, r in _records(doc, "x_orghistory_rejected"):
        rid = _id(r.get("id"), f"{path}.id")
        reason = _opt_text(r, "reason", path) or "rejected"
        record = _obj(r.get("record") or {}, f"{path}.record")
        effective = _opt_text(r, "effective", path)
        if effective is not None:
            try:
                effective = ValidTime.parse(effective).text
            except InvalidValidTime as e:
                raise InvalidFact(str(e), f"{path}.effective") from None
        assert rid is not None
        if rid in data.memberships or rid in data.rejected:
            raise InvalidFact(f"a membership with id {rid!r} is also listed", f"{path}.id")
        data.rejected[rid] = records.Rejection("membership", rid, path, reason, record, effective)


def _new_id(record: JSONObject, path: str, kind: str, read: Container[str], data: records.Dataset) -> str:
    """The record's id, which no ``kind`` record before it had (those ``read``, and those rejected)."""
    rid = _id(record.get("id"), f"{path}.id")
    assert rid is not None
    if rid in read or any(r.id == rid and r.kind == kind for r in data.other_rejections):
        raise InvalidFact(f"a second {kind} with id {rid!r}", f"{path}.id")
    return rid


def _read_people(doc: JSONObject, data: records.Dataset) -> None:
    for path, p in _records(doc, "persons"):
        pid = _new_id(p, path, "person", data.people, data)
        identifiers = _identifiers(p, path)
        for j, (scheme, value) in enumerate(identifiers):
            if scheme == records.ORGHISTORY_SCHEME:
                from ..vocabulary import slug

                slug(value, f"{path}.identifiers[{j}].identifier")
        former = []
        for q, o in _records(p, "other_names", f"{path}.other_names"):
            name, end = _opt_text(o, "name", q), _date_field(o, "end_date", q)
            if name and end:
                try:
                    former.append((name, popolo_date(end)))
                except ValueError:
                    pass  # a former name's end only dates a rename; an undatable one dates nothing
        name = _opt_text(p, "name", path)
        if name is None:
            data.other_rejections.append(records.Rejection("person", pid, path, "has no name", None))
            continue
        data.people[pid] = records.PersonRecord(pid, path, name, identifiers, tuple(former))


def _read_units(doc: JSONObject, data: records.Dataset) -> None:
    for path, o in _records(doc, "organizations"):
        oid = _new_id(o, path, "organization", data.units, data)
        classification = _opt_text(o, "classification", path)
        sources = _sources(o, path)
        identifiers = _identifiers(o, path)
        name = _opt_text(o, "name", path) or oid
        founded = _date_field(o, "founding_date", path)
        window = _opt_text(o, "x_orghistory_founded", path)
        try:
            founded = ValidTime.parse(window).text if window else (popolo_date(founded) if founded else None)
        except (ValueError, InvalidValidTime) as e:
            key = "x_orghistory_founded" if window else "founding_date"
            data.other_rejections.append(records.Rejection("organization", oid, f"{path}.{key}", str(e), None))
            continue
        kind = _opt_text(o, "x_orghistory_kind", path) or KINDS.get((classification or "").lower(), "team")
        if kind not in KINDS:
            raise InvalidFact(f"must be one of {', '.join(KINDS)}", f"{path}.x_orghistory_kind")
        data.units[oid] = records.UnitRecord(oid, path, name, kind, classification, founded, sources, identifiers)


def _read_posts(doc: JSONObject) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    for path, p in _records(doc, "posts"):
        pid = _id(p.get("id"), f"{path}.id")
        assert pid is not None
        out[pid] = {"organization_id": _id(p.get("organization_id"), f"{path}.organization_id", False),
                    "role": _opt_text(p, "role", path), "label": _opt_text(p, "label", path)}
    return out


def _read_periods(doc: JSONObject) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    for path, e in _records(doc, "events"):
        eid = _id(e.get("id"), f"{path}.id", False)
        if eid is not None:
            out[eid] = {"start_date": _date_field(e, "start_date", path), "end_date": _date_field(e, "end_date", path),
                        "path": path}
    return out


def _read_memberships(doc: JSONObject, data: records.Dataset, posts: dict[str, dict[str, str | None]], periods: dict[str, dict[str, str | None]]) -> None:
    seen: dict[str, int] = {}
    rejected_people = {r.id for r in data.other_rejections if r.kind == "person"}
    rejected_units = {r.id for r in data.other_rejections if r.kind == "organization"}
    for path, m in _records(doc, "memberships"):
        person = _id(m.get("person_id"), f"{path}.person_id", False)
        org = _id(m.get("organization_id"), f"{path}.organization_id", False)
        group = _id(m.get("on_behalf_of_id"), f"{path}.on_behalf_of_id", False)
        post_id = _id(m.get("post_id"), f"{path}.post_id", False)
        period_id = _id(m.get("legislative_period_id"), f"{path}.legislative_period_id", False)
        role_text = _opt_text(m, "role", path)
        sources = _sources(m, path)
        dates = {k: _date_field(m, k, path) for k in ("start_date", "end_date")}
        windows = {k: _opt_text(m, k, path) for k in ("x_orghistory_start", "x_orghistory_end")}
        cause = _opt_text(m, "x_orghistory_cause", path)
        if cause is not None and cause not in CAUSES:
            raise InvalidFact(f"must be one of {', '.join(CAUSES)}", f"{path}.x_orghistory_cause")
        given = _id(m.get("id"), f"{path}.id", False)
        mid = given or content_id(person, org, group, post_id, role_text, dates["start_date"], period_id,
                                  windows["x_orghistory_start"])
        seen[mid] = seen.get(mid, 0) + 1
        if seen[mid] > 1:
            mid = f"{mid}#{seen[mid]}"  # duplicate ids: each is its own record, told apart by order

        def reject(reason: str, effective: str | None = None, mid: str = mid, path: str = path,
                   m: JSONObject = m) -> None:  # bound now: called only within this iteration
            data.rejected[mid] = records.Rejection("membership", mid, path, reason, m, effective)

        post = posts.get(post_id) if post_id else None
        if post_id and post is None:
            reject(f"names post {post_id!r}, which the document does not list")
            continue
        org = org or (post or {}).get("organization_id")
        period = periods.get(period_id) if period_id else None
        try:
            start = _when(windows["x_orghistory_start"], dates["start_date"], period, "start_date")
            end = _when(windows["x_orghistory_end"], dates["end_date"], period, "end_date")
        except ValueError as e:
            reject(str(e))
            continue
        if period_id and period is None:
            reject(f"names legislative period {period_id!r}, which the document does not list", start)
            continue
        if not person:
            reject("names no person", start)
            continue
        if person not in data.people:
            why = "which was rejected" if person in rejected_people else "which the document does not list"
            reject(f"names person {person!r}, {why}", start)
            continue
        if not org:
            reject("names no organization", start)
            continue
        missing = [u for u in (org, group) if u is not None and u not in data.units]
        if missing:
            why = "which was rejected" if missing[0] in rejected_units else "which the document does not list"
            reject(f"names organization {missing[0]!r}, {why}", start)
            continue
        leave = membership_leave(start, end)
        if ends_before_start(start, leave):
            inherited = " (inherited from its legislative period)" if not (dates["end_date"] and dates["start_date"]) \
                and period else ""
            reject(f"ends ({end}) before it starts ({start}){inherited}", start)
            continue
        title = role_text or (post or {}).get("role")
        if cause is None:
            cause = "term-ended" if end is not None and dates["end_date"] is None and windows["x_orghistory_end"] is None \
                else "unknown"
        data.memberships[mid] = records.MembershipRecord(
            id=mid, path=path, person=person, unit=org, group=group, role=slugify(title or "member"),
            title=title, post=(post or {}).get("label"), start=start, leave=leave, cause=cause, sources=sources)


def _when(window: str | None, own: str | None, period: dict[str, str | None] | None, key: str) -> str | None:
    """A membership's start or last day: its own window or date, else its legislative period's."""
    if window is not None:
        try:
            return ValidTime.parse(window).text
        except InvalidValidTime as e:
            raise ValueError(f"x_orghistory_{key.split('_')[0]}: {e}") from None
    if own is not None:
        try:
            return popolo_date(own)
        except ValueError as e:
            raise ValueError(f"{key}: {e}") from None
    inherited = (period or {}).get(key)
    if inherited is not None:
        try:
            return popolo_date(inherited)
        except ValueError as e:
            raise ValueError(f"{key} of its legislative period: {e}") from None
    return None
