"""Aggregates and their events.

Three aggregates keep just enough state to reject impossible writes:
- ``Person``: people are global and move between organizations.
- ``Organization``: one log per organization. Every fact about the organization is an event of
  this aggregate, so the aggregate's version is the version a writer may expect, and an event's
  id is ``<org>@<version>``: stable, readable, and checkable without a lookup.
- ``IdempotentAppend``: the first answer to an ``Idempotency-Key``, saved in the same transaction
  as the facts it acknowledges, so a retry can never store anything twice.

Ids are derived from slugs with uuid5, as in the library's content-management example.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from . import vocabulary as v
from .errors import AlreadyExists, UnknownReference
from .jsontypes import JSONObject
from .vocabulary import TYPES, field_path

NAMESPACE = uuid5(NAMESPACE_URL, "https://orghistory.invalid/")


def org_id(slug: str) -> UUID:
    return uuid5(NAMESPACE, f"org/{slug}")


def person_id(slug: str) -> UUID:
    return uuid5(NAMESPACE, f"person/{slug}")


def idempotency_id(scope: str, key: str) -> UUID:
    return uuid5(NAMESPACE, f"idempotency/{scope}/{key}")


class Person(Aggregate):
    """A person. People are global: they move between organizations and appear in many sources."""

    class Registered(Aggregate.Created):
        slug: str
        name: str
        writer: str | None

    def __init__(self, slug: str, name: str, writer: str | None):
        self.slug = slug
        self.name = name
        self.merged_into: str | None = None

    @classmethod
    def create_id(cls, slug: str, **_: Any) -> UUID:
        return person_id(slug)

    class Renamed(Aggregate.Event):
        """The name as of this record time; with ``effective``, only from that valid date on (the
        earlier name still holds before it)."""

        person: str
        name: str
        effective: str | None
        writer: str | None

        def apply(self, person: Person) -> None:
            person.name = self.name

    class Merged(Aggregate.Event):
        """This person is the same as ``into``: answers show one person with both histories."""

        person: str
        into: str
        reason: str | None
        writer: str | None

        def apply(self, person: Person) -> None:
            person.merged_into = self.into

    class MergeRetracted(Aggregate.Event):
        """The merge no longer counts: two people again, each with their own history."""

        person: str
        reason: str
        writer: str | None

        def apply(self, person: Person) -> None:
            person.merged_into = None

    def rename(self, name: str, effective: str | None, writer: str | None, timestamp: datetime | None = None) -> None:
        self.trigger_event(Person.Renamed, person=self.slug, name=name, effective=effective, writer=writer, timestamp=timestamp)

    def merge_into(self, into: str, reason: str | None, writer: str | None) -> None:
        self.trigger_event(Person.Merged, person=self.slug, into=into, reason=reason, writer=writer)

    def retract_merge(self, reason: str, writer: str | None) -> None:
        self.trigger_event(Person.MergeRetracted, person=self.slug, reason=reason, writer=writer)


class Organization(Aggregate):
    class Registered(Aggregate.Created):
        slug: str
        name: str
        writer: str | None

    class Fact(Aggregate.Event):
        """A fact about the organization. Subclasses are the vocabulary; see vocabulary.TYPES."""

        type_name: ClassVar[str] = ""
        org: str
        effective: str | None
        announced: str | None
        sources: list[dict[str, str]]
        confidence: str
        note: str | None
        writer: str | None
        # Version 2 added ``origin``: {"source", "record"[, "part"]} on facts an import wrote (which
        # dataset said it, and under which of its own record ids); None on facts written by hand.
        origin: dict[str, str] | None
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: JSONObject) -> None:
            state["origin"] = None  # logs written before imports were syncs never recorded one

        def apply(self, org: Organization) -> None:
            """Most facts change nothing the aggregate checks writes against (see ``UnitFormed``)."""

    def __init__(self, slug: str, name: str, writer: str | None):
        self.slug = slug
        self.name = name
        self.units: dict[str, str] = {}

    @classmethod
    def create_id(cls, slug: str, **_: Any) -> UUID:
        return org_id(slug)

    def event_id(self, version: int) -> str:
        return f"{self.slug}@{version}"

    def record(self, fact: dict[str, Any], writer: str | None, path: str,
               timestamp: datetime | None = None) -> Organization.Fact:
        """Check a normalized fact against what the organization knows, then record it."""
        def at(name: str) -> str:
            return field_path(path, name)

        spec = TYPES[fact["type"]]
        if spec.unit_edge == "formed" and fact["unit"] in self.units:
            raise AlreadyExists(f"unit {fact['unit']!r} already exists in {self.slug}", at("unit"))
        self.check_units(spec, fact, path)
        if spec.amends is not None:
            self.check_target(fact["target"], at("target"))
        cls = FACT_CLASSES[fact["type"]]
        fields = {k: v for k, v in fact.items() if k != "type"}
        fields.setdefault("origin", None)
        self.trigger_event(cls, org=self.slug, writer=writer, timestamp=timestamp, **fields)
        return self.pending_events[-1]  # type: ignore[return-value]

    def check_units(self, spec: v.FactType, fact: dict[str, Any], path: str) -> None:
        """Every unit the fact names (other than one it forms) exists in this organization."""
        for name, unit in spec.required_units(fact):
            if unit not in self.units:
                raise UnknownReference(f"no unit {unit!r} in {self.slug}", field_path(path, name))

    def check_target(self, target: str, at: str) -> int:
        """The version of the fact ``target`` names: one of this organization's facts, recorded
        before now (version 1 is the registration, not a fact)."""
        target_org, _, version = target.rpartition("@")
        if target_org != self.slug or not 1 < int(version) <= self.version:
            raise UnknownReference(f"no event {target} in {self.slug}", at)
        return int(version)

    # The vocabulary, one event class per fact type. Field names match the wire format.
    class PersonRegistered(Fact):
        type_name = v.PERSON_REGISTERED.name
        person: str
        name: str

    class UnitFormed(Fact):
        """Version 2 added ``origin`` and ``classification`` (the source's own word for the kind of
        body: legislature, party, ...)."""

        type_name = v.UNIT_FORMED.name
        unit: str
        name: str
        kind: str
        mandate: str | None
        commitments: list[str]
        classification: str | None

        @staticmethod
        def upcast_v1_v2(state: JSONObject) -> None:
            state["origin"] = None
            state["classification"] = None

        def apply(self, org: Organization) -> None:
            org.units[self.unit] = self.kind

    class UnitDissolved(Fact):
        type_name = v.UNIT_DISSOLVED.name
        unit: str

    class MemberJoined(Fact):
        """Version 2 added ``title``: the seat or job title as the source words it; version 3
        ``origin`` and ``post`` (the seat's own name, e.g. a constituency's member)."""

        type_name = v.MEMBER_JOINED.name
        class_version = 3
        unit: str
        person: str
        role: str
        tenure: str | None
        title: str | None
        post: str | None

        @staticmethod
        def upcast_v1_v2(state: JSONObject) -> None:
            state["title"] = None  # logs written before version 2 never recorded a title

        @staticmethod
        def upcast_v2_v3(state: JSONObject) -> None:
            state["origin"] = None
            state["post"] = None

    class MemberLeft(Fact):
        type_name = v.MEMBER_LEFT.name
        unit: str
        person: str
        role: str | None
        tenure: str | None
        cause: str

    class RoleAssigned(Fact):
        type_name = v.ROLE_ASSIGNED.name
        person: str
        role: str

    class RoleEnded(Fact):
        type_name = v.ROLE_ENDED.name
        person: str
        role: str
        cause: str

    class LeaderOusted(Fact):
        type_name = v.LEADER_OUSTED.name
        person: str
        roles: list[str]
        seats: list[str]
        by: str | None

    class Reinstated(Fact):
        type_name = v.REINSTATED.name
        person: str
        roles: list[str]
        seats: list[str]

    class Resigned(Fact):
        type_name = v.RESIGNED.name
        person: str

    class LeadReplaced(Fact):
        type_name = v.LEAD_REPLACED.name
        unit: str
        outgoing: str
        incoming: str
        role: str

    class Corrected(Fact):
        type_name = v.CORRECTED.name
        target: str
        changes: JSONObject

    class Retracted(Fact):
        type_name = v.RETRACTED.name
        target: str
        reason: str

    class Noted(Fact):
        type_name = v.NOTED.name
        title: str
        summary: str | None


FACT_CLASSES: dict[str, type[Organization.Fact]] = {
    cls.type_name: cls
    for cls in vars(Organization).values()
    if isinstance(cls, type) and issubclass(cls, Organization.Fact) and cls.type_name
}
assert set(FACT_CLASSES) == set(TYPES), "every wire type needs an event class"

BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "org", "writer"}


def fact_fields(event: Organization.Fact) -> dict[str, Any]:
    """The wire form of a recorded fact (without store metadata)."""
    out: dict[str, Any] = {"type": event.type_name}
    out.update(vars(event))  # in the event's own order, which the stored payload text keeps
    for k in BASE_FIELDS:
        out.pop(k, None)
    return out
