"""Sync, not append: what an import records is the difference between the document and what the
same source said last time (``Dataset.state``), each difference as the fact that means it.

- a new membership: ``member_joined`` (and ``member_left`` if it has ended);
- an end that appears: ``member_left``; an end that disappears: ``retracted`` (the leave no longer
  counts); a changed end, start, role, post, person or organization: ``corrected``, with only the
  fields that changed;
- a membership gone from the source, or now rejected: ``retracted``, with the reason;
- a rejected record: a ``noted`` fact (its reason and the record as given), never a tenure;
- a new organization: ``unit_formed``; a renamed or reclassified one: ``corrected``;
- a person renamed in the source: the person's ``Renamed`` event (from the day the source says the
  old name ended, where it says so).

The plan is computed here, purely, from the dataset, the source's state and a ``Resolver`` (which
people and units exist); ``OrgHistory.sync`` records it in one transaction. A dry run returns the
same plan without recording it, so what it shows is what an import then writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..jsontypes import DatasetState, JSONObject
from ..vocabulary import parse_fact
from . import model as records  # the shared record types, by their module's name
from .model import leave_effective, record_summary, slug_for, slugify

OUTCOMES = ("added", "ended", "corrected", "retracted", "unchanged", "rejected")


class Resolver(Protocol):
    """What the planner asks of the store (answered from the write side's aggregates)."""

    def person_of_record(self, source: str, record: str) -> str | None: ...

    def person_of_identifier(self, scheme: str, value: str) -> str | None: ...

    def person_name(self, slug: str) -> str | None:
        """The registered person's current name, or None if there is no such person."""
        ...


@dataclass(frozen=True)
class NewPerson:
    slug: str
    name: str


@dataclass(frozen=True)
class Rename:
    slug: str
    name: str
    effective: str | None


@dataclass
class Change:
    """One record's difference, with the facts that record it (their ids as they will be)."""

    kind: str  # membership | organization
    record: str
    change: str  # one of OUTCOMES but unchanged
    events: list[dict[str, Any]]
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "record": self.record, "change": self.change, "events": self.events}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class Plan:
    org: str
    source: str
    facts: list[dict[str, Any]] = field(default_factory=list)  # in the order they are recorded
    changes: list[Change] = field(default_factory=list)
    new_people: list[NewPerson] = field(default_factory=list)
    renames: list[Rename] = field(default_factory=list)
    record_index: list[tuple[str, str, str]] = field(default_factory=list)  # (source, record, person)
    identifier_index: list[tuple[str, str, str]] = field(default_factory=list)  # (scheme, value, person)
    state_changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected: list[records.Rejection] = field(default_factory=list)
    notices: list[dict[str, str]] = field(default_factory=list)  # identity matches worth a look
    ignored: dict[str, int] = field(default_factory=dict)  # records of kinds with no use here, by kind

    def summary(self) -> dict[str, Any]:
        return {"memberships": self.counts["memberships"], "organizations": self.counts["organizations"],
                "people": self.counts["people"], "events": len(self.facts),
                "rejected": [r.as_json() for r in self.rejected], "notices": self.notices,
                **({"ignored": self.ignored} if self.ignored else {})}

    def diff(self) -> dict[str, Any]:
        return {"records": [c.as_json() for c in self.changes],
                "people": {"registered": [{"person": p.slug, "name": p.name} for p in self.new_people],
                           "renamed": [{"person": r.slug, "name": r.name, "effective": r.effective}
                                       for r in self.renames]}}


def tenure_key(record: str) -> str:
    """A membership's tenure key: its record id, as a slug that stands for no other id."""
    return slug_for(record)


def noted_text(reason: str, record: str, source: str) -> str:
    return f"Rejected membership {record} from {source}: {reason}"


class Planner:
    def __init__(self, org: str, org_units: set[str], source: str, state: DatasetState, resolver: Resolver,
                 next_version: int):
        self.org, self.source, self.state, self.resolver = org, source, state, resolver
        self.org_units = set(org_units)
        self.next_version = next_version
        self.plan = Plan(org, source)
        self._delta: dict[str, dict[str, Any]] = {k: {} for k in state}
        self._claimed_people: set[str] = set()
        self._claimed_units: dict[str, str] = {}  # unit slug -> record id, in this document
        self._new: dict[str, str] = {}  # slug -> name of the people this plan registers
        self._linked: dict[tuple[str, str], str] = {}  # identifiers this plan links, to their person

    # --- output helpers --------------------------------------------------------------------

    def _add(self, fact: dict[str, Any], path: str) -> dict[str, Any]:
        """A fact to record, normalized as the store keeps it, with the id it will get."""
        clean = parse_fact(fact, path)
        clean["id"] = f"{self.org}@{self.next_version + len(self.plan.facts)}"
        self.plan.facts.append(clean)
        return clean

    def _origin(self, record: str, part: str | None = None) -> dict[str, str]:
        out = {"source": self.source, "record": record}
        if part:
            out["part"] = part
        return out

    def _set_state(self, section: str, key: str, value: Any) -> None:
        if self.state.get(section, {}).get(key) != value:
            self._delta.setdefault(section, {})[key] = value

    # --- the plan ----------------------------------------------------------------------------

    def run(self, data: records.Dataset) -> Plan:
        counts = self.plan.counts
        counts["people"] = {"added": 0, "matched": 0, "renamed": 0, "unchanged": 0}
        counts["organizations"] = {"added": 0, "corrected": 0, "unchanged": 0}
        counts["memberships"] = dict.fromkeys(OUTCOMES, 0)
        people = {pid: self._person(p) for pid, p in data.people.items()}
        units = {uid: self._unit(u) for uid, u in data.units.items()}
        for mid, m in data.memberships.items():
            self._membership(mid, m.path, self._wanted(m, people, units))
        for mid, r in data.rejected.items():
            self._membership(mid, r.path, self._wanted_rejected(r), r)
        gone = [mid for mid in self.state["memberships"] if mid not in data.memberships and mid not in data.rejected]
        for mid in gone:
            self._membership(mid, "", None)
        self.plan.rejected = list(data.rejected.values()) + list(data.other_rejections)
        self.plan.ignored = dict(data.ignored)
        self.plan.state_changes = {k: v for k, v in self._delta.items() if v}
        return self.plan

    # --- people ------------------------------------------------------------------------------

    def _person(self, p: records.PersonRecord) -> str:
        slug, how = self._resolve_person(p)
        counts = self.plan.counts["people"]
        known = self.state["people"].get(slug)
        first = slug not in self._claimed_people  # two records of one document may be one person
        self._claimed_people.add(slug)
        if how == "new":
            counts["added"] += 1
        elif known is None:
            counts["matched"] += 1
            existing = self.resolver.person_name(slug) or self._new.get(slug)
            if existing is not None and existing != p.name:
                self.plan.notices.append({"record": p.id, "person": slug, "name": existing, "source_name": p.name,
                                          "notice": f"{how}: the source calls this person {p.name!r}; "
                                                    f"the name {existing!r} is kept"})
        elif known["name"] != p.name and first:
            # The source renamed them: from the day it says the old name ended, else from now on.
            effective = next((leave_effective(end) for name, end in p.former_names if name == known["name"]), None)
            self.plan.renames.append(Rename(slug, p.name, effective))
            counts["renamed"] += 1
        else:
            counts["unchanged"] += 1
        if first:
            self._set_state("people", slug, {"name": p.name})
        self._set_state("person_ids", p.id, slug)
        for scheme, value in p.identifiers:
            if scheme == records.ORGHISTORY_SCHEME:
                continue
            linked = self._identifier(scheme, value)
            if linked is None:
                self.plan.identifier_index.append((scheme, value, slug))
                self._linked[(scheme, value)] = slug
            elif linked != slug:
                self.plan.notices.append({"record": p.id, "person": slug, "identifier": f"{scheme}:{value}",
                                          "notice": f"identifier {scheme}:{value} already names person {linked}; "
                                                    f"this record stays {slug} (merge them if they are one)"})
        return slug

    def _identifier(self, scheme: str, value: str) -> str | None:
        return self._linked.get((scheme, value)) or self.resolver.person_of_identifier(scheme, value)

    def _register(self, slug: str, name: str) -> None:
        self.plan.new_people.append(NewPerson(slug, name))
        self._new[slug] = name

    def _resolve_person(self, p: records.PersonRecord) -> tuple[str, str]:
        """(slug, how): by this service's own identifier, by what this source's record was resolved
        to before, by a shared identifier, or a new person."""
        own = next((v for s, v in p.identifiers if s == records.ORGHISTORY_SCHEME), None)
        if own is not None:
            if own not in self._new and self.resolver.person_name(own) is None:
                self._register(own, p.name)
                return own, "new"
            return own, "matched by its orghistory identifier"
        known = self.state["person_ids"].get(p.id) or self.resolver.person_of_record(self.source, p.id)
        if known is not None:
            return known, "matched by its record id"
        for scheme, value in p.identifiers:
            linked = self._identifier(scheme, value)
            if linked is not None:
                self.plan.record_index.append((self.source, p.id, linked))
                return linked, f"matched by identifier {scheme}:{value}"
        slug = slugify(f"{self.source}-{p.id}")
        if slug in self._new or self.resolver.person_name(slug) is not None:
            slug = slug_for(f"{self.source}-{p.id}")  # taken by another record: this one's own slug
        self._register(slug, p.name)
        self.plan.record_index.append((self.source, p.id, slug))
        return slug, "new"

    # --- organizations (units) --------------------------------------------------------------

    def _unit(self, u: records.UnitRecord) -> str:
        own = next((v for s, v in u.identifiers if s == records.ORGHISTORY_SCHEME), None)
        slug = own or self.state["unit_ids"].get(u.id)
        if slug is None:
            slug = slugify(u.id)
            taken = self._claimed_units.get(slug)
            theirs = self.state["units"].get(slug)
            if (taken is not None and taken != u.id) or (theirs is not None and theirs["record"] != u.id):
                slug = slug_for(u.id)
        self._claimed_units[slug] = u.id
        if self.state["unit_ids"].get(u.id) != slug:
            self._set_state("unit_ids", u.id, slug)
        wanted = {"type": "unit_formed", "unit": slug, "name": u.name, "kind": u.kind,
                  "classification": u.classification, "effective": u.founded or "unknown", "sources": list(u.sources),
                  "origin": self._origin(u.id)}
        counts = self.plan.counts["organizations"]
        known = self.state["units"].get(slug)
        if known is None:
            if slug in self.org_units:
                # Formed already (by hand or by another source): this source adopts it as it is.
                self._set_state("units", slug, {"record": u.id, "id": None, "fact": None})
                counts["unchanged"] += 1
                return slug
            fact = self._add(wanted, u.path)
            self.org_units.add(slug)
            self._set_state("units", slug, {"record": u.id, "id": fact["id"], "fact": _stored(fact)})
            self.plan.changes.append(Change("organization", u.id, "added", [fact]))
            counts["added"] += 1
            return slug
        if known["id"] is None:  # adopted: not ours to correct
            counts["unchanged"] += 1
            return slug
        wanted_clean = _stored(parse_fact(wanted, u.path))
        changed = {k: v for k, v in _changed(known["fact"], wanted_clean).items() if k != "unit"}
        if not changed:
            counts["unchanged"] += 1
            return slug
        fact = self._add({"type": "corrected", "target": known["id"], "changes": changed,
                          "origin": self._origin(u.id)}, u.path)
        self._set_state("units", slug, {"record": u.id, "id": known["id"], "fact": wanted_clean})
        self.plan.changes.append(Change("organization", u.id, "corrected", [fact]))
        counts["corrected"] += 1
        return slug

    # --- memberships -------------------------------------------------------------------------

    def _wanted(self, m: records.MembershipRecord, people: dict[str, str], units: dict[str, str]) -> dict[str, JSONObject]:
        """The facts the record stands for, by slot: a join and, if ended, a leave, in its unit and
        (with ``group``) in its group."""
        tenure = tenure_key(m.id)
        person = people[m.person]
        out: dict[str, JSONObject] = {}
        group = units.get(m.group or "")
        for part, unit, role, title, post in (("main", units[m.unit], m.role, m.title, m.post),
                                              ("group", group if group != units[m.unit] else None, "member",
                                               None, None)):
            if unit is None:
                continue  # no group, or a group that is the unit itself: the main seat is that seat
            origin = self._origin(m.id, None if part == "main" else "group")
            out[f"{part}.join"] = {"type": "member_joined", "unit": unit, "person": person, "role": role,
                                   "tenure": tenure, "title": title, "post": post, "effective": m.start or "unknown",
                                   "sources": list(m.sources), "origin": origin}
            if m.leave is not None:
                out[f"{part}.leave"] = {"type": "member_left", "unit": unit, "person": person, "tenure": tenure,
                                        "cause": m.cause, "effective": m.leave, "sources": list(m.sources),
                                        "origin": origin}
        return {slot: _stored(parse_fact(f, m.path)) for slot, f in out.items()}

    def _wanted_rejected(self, r: records.Rejection) -> dict[str, JSONObject]:
        fact = {"type": "noted", "title": noted_text(r.reason, r.id, self.source), "summary": record_summary(r.raw),
                "effective": r.effective or "unknown", "origin": self._origin(r.id, "rejected")}
        return {"rejected": _stored(parse_fact(fact, r.path))}

    def _membership(self, mid: str, path: str, wanted: dict[str, JSONObject] | None,
                    rejection: records.Rejection | None = None) -> None:
        counts = self.plan.counts["memberships"]
        known = self.state["memberships"].get(mid)
        before: dict[str, JSONObject] = known["slots"] if known else {}
        wanted = wanted or {}
        reason = rejection.reason if rejection else ("no longer in the source" if not wanted else None)
        events: list[JSONObject] = []
        slots: dict[str, JSONObject] = {}
        for slot in sorted(set(before) - set(wanted)):
            why = "the source no longer gives an end date" if slot.endswith(".leave") and wanted else reason
            events.append(self._add({"type": "retracted", "target": before[slot]["id"],
                                     "reason": why or "no longer in the source",
                                     "origin": self._origin(mid)}, path))
        for slot in sorted(set(before) & set(wanted)):
            old, new = before[slot]["fact"], wanted[slot]
            changed = _changed(old, new)
            if changed:
                events.append(self._add({"type": "corrected", "target": before[slot]["id"], "changes": changed,
                                         "origin": self._origin(mid)}, path))
            slots[slot] = {"id": before[slot]["id"], "fact": new}
        for slot in sorted(set(wanted) - set(before), key=lambda s: (s.endswith(".leave"), s)):
            fact = self._add(wanted[slot], path)
            slots[slot] = {"id": fact["id"], "fact": wanted[slot]}
            events.append(fact)
        new_state = {"slots": slots} if slots else None
        if new_state != known:
            self._set_state("memberships", mid, new_state)
        if rejection is not None:
            counts["rejected"] += 1
            if events:
                self.plan.changes.append(Change("membership", mid, "rejected", events, rejection.reason))
            return
        if not events:
            counts["unchanged"] += 1
            return
        if not wanted:
            outcome = "retracted"
        elif not before or "rejected" in before:
            outcome = "added"
        elif all(e["type"] == "member_left" for e in events):
            outcome = "ended"
        else:
            outcome = "corrected"
        counts[outcome] += 1
        self.plan.changes.append(Change("membership", mid, outcome, events, reason if outcome == "retracted" else None))


def _changed(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The fields a correction must set to turn ``old`` into ``new`` (None: back to its default)."""
    return {k: new.get(k) for k in sorted(set(old) | set(new)) if k != "type" and old.get(k) != new.get(k)}


def _stored(fact: dict[str, Any]) -> dict[str, Any]:
    """A fact's fields as the source's state keeps them: no id, no fields left at None."""
    return {k: v for k, v in fact.items() if k != "id" and v is not None and v != []}


def plan_sync(data: records.Dataset, *, org: str, org_units: set[str], source: str, state: DatasetState,
              resolver: Resolver, next_version: int) -> Plan:
    return Planner(org, org_units, source, state, resolver, next_version).run(data)
