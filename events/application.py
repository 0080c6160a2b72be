"""The write side: one eventsourcing Application for every organization and person.

Methods take wire-format facts, check them, save them atomically and return what the store
assigned (ids and positions), in the style of the library's content-management example.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from functools import cached_property
from typing import Any, Callable, Iterator, NotRequired, Sequence, TypedDict
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Notification

from . import logreader
from .bookkeeping import IdempotentAppend, Subscription
from .chain import Break
from .domain import Organization, Person, fact_fields, idempotency_id, org_id
from .errors import (
    AlreadyExists,
    IdempotencyKeyReused,
    InvalidFact,
    NotFound,
    UnknownReference,
    VersionConflict,
)
from .fastdecode import FastDecoder
from .jsontypes import JSONObject
from .recorded import RecordedEvent, recorded
from .registry import Registry
from .vocabulary import CORRECTED, PERSON_REGISTERED, TYPES, apply_changes, field_path, parse_fact, slug, text

MAX_BATCH = int(os.environ.get("ORGHISTORY_MAX_BATCH_EVENTS") or 5000)
WRITE_RETRIES = 40


def _fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class AppendedEvent(TypedDict):
    id: str
    type: str
    position: int
    recorded_at: str


class KeptEvent(TypedDict):
    """An appended event as ``IdempotentAppend`` keeps it: its position is looked up on a replay."""

    id: str
    type: str
    version: int


class AppendAnswer(TypedDict):
    """What an append answers (and, for an ``Idempotency-Key``, answers again: ``replayed``)."""

    org: str
    version: int
    events: list[AppendedEvent]
    replayed: NotRequired[bool]


class MergeAnswer(TypedDict):
    person: str
    into: str
    position: int


class SubscribeAnswer(TypedDict):
    id: str
    position: int


class SubscriptionChangeAnswer(TypedDict):
    id: str
    status: str
    position: int


class OrgHistory(Registry):
    name = "OrgHistory"


    # --- appending facts -----------------------------------------------------------------------

    def append(
        self,
        org_slug: str,
        raw_events: Sequence[Any],
        *,
        writer: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
        path: str = "events",
    ) -> AppendAnswer:
        """Append facts to an organization's log, all or nothing.

        Returns ``{"org", "version", "events": [{"id", "type", "position", "recorded_at"}]}``.
        """
        if not isinstance(raw_events, (list, tuple)) or not raw_events:
            raise InvalidFact("must be a non-empty list of events", path or "events")
        if len(raw_events) > MAX_BATCH:
            raise InvalidFact(f"at most {MAX_BATCH} events per append", path)
        facts = [parse_fact(raw, self._item_path(path, i)) for i, raw in enumerate(raw_events)]
        scope = f"{org_slug}"
        # what an idempotency key promises to repeat; a digest of the whole batch, so only when asked
        fingerprint = _fingerprint({"facts": facts, "expected_version": expected_version}) \
            if idempotency_key is not None else ""
        if idempotency_key is not None:
            previous = self._idempotent_answer(scope, idempotency_key, fingerprint)
            if previous is not None:
                return previous
        for attempt in range(WRITE_RETRIES):
            try:
                with self.org_turn(org_slug):
                    return self._append_once(org_slug, facts, writer, expected_version, idempotency_key, fingerprint,
                                             path)
            except IntegrityError:
                # Another writer saved first: the org version or the idempotency record moved.
                if idempotency_key is not None:
                    previous = self._idempotent_answer(scope, idempotency_key, fingerprint)
                    if previous is not None:
                        return previous
                if expected_version is not None:
                    actual = self.get_org(org_slug).version
                    raise VersionConflict(
                        f"expected version {expected_version}, the log is at {actual}", expected_version, actual
                    ) from None
                # Jittered exponential backoff, so writers contending for one log spread out.
                time.sleep(random.uniform(0, min(0.25, 0.005 * 2 ** attempt)))
        raise VersionConflict("too many concurrent writers; retry", expected_version or -1, -1)

    def _append_once(self, org_slug: str, facts: list[JSONObject], writer: str | None, expected_version: int | None,
                     idempotency_key: str | None, fingerprint: str, path: str) -> AppendAnswer:
        org = self.get_org(org_slug)
        if expected_version is not None and org.version != expected_version:
            raise VersionConflict(
                f"expected version {expected_version}, the log is at {org.version}", expected_version, org.version
            )
        new_people: dict[str, str] = {}
        known_people = self.registered_people(
            {f[name] for f in facts for name in TYPES[f["type"]].people if f.get(name)})
        people_to_save: list[Person] = []
        events: list[Organization.Fact] = []
        for i, fact in enumerate(facts):
            at = self._item_path(path, i)
            if fact["type"] == CORRECTED.name:
                self._check_correction(org, fact, at)
            if fact["type"] == PERSON_REGISTERED.name:
                existing = self.find_person(fact["person"])
                if existing is not None and existing.name != fact["name"]:
                    raise AlreadyExists(f"person {fact['person']!r} is registered as {existing.name!r}", field_path(at, "person"))
                if existing is None and fact["person"] not in new_people:
                    people_to_save.append(Person(slug=fact["person"], name=fact["name"], writer=writer))
                new_people[fact["person"]] = fact["name"]
            for name in TYPES[fact["type"]].people:
                p = fact.get(name)
                if p and p not in new_people and p not in known_people:
                    raise UnknownReference(f"no person {p!r}; register them first", field_path(at, f"{name}"))
            events.append(org.record(fact, writer, at))
        answer_events: list[KeptEvent] = [
            {"id": org.event_id(e.originator_version), "type": e.type_name, "version": e.originator_version}
            for e in events
        ]
        to_save: list[Any] = [*people_to_save, org]
        if idempotency_key is not None:
            to_save.append(
                IdempotentAppend(
                    scope=org_slug,
                    key=idempotency_key,
                    fingerprint=fingerprint,
                    answer={"org": org_slug, "version": org.version, "events": answer_events},
                )
            )
        recordings = self._save(*to_save)
        positions = {
            (r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id for r in recordings
        }
        return {
            "org": org_slug,
            "version": org.version,
            "events": [
                {
                    "id": a["id"],
                    "type": a["type"],
                    "position": positions[(org.id, a["version"])],
                    "recorded_at": e.timestamp.isoformat(),
                }
                for a, e in zip(answer_events, events, strict=True)
            ],
        }

    @staticmethod
    def _item_path(path: str, i: int) -> str:
        """``events[2]`` inside a batch; the bare field names for a single fact (path ``""``)."""
        return f"{path}[{i}]" if path else ""

    def _check_correction(self, org: Organization, fact: JSONObject, at: str,
                          new_people: frozenset[str] | set[str] = frozenset()) -> None:
        version = org.check_target(fact["target"], field_path(at, "target"))
        target = self.fact_at(org.id, version)
        spec = TYPES[target.type_name]
        if not spec.correctable:
            raise InvalidFact(f"a {target.type_name} fact cannot be corrected; retract it instead", field_path(at, "target"))
        for name in spec.fixed:
            if name in fact["changes"]:
                raise InvalidFact(f"the {name} of a {spec.name} fact cannot be corrected",
                                  field_path(at, f"changes.{name}"))
        corrected = apply_changes(fact_fields(target), fact["changes"], field_path(at, "changes"))
        for name in spec.people:
            if corrected.get(name) and corrected[name] not in new_people and self.find_person(corrected[name]) is None:
                raise UnknownReference(f"no person {corrected[name]!r}", field_path(at, f"changes.{name}"))
        org.check_units(spec, corrected, field_path(at, "changes"))

    def fact_at(self, aggregate_id: UUID, version: int) -> Organization.Fact:
        found = list(self.events.get(aggregate_id, gt=version - 1, lte=version))
        if not found or not isinstance(found[0], Organization.Fact):
            raise UnknownReference(f"no fact at version {version}", "target")
        return found[0]

    # --- idempotency -------------------------------------------------------------------------

    def _idempotent_answer(self, scope: str, key: str, fingerprint: str) -> AppendAnswer | None:
        try:
            record: IdempotentAppend = self.repository.get(idempotency_id(scope, key))
        except AggregateNotFoundError:
            return None
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request", "Idempotency-Key"
            )
        answer = record.answer
        oid = org_id(answer["org"])
        events: list[AppendedEvent] = []
        for a in answer["events"]:
            e = self.fact_at(oid, a["version"])
            events.append(
                {
                    "id": a["id"],
                    "type": a["type"],
                    "position": self.position_of(oid, a["version"]),
                    "recorded_at": e.timestamp.isoformat(),
                }
            )
        return {"org": answer["org"], "version": answer["version"], "events": events, "replayed": True}

    # --- reading the log ---------------------------------------------------------------------

    def read(self, after: int = 0, limit: int = 500, stop: int | None = None) -> list[RecordedEvent]:
        """Events with position greater than ``after`` (positions may have gaps), in order."""
        return [self.decode(n) for n in logreader.page(self.recorder, after, limit, stop=stop)]

    def read_all(self, after: int = 0, batch: int = 1000) -> Iterator[RecordedEvent]:
        for notes in logreader.pages(self.recorder, after, batch):
            yield from [self.decode(n) for n in notes]  # a page decoded whole, then handed out

    def verify_chain(self, progress: Callable[[int], object] | None = None) -> tuple[int, str, Break | None]:
        """Walk the log against its hash chain (``chain.py``): (events checked, head hash, the
        first break or None)."""
        from . import chain

        def events() -> Iterator[Notification]:
            for notes in logreader.pages(self.recorder, 0, 2000):
                yield from notes
                if progress:
                    progress(notes[-1].id)

        def links() -> Iterator[tuple[int, str]]:
            after = 0
            while True:
                page = self.recorder.select_links(after, 2000)
                if not page:
                    return
                yield from page
                after = page[-1][0]

        return chain.check(events(), links())

    @cached_property
    def _fast(self) -> FastDecoder:
        return FastDecoder(self.mapper)

    def decode(self, notification: Notification) -> RecordedEvent:
        """A stored event as the read side sees it (decoded by ``FastDecoder``: what the
        library's mapper gives, faster; ``decode_by_mapper`` is the library's own way)."""
        return self._recorded(notification.id, self._fast.to_domain_event(notification))

    def decode_by_mapper(self, notification: Notification) -> RecordedEvent:
        return self._recorded(notification.id, self.mapper.to_domain_event(notification))

    @staticmethod
    def _recorded(position: int, event: DomainEventProtocol[UUID]) -> RecordedEvent:
        return recorded(position, event)

    # --- imports and people -------------------------------------------------------------------

    def sync(self, org_slug: str, data: Any, *, source: str | None = None, dry_run: bool = False,
             writer: str | None = None, org_name: str | None = None) -> dict[str, Any]:
        """Sync an organization with a dataset (see ``imports.sync``): only the differences from
        what the same source said last time are recorded, in one transaction."""
        from .imports.importer import run_import

        return run_import(self, org_slug, data, source=source, dry_run=dry_run, writer=writer, org_name=org_name)

    def merge_people(self, person: str, into: str, reason: str | None, writer: str | None) -> MergeAnswer:
        """Record that ``person`` is ``into``: answers show one person with both histories."""
        slug(person, "person")
        slug(into, "into")
        if reason is not None:
            text(reason, "reason")
        found, target = self.find_person(person), self.find_person(into)
        if found is None:
            raise NotFound(f"no person {person!r}", "person")
        if target is None:
            raise UnknownReference(f"no person {into!r}", "into")
        if found.merged_into is not None:
            raise AlreadyExists(f"{person!r} is already merged into {found.merged_into!r}; retract that first",
                                "person")
        seen: set[str] = {person}
        cursor: Person | None = target
        while cursor is not None:  # no cycles: into must not lead back to person
            if cursor.slug in seen:
                raise InvalidFact(f"{into!r} is {person!r} already (merged into it)", "into")
            seen.add(cursor.slug)
            cursor = self.find_person(cursor.merged_into) if cursor.merged_into else None
        found.merge_into(into, reason.strip() if reason else None, writer)
        recordings = self._save(found)
        return {"person": person, "into": into, "position": recordings[-1].notification.id}

    def retract_merge(self, person: str, reason: str, writer: str | None) -> MergeAnswer:
        slug(person, "person")
        text(reason, "reason")
        found = self.find_person(person)
        if found is None:
            raise NotFound(f"no person {person!r}", "person")
        if found.merged_into is None:
            raise NotFound(f"{person!r} is not merged into anyone", "person")
        into = found.merged_into
        found.retract_merge(reason.strip(), writer)
        recordings = self._save(found)
        return {"person": person, "into": into, "position": recordings[-1].notification.id}

    # --- webhook subscriptions ---------------------------------------------------------------

    def subscribe(self, url: str, org: str | None, types: list[str], secret: str, writer: str | None,
                  from_position: int | None = None) -> SubscribeAnswer:
        """A new subscription gets the events after now, or from ``from_position`` if given."""
        import secrets as _secrets

        start_after = (from_position - 1) if from_position else self.head_position()
        sub = Subscription(sub=_secrets.token_hex(8), url=url, org=org, types=list(types), secret=secret,
                           start_after=start_after, writer=writer)
        recordings = self._save(sub)
        return {"id": sub.sub, "position": recordings[0].notification.id}

    def change_subscription(self, sub_id: str, action: str, writer: str | None,
                            from_position: int | None = None) -> SubscriptionChangeAnswer:
        try:
            sub: Subscription = self.repository.get(Subscription.create_id(sub_id))
        except AggregateNotFoundError:
            raise NotFound(f"no subscription {sub_id!r}", "subscription") from None
        if sub.status == "deleted":
            raise NotFound(f"subscription {sub_id!r} was deleted", "subscription")
        sub.change(action, from_position, writer)
        recordings = self._save(sub)
        return {"id": sub_id, "status": sub.status, "position": recordings[-1].notification.id}

    def close(self) -> None:
        self.recorder.close_turns()
        self.factory.close()
