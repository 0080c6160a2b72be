"""A direct reading of a Popolo document, written for obviousness and sharing no code with the
service: who sat in which unit on a day, by Popolo's own closed-interval rule (start <= day <= end,
dates a membership lacks taken from its legislative period), under the slugs the README promises
(a person is ``<source>-<id>``, a unit its id, a role the role's words, all slugified).

A membership's ``on_behalf_of_id`` group (a party) is a seat of its own, as a plain member, over
the same time. Records that cannot be memberships (no person, an unknown person or organization, a date no
calendar has, an end before the start) seat nobody.
"""

from __future__ import annotations

import re
from datetime import date, timedelta


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _day(text: str | None, last: bool = False) -> date | None:
    """A Popolo date as its first (or last) day; None if missing; ValueError if no date."""
    if not text:
        return None
    if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", text):
        raise ValueError(text)
    parts = [int(p) for p in text.split("-")]
    if len(parts) == 3:
        return date(*parts)
    if len(parts) == 2:
        first = date(parts[0], parts[1], 1)
        if not last:
            return first
        return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return date(parts[0], 12, 31) if last else date(parts[0], 1, 1)


def seats(doc: dict, source: str) -> list[dict]:
    """Every membership that can hold, as {unit, person, name, role, first, last} (days, None: open)."""
    persons = {p["id"]: p.get("name") for p in doc.get("persons", [])}
    units = {o["id"] for o in doc.get("organizations", [])}
    posts = {p["id"]: p for p in doc.get("posts", [])}
    periods = {e["id"]: e for e in doc.get("events", [])}
    out = []
    for m in doc.get("memberships", []):
        person = m.get("person_id")
        post = posts.get(m.get("post_id")) if m.get("post_id") else None
        if m.get("post_id") and post is None:
            continue
        org = m.get("organization_id") or (post or {}).get("organization_id")
        if not person or person not in persons or not persons[person] or org not in units:
            continue
        if m.get("on_behalf_of_id") and m["on_behalf_of_id"] not in units:
            continue
        period = periods.get(m.get("legislative_period_id"), {})
        try:
            first = _day(m.get("start_date") or period.get("start_date"))
            last = _day(m.get("end_date") or period.get("end_date"), last=True)
        except ValueError:
            continue
        if first and last and last < first:
            continue
        role = slug(m.get("role") or (post or {}).get("role") or "member")
        group = m.get("on_behalf_of_id")
        # a group that is the organization itself adds no seat: the membership already is one there
        for unit, r in [(org, role)] + ([(group, "member")] if group and group != org else []):
            out.append({"unit": slug(unit), "person": slug(f"{source}-{person}"), "name": persons[person],
                        "role": r, "first": first, "last": last})
    return out


def roster(doc: dict, source: str, unit: str, day: date) -> list[tuple[str, str, str]]:
    """Who certainly or possibly sat in ``unit`` on ``day``: sorted (person, name, role)."""
    return sorted({(s["person"], s["name"], s["role"]) for s in seats(doc, source)
                   if s["unit"] == unit and (s["first"] is None or s["first"] <= day)
                   and (s["last"] is None or day <= s["last"])})


def days(*docs: dict) -> list[date]:
    """The days around every date the documents mention, where answers change."""
    out: set[date] = set()
    for doc in docs:
        for m in doc.get("memberships", []) + doc.get("events", []):
            for key in ("start_date", "end_date"):
                try:
                    d = _day(m.get(key))
                    e = _day(m.get(key), last=True)
                except ValueError:
                    continue
                if d:
                    out |= {d - timedelta(days=1), d, e, e + timedelta(days=1)}
    return sorted(out)
