"""Recording an import: plan it against what the source said last time, then save every fact, new
person, rename, index entry and the source's new memory in one transaction.

All or nothing: the plan is checked whole before anything is saved, and the save is one
transaction, so a failure (or a crash, or a kill) at any point leaves the store as it was, and
running the import again does the whole job. A concurrent writer to the same organization makes
the save conflict; the import is then planned again against what that writer stored.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ..bookkeeping import Dataset as DatasetAggregate
from ..bookkeeping import PersonIdentifier, PersonRecord
from ..domain import Organization, Person
from ..errors import UnknownReference, VersionConflict
from ..vocabulary import TYPES, field_path, slug, text
from .model import Dataset
from .sync import Plan, plan_sync

if TYPE_CHECKING:
    from ..application import OrgHistory

RETRIES = 20


@dataclass
class StoreResolver:
    """The planner's questions, answered from the write side's aggregates."""

    app: OrgHistory

    def _get(self, aggregate_id: UUID) -> PersonRecord | PersonIdentifier | None:
        try:
            return self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def person_of_record(self, source: str, record: str) -> str | None:
        found = self._get(PersonRecord.create_id(source, record))
        return found.person if found else None

    def person_of_identifier(self, scheme: str, value: str) -> str | None:
        found = self._get(PersonIdentifier.create_id(scheme, value))
        return found.person if found else None

    def person_name(self, slug_: str) -> str | None:
        person = self.app.find_person(slug_)
        return person.name if person else None


def run_import(app: OrgHistory, org_slug: str, data: Dataset, *, source: str | None = None, dry_run: bool = False,
               writer: str | None = None, org_name: str | None = None) -> dict[str, Any]:
    """Sync ``org_slug`` with ``data`` as said by ``source`` (default: the organization's slug).

    Returns the report: the summary (counts, rejected records, identity notices), whether anything
    was stored, the import's id and its events; on a dry run, the whole diff instead."""
    slug(org_slug, "org")
    source = slug(source or org_slug, "source")
    if org_name is not None:
        org_name = text(org_name, "name")
    for attempt in range(RETRIES):
        try:
            return _attempt(app, org_slug, data, source, dry_run, writer or f"import:{source}", org_name)
        except IntegrityError:
            # Another writer saved to this organization, source or person first: plan again.
            time.sleep(random.uniform(0, min(0.5, 0.01 * 2 ** attempt)))
    raise VersionConflict("too many concurrent writers to this organization; retry", -1, -1)


def _attempt(app: OrgHistory, org_slug: str, data: Dataset, source: str, dry_run: bool, writer: str,
             org_name: str | None) -> dict[str, Any]:
    org = app.find_org(org_slug)
    new_org = org is None
    if org is None:
        org = Organization(slug=org_slug, name=org_name or data.org_name or org_slug, writer=writer)
    try:
        dataset: DatasetAggregate = app.repository.get(DatasetAggregate.create_id(org_slug, source))
    except AggregateNotFoundError:
        dataset = DatasetAggregate(org=org_slug, source=source, writer=writer)
    plan = plan_sync(data, org=org_slug, org_units=set(org.units), source=source, state=dataset.state,
                     resolver=StoreResolver(app), next_version=org.version + 1)
    if not dataset.imports and not new_org:
        legacy = _legacy_facts(app, org)
        if legacy:
            plan.notices.append({"notice": f"{org_slug} holds {legacy} facts loaded by an import from before "
                                           "imports were syncs (writer popolo-import); they are no source's "
                                           "records, so this import adds its own beside them: retract those "
                                           "(or import into a fresh organization) to avoid doubles"})
    report: dict[str, Any] = {
        "org": org_slug, "source": source, "format": data.format, "digest": data.digest, "dry_run": dry_run,
        "same_document": dataset.digest == data.digest, "previous_import": dataset.import_id if dataset.imports else None,
        "summary": plan.summary(),
    }
    worth_storing = bool(plan.facts or plan.new_people or plan.renames or plan.record_index or plan.identifier_index)
    if dry_run:
        report.update(stored=False, diff=plan.diff())
        return report
    if not worth_storing:
        report.update(stored=False, message="nothing changed since this source's last import: nothing stored")
        return report
    to_save: list[Any] = [Person(slug=p.slug, name=p.name, writer=writer) for p in plan.new_people]
    created = {p.slug for p in plan.new_people}
    to_save += [PersonRecord(source=s, record=rec, person=p) for s, rec, p in plan.record_index]
    to_save += [PersonIdentifier(scheme=s, value=v, person=p, writer=writer) for s, v, p in plan.identifier_index]
    # One record time for the whole import, as it is one change; taken after every new aggregate
    # was created (they take their own times), so that known_at this time finds all of it.
    at = datetime.now(timezone.utc)
    for r in plan.renames:
        person = app.find_person(r.slug)
        if person is None:
            raise UnknownReference(f"no person {r.slug!r}", "persons")
        person.rename(r.name, r.effective, writer, timestamp=at)
        to_save.append(person)
    events = _record(app, org, plan, created, writer, at)
    first, last = (events[0].originator_version, events[-1].originator_version) if events else (None, None)
    dataset.synced(data.format, data.digest, plan.state_changes, report["summary"],
                   org.event_id(first) if first else None, org.event_id(last) if last else None, writer, timestamp=at)
    if new_org or events:
        to_save.append(org)
    to_save.append(dataset)
    recordings = app._save(*to_save)
    positions = {(r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id
                 for r in recordings}
    report.update(stored=True, import_id=dataset.import_id, recorded_at=at.isoformat(),
                  events={"count": len(events), "first": org.event_id(first) if first else None,
                          "last": org.event_id(last) if last else None},
                  position=max(positions.values()))
    return report


def _legacy_facts(app: OrgHistory, org: Organization) -> int:
    """Facts of the organization that the importer before syncs wrote (read once: on the first
    import of a source into an organization that already has a log)."""
    return sum(1 for e in app.events.get(org.id)
               if isinstance(e, Organization.Fact) and e.writer == "popolo-import" and e.origin is None)


def _record(app: OrgHistory, org: Organization, plan: Plan, created: set[str], writer: str,
            at: datetime) -> list[Organization.Fact]:
    """Record the plan's facts on the organization, checked as any append is; their ids must be
    the ones the plan (and a dry run) gave them."""
    known: set[str] = set(created)
    events = []
    for i, planned in enumerate(plan.facts):
        fact = {k: v for k, v in planned.items() if k != "id"}
        path = f"plan[{i}]"
        if fact["type"] == "corrected":
            app._check_correction(org, fact, path, new_people=known)
        for name in TYPES[fact["type"]].people:
            person = fact.get(name)
            if person and person not in known:
                if app.find_person(person) is None:
                    raise UnknownReference(f"no person {person!r}", field_path(path, name))
                known.add(person)
        event = org.record(fact, writer, path, timestamp=at)
        assert org.event_id(event.originator_version) == planned["id"], "the plan's ids are the recorded ids"
        events.append(event)
    return events
