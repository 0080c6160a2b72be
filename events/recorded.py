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
from typing import Any, Callable

from .bookkeeping import Dataset, PersonIdentifier, Subscription
from .domain import FACT_CLASSES, Organization, Person, fact_fields
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


# What the public stream may carry besides facts (subscriptions and bookkeeping stay private).
PUBLIC_KINDS = (Kind.ORG_REGISTERED, Kind.IMPORTED, Kind.PERSON_RENAMED, Kind.PERSON_MERGED, Kind.MERGE_RETRACTED,
                Kind.PERSON_IDENTIFIED)


@dataclass(frozen=True)
class RecordedEvent:
    """A stored event as the read side and integrators see it."""

    position: int
    id: str | None  # "<org>@<version>" for facts; None for registrations outside an org
    org: str | None
    type: str  # a vocabulary type name or a Kind
    recorded_at: datetime
    writer: str | None
    fields: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "position": self.position,
            "org": self.org,
            "recorded_at": self.recorded_at.isoformat(),
            "writer": self.writer,
            **self.fields,
        }


def _fact(position: int, event: Organization.Fact) -> RecordedEvent:
    return RecordedEvent(position, f"{event.org}@{event.originator_version}", event.org, event.type_name,
                         event.timestamp, event.writer, fact_fields(event))


def _org_registered(position: int, event: Organization.Registered) -> RecordedEvent:
    return RecordedEvent(position, f"{event.slug}@1", event.slug, Kind.ORG_REGISTERED, event.timestamp, event.writer,
                         {"type": Kind.ORG_REGISTERED.value, "org": event.slug, "name": event.name})


def _subscription_created(position: int, event: Subscription.Created) -> RecordedEvent:
    return RecordedEvent(position, None, None, Kind.SUBSCRIPTION_CREATED, event.timestamp, event.writer,
                         {"type": Kind.SUBSCRIPTION_CREATED.value, "aggregate_id": str(event.originator_id),
                          "sub": event.sub, "url": event.url, "org": event.org, "types": event.types,
                          "secret": event.secret, "start_after": event.start_after})


def _subscription_changed(position: int, event: Subscription.Changed) -> RecordedEvent:
    return RecordedEvent(position, None, None, Kind.SUBSCRIPTION_CHANGED, event.timestamp, event.writer,
                         {"type": Kind.SUBSCRIPTION_CHANGED.value, "aggregate_id": str(event.originator_id),
                          "action": event.action, "from_position": event.from_position})


def _person_registered(position: int, event: Person.Registered) -> RecordedEvent:
    return RecordedEvent(position, None, None, Kind.PERSON_REGISTERED, event.timestamp, event.writer,
                         {"type": Kind.PERSON_REGISTERED.value, "person": event.slug, "name": event.name})


def _person_renamed(position: int, event: Person.Renamed) -> RecordedEvent:
    return RecordedEvent(position, None, None, Kind.PERSON_RENAMED, event.timestamp, event.writer,
                         {"type": Kind.PERSON_RENAMED.value, "person": event.person, "name": event.name,
                          "effective": event.effective})


def _person_merged(position: int, event: Person.Merged) -> RecordedEvent:
    return RecordedEvent(position, None, None, Kind.PERSON_MERGED, event.timestamp, event.writer,
                         {"type": Kind.PERSON_MERGED.value, "person": event.person, "into": event.into,
                          "reason": event.reason})


def _merge_retracted(position: int, event: Person.MergeRetracted) -> RecordedEvent:
    return RecordedEvent(position, None, None, Kind.MERGE_RETRACTED, event.timestamp, event.writer,
                         {"type": Kind.MERGE_RETRACTED.value, "person": event.person, "reason": event.reason})


def _person_identified(position: int, event: PersonIdentifier.Created) -> RecordedEvent:
    return RecordedEvent(position, None, None, Kind.PERSON_IDENTIFIED, event.timestamp, event.writer,
                         {"type": Kind.PERSON_IDENTIFIED.value, "person": event.person, "scheme": event.scheme,
                          "identifier": event.value})


def _imported(position: int, event: Dataset.Synced) -> RecordedEvent:
    return RecordedEvent(position, None, event.org, Kind.IMPORTED, event.timestamp, event.writer,
                         {"type": Kind.IMPORTED.value, "import": f"{event.source}-{event.originator_version - 1}",
                          "org": event.org, "source": event.source, "format": event.format, "digest": event.digest,
                          "first": event.first, "last": event.last, "summary": event.summary})


def _internal(position: int, event: Any) -> RecordedEvent:
    return RecordedEvent(position, None, None, Kind.INTERNAL, event.timestamp, None, {"type": Kind.INTERNAL.value})


_DECODERS: dict[type, Callable[[int, Any], RecordedEvent]] = {
    **{cls: _fact for cls in FACT_CLASSES.values()},
    Organization.Registered: _org_registered,
    Subscription.Created: _subscription_created,
    Subscription.Changed: _subscription_changed,
    Person.Registered: _person_registered,
    Person.Renamed: _person_renamed,
    Person.Merged: _person_merged,
    Person.MergeRetracted: _merge_retracted,
    PersonIdentifier.Created: _person_identified,
    Dataset.Synced: _imported,
}


def recorded(position: int, event: Any) -> RecordedEvent:
    """The ``RecordedEvent`` of a decoded domain event stored at ``position``."""
    return _DECODERS.get(type(event), _internal)(position, event)
