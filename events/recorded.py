"""Stored events as the read side and integrators see them: ``RecordedEvent``.

Facts carry their vocabulary type (``events.vocabulary``); every other event of the log has a
``Kind`` declared here, so the read side dispatches on these names and never spells a type out.
Decoding picks the builder by the domain event's class (one dict lookup, not a chain of
``isinstance`` checks: a rebuild decodes every event of the log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Callable, TypedDict, cast

from .bookkeeping import Dataset, PersonIdentifier, Subscription
from .domain import FACT_CLASSES, Organization, Person, fact_fields
from .jsontypes import JSONObject
from .vocabulary import PERSON_REGISTERED


class Kind(StrEnum):
    """The events of the log that are not facts of the vocabulary."""

    ORG_REGISTERED = "org_registered"
    PERSON_REGISTERED = PERSON_REGISTERED.name  # a person registered globally, outside any organization
    PERSON_RENAMED = "person_renamed"
    PERSON_MERGED = "person_merged"
    MERGE_RETRACTED = "merge_retracted"
    PERSON_IDENTIFIED = "person_identified"
    IMPORTED = "imported"
    SUBSCRIPTION_CREATED = "subscription_created"
    SUBSCRIPTION_CHANGED = "subscription_changed"
    INTERNAL = "internal"  # bookkeeping (idempotency records, source-record indexes): never shown


# What never leaves the service: bookkeeping, and subscriptions (they hold webhook secrets).
PRIVATE_KINDS = frozenset({Kind.INTERNAL, Kind.SUBSCRIPTION_CREATED, Kind.SUBSCRIPTION_CHANGED})

# What the public stream may carry besides facts (subscriptions and bookkeeping stay private).
PUBLIC_KINDS = (Kind.ORG_REGISTERED, Kind.IMPORTED, Kind.PERSON_RENAMED, Kind.PERSON_MERGED, Kind.MERGE_RETRACTED,
                Kind.PERSON_IDENTIFIED)


class EventHeader(TypedDict):
    """What the log says of a stored event, before the event's own fields."""

    id: str | None
    position: int
    org: str | None
    recorded_at: str
    writer: str | None


class EventJSON(EventHeader):
    """A stored event as the stream, the events route and webhooks give it: its header, then its
    own fields at the same level (``type`` first, then those of its vocabulary type or ``Kind``)."""

    type: str


@dataclass(frozen=True)
class RecordedEvent:
    """A stored event as the read side and integrators see it."""

    position: int
    id: str | None  # "<org>@<version>" for facts; None for registrations outside an org
    org: str | None
    type: str  # a vocabulary type name or a Kind
    recorded_at: datetime
    writer: str | None
    fields: JSONObject

    def as_json(self) -> EventJSON:
        header: EventHeader = {
            "id": self.id,
            "position": self.position,
            "org": self.org,
            "recorded_at": self.recorded_at.isoformat(),
            "writer": self.writer,
        }
        # cast: a TypedDict cannot declare "and the fields of the event's type" (PEP 728's extra
        # items are not in mypy yet); the header is checked above, the fields are the event's JSON
        return cast(EventJSON, {**header, **self.fields})


def _fact(position: int, event: Organization.Fact) -> RecordedEvent:
    return RecordedEvent(position, f"{event.org}@{event.originator_version}", event.org, event.type_name,
                         event.timestamp, event.writer, fact_fields(event))


def _org_registered(position: int, event: Organization.Registered) -> RecordedEvent:
    return RecordedEvent(position, f"{event.slug}@1", event.slug, Kind.ORG_REGISTERED, event.timestamp, event.writer,
                         {"type": Kind.ORG_REGISTERED.value, "org": event.slug, "name": event.name})


def _imported(position: int, event: Dataset.Synced) -> RecordedEvent:
    return RecordedEvent(position, None, event.org, Kind.IMPORTED, event.timestamp, event.writer,
                         {"type": Kind.IMPORTED.value, "import": f"{event.source}-{event.originator_version - 1}",
                          "org": event.org, "source": event.source, "format": event.format, "digest": event.digest,
                          "first": event.first, "last": event.last, "summary": event.summary})


def _internal(position: int, event: Any) -> RecordedEvent:
    return RecordedEvent(position, None, None, Kind.INTERNAL, event.timestamp, None, {"type": Kind.INTERNAL.value})


Builder = Callable[[int, Any], RecordedEvent]


def _outside(kind: Kind, fields: Callable[[Any], dict[str, Any]]) -> Builder:
    """The builder of events of ``kind`` that are in no organization's log: ``fields`` picks what
    the read side and integrators see of the event."""
    def build(position: int, event: Any) -> RecordedEvent:
        return RecordedEvent(position, None, None, kind, event.timestamp, event.writer,
                             {"type": kind.value, **fields(event)})

    return build


_DECODERS: dict[type, Builder] = {
    **{cls: _fact for cls in FACT_CLASSES.values()},
    Organization.Registered: _org_registered,
    Dataset.Synced: _imported,
    Subscription.Created: _outside(Kind.SUBSCRIPTION_CREATED, lambda e: {
        "aggregate_id": str(e.originator_id), "sub": e.sub, "url": e.url, "org": e.org, "types": e.types,
        "secret": e.secret, "start_after": e.start_after}),
    Subscription.Changed: _outside(Kind.SUBSCRIPTION_CHANGED, lambda e: {
        "aggregate_id": str(e.originator_id), "action": e.action, "from_position": e.from_position}),
    Person.Registered: _outside(Kind.PERSON_REGISTERED, lambda e: {"person": e.slug, "name": e.name}),
    Person.Renamed: _outside(Kind.PERSON_RENAMED, lambda e: {
        "person": e.person, "name": e.name, "effective": e.effective}),
    Person.Merged: _outside(Kind.PERSON_MERGED, lambda e: {"person": e.person, "into": e.into, "reason": e.reason}),
    Person.MergeRetracted: _outside(Kind.MERGE_RETRACTED, lambda e: {"person": e.person, "reason": e.reason}),
    PersonIdentifier.Created: _outside(Kind.PERSON_IDENTIFIED, lambda e: {
        "person": e.person, "scheme": e.scheme, "identifier": e.value}),
}


def recorded(position: int, event: Any) -> RecordedEvent:
    """The ``RecordedEvent`` of a decoded domain event stored at ``position``."""
    return _DECODERS.get(type(event), _internal)(position, event)
