"""What the read side answers, by shape: every row a query, a view or an export gives the layers
above (``service``, ``workers``) is declared here, with its keys in the order the answer has them
(that order is the JSON the service writes).

Where an answer carries a fact's own fields, or JSON the events layer stored (an import's summary, a
correction's changes, a rejected record), that part is a ``JSONObject``: those are free-form by the
vocabulary's design. A timeline fact has its fields at its top level, beside the keys declared here:
``TimelineFact`` declares what the read side adds and what every fact has, and ``timeline_fact``
builds one.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict, cast

from events.jsontypes import JSONObject

# --- organizations, people, units, imports -------------------------------------------------------


class Listed(TypedDict):
    """An organization or a person as their listings give them."""

    slug: str
    name: str
    recorded_at: str


class Identifier(TypedDict):
    scheme: str
    identifier: str


class Person(Listed):
    """A person with their identifiers and merges (``merged_into``: only if merged)."""

    identifiers: list[Identifier]
    merged_into: NotRequired[str]
    merged: list[str]


class Unit(TypedDict):
    slug: str
    name: str
    kind: str
    mandate: str | None
    commitments: list[str]
    formed: str
    dissolved: str | None
    evidence: list[str]  # the events that formed and dissolved it


class ImportEvents(TypedDict):
    count: int
    first: str | None
    last: str | None


class Import(TypedDict):
    id: str
    org: str
    source: str
    format: str
    digest: str
    recorded_at: str
    position: int
    writer: str | None
    events: ImportEvents
    summary: JSONObject  # the import's own report, as the events layer stored it (``Plan.summary``)
    first_position: int | None
    last_position: int | None


# --- as-of answers -------------------------------------------------------------------------------


class Source(TypedDict, total=False):
    """A fact's source (``vocabulary.SOURCE_KEYS``): each key only when given."""

    url: str
    title: str
    publisher: str
    published: str
    quote: str


class Evidence(TypedDict):
    """A cited event: what it is, how sure, from where, when recorded, and what corrected it;
    ``corrections`` only in a why answer."""

    id: str
    position: int
    type: str
    effective: str | None
    confidence: str
    sources: list[Source]
    note: str | None
    recorded_at: str
    corrected_by: list[str]
    corrections: NotRequired[list[Correction]]


class Correction(Evidence):
    """A correction of a cited event, with the changes it made (a fact's fields: JSON)."""

    changes: JSONObject


class Placement(TypedDict, total=False):
    """What a tenure or role has beyond its holder and dates: its unit (a seat's), its tenure key
    (when it has one) and the cause it ended with (when it ended)."""

    unit: str
    tenure: str
    cause: str | None


class Entry(TypedDict):
    """One person in a roster on a date (``certain``: the date falls where both ends are known)."""

    person: str
    name: str
    role: str
    since: str
    until: str | None
    certain: bool
    disputed: bool
    evidence: list[str]
    unit: NotRequired[str]
    tenure: NotRequired[str]
    cause: NotRequired[str | None]


class HistoryEntry(TypedDict):
    """A seat or role in a person's history, in any organization."""

    person: str
    name: str
    role: str
    since: str
    until: str | None
    disputed: bool
    evidence: list[str]
    unit: NotRequired[str]
    tenure: NotRequired[str]
    cause: NotRequired[str | None]
    org: str
    kind: Literal["seat", "role"]


class Change(TypedDict):
    """A join or a leave between two dates (``cause``: a leave's)."""

    change: Literal["joined", "left"]
    date: str
    unit: str | None
    person: str
    role: str
    cause: NotRequired[str | None]
    event: str | None
    disputed: bool
    name: str


class FactHeader(TypedDict):
    """What the read side says of a recorded fact, before the fact's own fields."""

    id: str
    position: int
    recorded_at: str
    corrected_by: list[str]


class TimelineFact(FactHeader):
    """A fact on the timeline: its header, then its own fields, which every fact type has
    (``type`` first, ``effective``, ``sources``, ...) and which are those of its type; the ones the
    read side itself reads are declared."""

    type: str
    effective: NotRequired[str | None]


def timeline_fact(header: FactHeader, fields: JSONObject) -> TimelineFact:
    """``header`` followed by the fact's ``fields`` at the same level (as ``{**header, **fields}``)."""
    # cast: a TypedDict cannot declare "and the fields of the fact's type" (PEP 728's extra items are
    # not in mypy yet); the header is checked where it is built, the fields are the fact's JSON
    return cast(TimelineFact, {**header, **fields})


class Knowledge(TypedDict):
    """What the store believed of a tenure, over which record times."""

    since: str
    until: str | None
    role: str
    recorded_from: str
    recorded_to: str | None
    evidence: list[str]


class Why(TypedDict):
    org: str
    unit: str | None
    person: str
    name: str | None
    as_of: str
    known_at: str | None
    holds: bool
    tenures: list[Entry]
    chain: list[Evidence]
    disputed: bool
    knowledge: list[Knowledge]


# --- subscriptions, versions, verification -------------------------------------------------------


class SubscriptionFilter(TypedDict):
    org: str | None
    types: list[str]


class DeliveryFailure(TypedDict):
    position: int
    event_id: str | None
    error: str
    failed_at: str


class Subscription(TypedDict):
    """A webhook subscription as operators see it (never its secret); ``failures`` when asked for."""

    id: str
    url: str
    filter: SubscriptionFilter
    status: str
    delivered_up_to: int
    last_error: str | None
    created_at: str
    failures: NotRequired[list[DeliveryFailure]]


class ProjectionVersion(TypedDict):
    """A ``projection_versions`` row."""

    name: str
    version: int
    state: str
    until_position: int | None
    until_recorded: str | None
    created_at: str
    switched_at: str | None
    dropped_at: str | None


class ListedVersion(ProjectionVersion):
    """A version with the position it has reached."""

    position: int


class DifferenceCounts(TypedDict):
    missing: int
    unexpected: int


class TableDifference(TypedDict):
    """Where a stored table and a fresh fold differ: rows as text, the first ``limit`` of each."""

    missing: list[tuple[str, ...]]
    unexpected: list[tuple[str, ...]]
    counts: DifferenceCounts


# --- exports -------------------------------------------------------------------------------------


class PopoloOrgRef(TypedDict):
    slug: str
    name: str


class PopoloPerson(TypedDict):
    id: str
    name: str
    identifiers: list[Identifier]


class PopoloOrganization(TypedDict):
    """A unit as a Popolo organization (its founding date where Popolo has a form for it, ours
    otherwise; its sources as Popolo's ``{url, note}``)."""

    id: str
    name: str
    classification: str
    x_orghistory_kind: str
    identifiers: list[Identifier]
    founding_date: NotRequired[str]
    x_orghistory_founded: NotRequired[str]
    sources: NotRequired[list[dict[str, str]]]


class MembershipDetails(TypedDict, total=False):
    """What a Popolo membership has when known: its role, dates (Popolo's where it has a form for
    them, ours otherwise), end cause and sources."""

    role: str
    start_date: str
    x_orghistory_start: str
    end_date: str
    x_orghistory_end: str
    x_orghistory_cause: str
    sources: list[dict[str, str]]


class MembershipLinks(TypedDict, total=False):
    """A Popolo membership's group seat (``on_behalf_of_id``) and post, when it has them."""

    on_behalf_of_id: str
    post_id: str


class PopoloMembership(TypedDict):
    id: str
    person_id: str
    organization_id: str
    role: NotRequired[str]
    start_date: NotRequired[str]
    x_orghistory_start: NotRequired[str]
    end_date: NotRequired[str]
    x_orghistory_end: NotRequired[str]
    x_orghistory_cause: NotRequired[str]
    sources: NotRequired[list[dict[str, str]]]
    x_orghistory_evidence: list[str]
    on_behalf_of_id: NotRequired[str]
    post_id: NotRequired[str]


class PopoloPost(TypedDict):
    id: str
    label: str
    organization_id: str


class RejectedRecord(TypedDict):
    """A record an import rejected, as it was given (JSON), with the reason."""

    id: str
    reason: str
    record: JSONObject
    effective: NotRequired[str]


class PopoloDocument(TypedDict):
    x_orghistory_org: PopoloOrgRef
    persons: list[PopoloPerson]
    organizations: list[PopoloOrganization]
    memberships: list[PopoloMembership]
    posts: NotRequired[list[PopoloPost]]
    x_orghistory_rejected: NotRequired[list[RejectedRecord]]


class FtMEntity(TypedDict):
    """A FollowTheMoney entity: its properties each a list of values, the empty ones left out."""

    id: str
    schema: str
    properties: dict[str, list[str]]
