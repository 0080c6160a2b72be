"""The answers' schemas: every field of every JSON answer declared, so /openapi.json documents
them exactly and flask-smorest renders them. ``Answer`` keeps the order in which the service built
each answer (marshmallow would reorder it to the declaration); ``Open`` answers (a fact with its own
fields, a Popolo document) also keep the fields they do not declare."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from events.vocabulary import UNIT_KINDS

from ..openapi import EVENT_ID, SLUG

INSTANT = {"description": "a record time, UTC ISO 8601"}


def _slug(metadata: dict | None = None, **kwargs) -> fields.String:
    return fields.String(metadata={"pattern": SLUG["pattern"], "maxLength": SLUG["maxLength"], **(metadata or {})},
                         **kwargs)


def _text(**kwargs) -> fields.String:
    return fields.String(**kwargs)


def _nullable(**kwargs) -> fields.String:
    return fields.String(allow_none=True, **kwargs)


def _instant(**kwargs) -> fields.String:
    return fields.String(metadata=INSTANT, **kwargs)


def _ids(**kwargs) -> fields.List:
    return fields.List(fields.String(), **kwargs)


class Answer(ma.Schema):
    """An answer's fields in the order the service built them."""

    @ma.post_dump(pass_original=True)
    def _as_built(self, data, original, **_):
        return {k: data[k] for k in original if k in data} | {k: v for k, v in data.items() if k not in original}


class Open(Answer):
    """An answer whose own fields ride along (a fact's, say): what is not declared is kept as is."""

    class Meta:
        unknown = ma.INCLUDE  # documented as additionalProperties: true

    @ma.post_dump(pass_original=True)
    def _as_built(self, data, original, **_):
        return {k: data.get(k, v) for k, v in original.items()} | {k: v for k, v in data.items() if k not in original}


# --- organizations, units, people ---------------------------------------------------------------

class Org(Answer):
    slug = _slug(required=True)
    name = _text(required=True)
    recorded_at = _instant(required=True)


class OrgList(Answer):
    orgs = fields.List(fields.Nested(Org), required=True)


class Unit(Answer):
    slug = _slug(required=True)
    name = _text(required=True)
    kind = _text(required=True, validate=validate.OneOf(UNIT_KINDS))
    mandate = _nullable()
    commitments = fields.List(fields.String())
    formed = _text(required=True, metadata={"description": "valid time: 2024, 2024-04, 2024-04-11, A/B or unknown"})
    dissolved = _nullable()
    evidence = _ids(required=True)


class UnitList(Answer):
    org = _slug(required=True)
    units = fields.List(fields.Nested(Unit), required=True)


class Registered(Answer):
    """201 when registered now, 200 when it already was (same name)."""

    slug = _slug(required=True)
    name = _text(required=True)
    version = fields.Integer(metadata={"description": "the organization's version (organizations only)"})
    position = fields.Integer(required=True)


class Identifier(Answer):
    scheme = _text(required=True)
    identifier = _text(required=True)


class Person(Answer):
    slug = _slug(required=True)
    name = _text(required=True)
    recorded_at = _instant()
    identifiers = fields.List(fields.Nested(Identifier))
    merged_into = _slug(metadata={"description": "the person this one was merged into"})
    merged = fields.List(_slug(), metadata={"description": "the people merged into this one"})


class PersonList(Answer):
    people = fields.List(fields.Nested(Person), required=True)


class Merge(Answer):
    person = _slug(required=True)
    into = _slug(required=True)
    position = fields.Integer(required=True)


class HistoryEntry(Answer):
    person = _slug(required=True)
    name = _nullable()
    role = _text(required=True)
    since = _text(required=True)
    until = _nullable()
    cause = _nullable()
    disputed = fields.Boolean()
    evidence = _ids(required=True)
    unit = _text()
    tenure = _text()
    org = _slug(required=True)
    kind = _text(required=True, validate=validate.OneOf(["seat", "role"]))


class PersonHistory(Person):
    known_at = _nullable()
    history = fields.List(fields.Nested(HistoryEntry), required=True)


# --- the log ------------------------------------------------------------------------------------

class CitedSource(Open):
    """A fact's source, as recorded."""

    url = _text()
    title = _text()
    publisher = _text()
    published = _text(metadata={"format": "date"})
    quote = _text()


class LogEvent(Open):
    """An event of the log: its own fields ride along (see Fact)."""

    id = _nullable(metadata={"examples": EVENT_ID["examples"]})
    position = fields.Integer(required=True)
    org = _nullable()
    recorded_at = _instant(required=True)
    writer = _nullable()
    type = _text(required=True)


class LogPage(Answer):
    org = _slug()
    events = fields.List(fields.Nested(LogEvent), required=True)
    next = fields.Integer(required=True, metadata={"description": "continue with after=next"})
    head = fields.Integer()


class AppendedEvent(ma.Schema):
    id = fields.String()
    type = fields.String()
    position = fields.Integer()
    recorded_at = fields.String()


class AppendOut(ma.Schema):
    org = fields.String()
    version = fields.Integer()
    replayed = fields.Boolean()
    events = fields.List(fields.Nested(AppendedEvent))


# --- as-of answers ------------------------------------------------------------------------------

class Entry(ma.Schema):
    person = fields.String()
    name = fields.String()
    role = fields.String()
    unit = fields.String()
    tenure = fields.String()
    since = fields.String()
    until = fields.String(allow_none=True)
    cause = fields.String()
    certain = fields.Boolean()
    disputed = fields.Boolean()
    evidence = fields.List(fields.String())


class Roster(ma.Schema):
    org = fields.String()
    unit = fields.String()
    units = fields.List(fields.String())
    as_of = fields.String()
    known_at = fields.String(allow_none=True)
    position = fields.Integer()
    version = fields.Integer(metadata={"description": "the projection version that answered"})
    members = fields.List(fields.Nested(Entry))
    directors = fields.List(fields.Nested(Entry))
    observers = fields.List(fields.Nested(Entry))
    roles = fields.List(fields.Nested(Entry))
    evidence = fields.Dict(keys=fields.String(), values=fields.Dict())


class Change(Answer):
    change = _text(required=True, validate=validate.OneOf(["joined", "left"]))
    date = _text(required=True)
    unit = _nullable()
    person = _slug(required=True)
    name = _text()
    role = _text(required=True)
    cause = _nullable()
    event = _text(required=True)
    disputed = fields.Boolean()


class Changes(Answer):
    org = _slug(required=True)
    from_ = _text(required=True, attribute="from", data_key="from", metadata={"format": "date"})
    to = _text(required=True, metadata={"format": "date"})
    known_at = _nullable()
    changes = fields.List(fields.Nested(Change), required=True)


class RecordedFact(Open):
    """A fact as recorded: its own fields ride along (see Fact)."""

    id = _nullable(required=True)
    position = fields.Integer(required=True)
    type = _text(required=True)
    recorded_at = _instant(required=True)
    corrected_by = _ids()
    corrections = fields.List(fields.Dict(), metadata={"description": "the corrections of this fact, with "
                                                                      "the changes each made"})
    effective = _nullable()
    sources = fields.List(fields.Nested(CitedSource))
    confidence = _text()


class Timeline(Answer):
    org = _slug(required=True)
    known_at = _nullable()
    events = fields.List(fields.Nested(RecordedFact), required=True)


class Tenure(Entry, Answer):
    """A tenure as a why answer gives it (a roster's Entry, its fields as built)."""


class Knowledge(Answer):
    """What the store believed about a tenure, and over which record times."""

    since = _nullable()
    until = _nullable()
    role = _text()
    recorded_from = _instant()
    recorded_to = _nullable(metadata=INSTANT)
    evidence = _ids()


class Why(Answer):
    org = _slug(required=True)
    unit = _nullable()
    person = _slug(required=True)
    name = _nullable()
    as_of = _text(required=True, metadata={"format": "date"})
    known_at = _nullable()
    holds = fields.Boolean(required=True)
    tenures = fields.List(fields.Nested(Tenure))
    chain = fields.List(fields.Nested(RecordedFact), required=True)
    disputed = fields.Boolean()
    knowledge = fields.List(fields.Nested(Knowledge))


# --- subscriptions ------------------------------------------------------------------------------

class SubscriptionFilter(Answer):
    org = _nullable()
    types = fields.List(fields.String())


class DeliveryFailure(Answer):
    position = fields.Integer()
    event_id = _nullable()
    error = _text()
    failed_at = _instant()


class Subscription(Answer):
    """A webhook subscription as operators see it (never its secret)."""

    id = _text(required=True)
    url = _text(required=True)
    filter = fields.Nested(SubscriptionFilter, required=True)
    status = _text(required=True)
    delivered_up_to = fields.Integer(allow_none=True)
    last_error = _nullable()
    created_at = _instant(required=True)
    failures = fields.List(fields.Nested(DeliveryFailure))


class SubscriptionList(Answer):
    subscriptions = fields.List(fields.Nested(Subscription), required=True)


# --- operations ---------------------------------------------------------------------------------

class Job(Answer):
    """A rebuild or replay: its state and progress."""

    id = _text(required=True)
    kind = _text(required=True, validate=validate.OneOf(["rebuild", "replay"]))
    name = _text(required=True)
    version = fields.Integer(allow_none=True)
    state = _text(required=True)
    done = fields.Integer()
    total = fields.Integer()
    position = fields.Integer()
    rate = fields.Float(allow_none=True)
    eta_seconds = fields.Float(allow_none=True)
    error = _nullable()
    runner = _nullable()
    created_at = _instant()
    started_at = _nullable(metadata=INSTANT)
    updated_at = _instant()
    finished_at = _nullable(metadata=INSTANT)
    stalled = fields.Boolean()


class Parked(Answer):
    """An event whose fold raised."""

    name = _text(metadata={"description": "the version's tracking key: history@v2"})
    position = fields.Integer(required=True)
    event_id = _nullable()
    type = _nullable()
    error = _nullable()
    attempts = fields.Integer()
    parked_at = _instant()
    resolved_at = _nullable(metadata=INSTANT)
    resolution = _nullable()


class ParkedList(Answer):
    parked = fields.List(fields.Nested(Parked), required=True)


class VersionJob(Answer):
    id = _text()
    kind = _text()
    state = _text()
    stalled = fields.Boolean()
    updated_at = _instant()


class Version(Answer):
    name = _text()
    version = fields.Integer(required=True)
    state = _text(required=True)
    until_position = fields.Integer(allow_none=True)
    until_recorded = _nullable()
    created_at = _instant()
    switched_at = _nullable(metadata=INSTANT)
    dropped_at = _nullable(metadata=INSTANT)
    position = fields.Integer()
    job = fields.Nested(VersionJob, allow_none=True)
    abandoned = fields.Boolean()


class Versions(Answer):
    name = _text(required=True)
    versions = fields.List(fields.Nested(Version), required=True)


class OtherVersion(Answer):
    version = fields.Integer()
    state = _text()
    position = fields.Integer()
    until_position = fields.Integer(allow_none=True)
    created_at = _instant()
    abandoned = fields.Boolean()
    job = _nullable(metadata={"description": "the id of the job that last worked on it"})


class ProjectionState(Answer):
    position = fields.Integer()
    version = fields.Integer()
    lag_events = fields.Integer()
    lag_seconds = fields.Float()
    updated_at = _nullable(metadata=INSTANT)
    stale = fields.Boolean(metadata={"description": "folded by older code: a rebuild is due"})
    parked = fields.Integer()
    parked_events = fields.List(fields.Nested(Parked))
    other_versions = fields.List(fields.Nested(OtherVersion))


class Projections(Answer):
    """The log's head, and each projection's position, version and lag."""

    store = _text(required=True)
    head = fields.Integer(required=True)
    projections = fields.Dict(keys=fields.String(), values=fields.Nested(ProjectionState), required=True)
    dispatch = _text()
    rq = fields.Dict(metadata={"description": "the rq queue and its workers (with ORGHISTORY_REDIS_URL)"})


# --- datasets -----------------------------------------------------------------------------------

class Popolo(Open):
    """A Popolo document: what we currently believe; importing it back changes nothing."""

    persons = fields.List(fields.Dict(), required=True)
    organizations = fields.List(fields.Dict(), required=True)
    memberships = fields.List(fields.Dict(), required=True)
    posts = fields.List(fields.Dict())


# --- imports, problems -------------------------------------------------------------------------

class FieldError(ma.Schema):
    field = fields.String(allow_none=True)
    message = fields.String()


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as every error is answered (``application/problem+json``)."""

    class Meta:
        unknown = ma.INCLUDE  # some problems add their own members (expected_version, job, ...)

    type = fields.String(metadata={"description": "about:blank"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    field = fields.String(allow_none=True, metadata={"description": "the failing field: events[2].effective"})
    errors = fields.List(fields.Nested(FieldError))


class ImportSummary(ma.Schema):
    memberships = fields.Dict(keys=fields.String(), values=fields.Integer(),
                              metadata={"description": "added, ended, corrected, retracted, unchanged, rejected"})
    organizations = fields.Dict(keys=fields.String(), values=fields.Integer())
    people = fields.Dict(keys=fields.String(), values=fields.Integer())
    events = fields.Integer()
    rejected = fields.List(fields.Dict(), metadata={"description": "{kind, record, path, reason}"})
    notices = fields.List(fields.Dict(), metadata={"description": "people matched by an identifier, and such"})
    ignored = fields.Dict(keys=fields.String(), values=fields.Integer())


class ImportEvents(ma.Schema):
    count = fields.Integer()
    first = fields.String(allow_none=True)
    last = fields.String(allow_none=True)


class ImportReport(ma.Schema):
    org = fields.String()
    source = fields.String()
    format = fields.String()
    digest = fields.String()
    dry_run = fields.Boolean()
    stored = fields.Boolean()
    same_document = fields.Boolean(metadata={"description": "the document is the one this source gave last time"})
    previous_import = fields.String(allow_none=True)
    import_id = fields.String(metadata={"description": "the id of the import recorded (when stored)"})
    recorded_at = fields.String()
    position = fields.Integer()
    message = fields.String()
    events = fields.Nested(ImportEvents)
    summary = fields.Nested(ImportSummary)
    diff = fields.Dict(metadata={"description": "a dry run's diff: each changed record with the facts that "
                                                "would record it, and the people to register or rename"})


class ImportOut(ma.Schema):
    id = fields.String()
    org = fields.String()
    source = fields.String()
    format = fields.String()
    digest = fields.String()
    recorded_at = fields.String()
    position = fields.Integer()
    writer = fields.String(allow_none=True)
    first_position = fields.Integer(allow_none=True)
    last_position = fields.Integer(allow_none=True)
    events = fields.Nested(ImportEvents)
    summary = fields.Nested(ImportSummary)


class ImportList(ma.Schema):
    org = fields.String()
    imports = fields.List(fields.Nested(ImportOut))
