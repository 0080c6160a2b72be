"""What the events that are not facts do to the projection: registrations, names and
identifiers, imports, subscriptions. Each is one function registered for its ``Kind``; the
projector calls them (merges, which re-derive people, stay in the projector)."""

from __future__ import annotations

import json
from typing import Callable

from events.recorded import Kind, RecordedEvent
from events.validtime import ValidTime

from .rows import IdentifierRow, ImportRow, NameRow, OrgRow, PersonRow, ProjectionState, SubscriptionRow

Handler = Callable[[ProjectionState, RecordedEvent, str], None]
HANDLERS: dict[str, Handler] = {}


def on(kind: Kind) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn
    return register


def _org_of(e: RecordedEvent) -> str:
    """The organization an event of an organization (a registration, an import) is of."""
    if e.org is None:
        raise ValueError(f"the {e.type} event at position {e.position} names no organization")
    return e.org


@on(Kind.ORG_REGISTERED)
def org_registered(s: ProjectionState, e: RecordedEvent, recorded: str) -> None:
    s.add_org(OrgRow(_org_of(e), e.fields["name"], e.position, recorded))


@on(Kind.PERSON_REGISTERED)
def person_registered(s: ProjectionState, e: RecordedEvent, recorded: str) -> None:
    f = e.fields
    s.add_person(PersonRow(f["person"], f["name"], e.position, recorded))
    s.add_name(NameRow(f["person"], f["name"], None, None, e.position, recorded))


@on(Kind.PERSON_RENAMED)
def person_renamed(s: ProjectionState, e: RecordedEvent, recorded: str) -> None:
    f = e.fields
    w = ValidTime.parse(f["effective"]) if f.get("effective") else None
    s.add_name(NameRow(f["person"], f["name"], f.get("effective"), w.lo if w else None,
                       e.position, recorded))
    s.set_person_name(f["person"], f["name"])


@on(Kind.PERSON_IDENTIFIED)
def person_identified(s: ProjectionState, e: RecordedEvent, recorded: str) -> None:
    f = e.fields
    s.add_identifier(IdentifierRow(f["scheme"], f["identifier"], f["person"], e.position, recorded))


@on(Kind.SUBSCRIPTION_CREATED)
def subscription_created(s: ProjectionState, e: RecordedEvent, recorded: str) -> None:
    f = e.fields
    s.add_subscription(SubscriptionRow(
        sub=f["sub"], aggregate_id=f["aggregate_id"], url=f["url"], org=f["org"], types=json.dumps(f["types"]),
        secret=f["secret"], status="active", control_position=e.position, redeliver_from=None,
        start_after=f["start_after"], created_at=recorded))


@on(Kind.SUBSCRIPTION_CHANGED)
def subscription_changed(s: ProjectionState, e: RecordedEvent, recorded: str) -> None:
    f = e.fields
    status = {"paused": "paused", "deleted": "deleted", "resumed": "active"}.get(f["action"])
    s.change_subscription(f["aggregate_id"], status, e.position, f["action"], f["from_position"])


@on(Kind.IMPORTED)
def imported(s: ProjectionState, e: RecordedEvent, recorded: str) -> None:
    f, org = e.fields, _org_of(e)
    first = s.fact(org, f["first"]) if f.get("first") else None
    last = s.fact(org, f["last"]) if f.get("last") else None
    s.add_import(ImportRow(
        org=org, id=f["import"], source=f["source"], format=f["format"], digest=f["digest"],
        position=e.position, recorded_at=recorded, first_event=f.get("first"), last_event=f.get("last"),
        first_position=int(first["position"]) if first else None,
        last_position=int(last["position"]) if last else None, events=f["summary"].get("events", 0),
        summary=json.dumps(f["summary"], ensure_ascii=False), writer=e.writer))
