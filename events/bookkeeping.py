"""Aggregates that keep the record honest rather than record history: what each source last said
(``Dataset``, the memory an import diffs against), which person a source's record or an
identifier names (``PersonRecord``, ``PersonIdentifier``), the first answer to an
``Idempotency-Key`` (``IdempotentAppend``), and integrators' webhooks (``Subscription``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from .domain import NAMESPACE, idempotency_id
from .jsontypes import DatasetState, JSONObject


def _key(*parts: str) -> str:
    """An unambiguous key from free-text parts (source record ids may hold any character)."""
    return json.dumps(parts, ensure_ascii=False)


class PersonRecord(Aggregate):
    """Index: the person a source's own person record was resolved to, once, for good (so a record
    keeps its person however the source's other records or identifiers change later)."""

    class Created(Aggregate.Created):
        source: str
        record: str
        person: str

    def __init__(self, source: str, record: str, person: str):
        self.source, self.record, self.person = source, record, person

    @classmethod
    def create_id(cls, source: str, record: str, **_: Any) -> UUID:
        return uuid5(NAMESPACE, f"person-record/{_key(source, record)}")


class PersonIdentifier(Aggregate):
    """Index: an identifier (a Wikidata id, say) and the one person it names. Records of any source
    that carry it are that person."""

    class Created(Aggregate.Created):
        scheme: str
        value: str
        person: str
        writer: str | None

    def __init__(self, scheme: str, value: str, person: str, writer: str | None):
        self.scheme, self.value, self.person = scheme, value, person

    @classmethod
    def create_id(cls, scheme: str, value: str, **_: Any) -> UUID:
        return uuid5(NAMESPACE, f"person-identifier/{_key(scheme, value)}")


def empty_dataset_state() -> DatasetState:
    return {"memberships": {}, "units": {}, "people": {}, "person_ids": {}, "unit_ids": {}}


class Dataset(Aggregate):
    """What one source last said about one organization: the memory an import diffs against.

    ``state`` holds, for each of the source's records, the facts its last import asserted for it
    (ids and fields), so the next import records only the differences. It changes only together
    with the organization's facts, in the same transaction."""

    class Created(Aggregate.Created):
        org: str
        source: str
        writer: str | None

    def __init__(self, org: str, source: str, writer: str | None):
        self.org, self.source = org, source
        self.digest: str | None = None
        self.imports = 0
        self.state = empty_dataset_state()

    @classmethod
    def create_id(cls, org: str, source: str, **_: Any) -> UUID:
        return uuid5(NAMESPACE, f"dataset/{org}/{source}")

    class Synced(Aggregate.Event):
        """One import: the document's digest, what changed in ``state`` (a value of None removes a
        record), the summary, and the first and last fact it recorded."""

        org: str
        source: str
        format: str
        digest: str
        changes: DatasetState  # a value of None removes a record
        summary: JSONObject
        first: str | None
        last: str | None
        writer: str | None

        def apply(self, dataset: Dataset) -> None:
            dataset.digest = self.digest
            dataset.imports += 1
            for section, delta in self.changes.items():
                records = dataset.state.setdefault(section, {})
                for key, value in delta.items():
                    if value is None:
                        records.pop(key, None)
                    else:
                        records[key] = value

    @property
    def import_id(self) -> str:
        """The id of the import this dataset last recorded: ``<source>-<n>``."""
        return f"{self.source}-{self.imports}"

    def synced(self, fmt: str, digest: str, changes: DatasetState, summary: JSONObject, first: str | None, last: str | None,
               writer: str | None, timestamp: datetime | None = None) -> None:
        self.trigger_event(Dataset.Synced, org=self.org, source=self.source, format=fmt, digest=digest, changes=changes, summary=summary, first=first,
                           last=last, writer=writer, timestamp=timestamp)


class IdempotentAppend(Aggregate):
    class Created(Aggregate.Created):
        scope: str
        key: str
        fingerprint: str
        answer: JSONObject

    def __init__(self, scope: str, key: str, fingerprint: str, answer: JSONObject):
        self.scope = scope
        self.key = key
        self.fingerprint = fingerprint
        self.answer = answer

    @classmethod
    def create_id(cls, scope: str, key: str, **_: Any) -> UUID:
        return idempotency_id(scope, key)


class Subscription(Aggregate):
    """An integrator's webhook. Its secret signs deliveries; it is kept in the log (so a backup
    restores working subscriptions) but never shown by the API or the public stream."""

    class Created(Aggregate.Created):
        sub: str
        url: str
        org: str | None
        types: list[str]
        secret: str
        start_after: int
        writer: str | None

    def __init__(self, sub: str, url: str, org: str | None, types: list[str], secret: str, start_after: int,
                 writer: str | None):
        self.sub, self.url, self.org, self.types, self.secret = sub, url, org, types, secret
        self.start_after = start_after
        self.status = "active"

    @classmethod
    def create_id(cls, sub: str, **_: Any) -> UUID:
        return uuid5(NAMESPACE, f"subscription/{sub}")

    class Changed(Aggregate.Event):
        """paused, resumed, deleted, or redeliver (from ``from_position``)."""

        action: str
        from_position: int | None
        writer: str | None

        def apply(self, sub: Subscription) -> None:
            if self.action in ("paused", "deleted"):
                sub.status = self.action
            elif self.action == "resumed":
                sub.status = "active"

    def change(self, action: str, from_position: int | None, writer: str | None) -> None:
        self.trigger_event(Subscription.Changed, action=action, from_position=from_position, writer=writer)


# These aggregates lived in ``events.domain`` until issue 14 moved them here, and the library names
# a stored event's class by its module: logs and snapshots written before say ``events.domain:Dataset.Synced``.
for _moved in (PersonRecord, PersonIdentifier, Dataset, IdempotentAppend, Subscription):
    register_topic(f"events.domain:{_moved.__qualname__}", _moved)
