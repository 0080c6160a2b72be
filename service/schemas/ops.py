"""Operations' answers: projections, their versions, jobs (rebuilds, replays) and parked events."""

from __future__ import annotations

from marshmallow import fields, validate

from .answer import INSTANT, Answer, instant_str, nullable_str, text_str


class Job(Answer):
    """A rebuild or replay: its state and progress."""

    id = text_str(required=True)
    kind = text_str(required=True, validate=validate.OneOf(["rebuild", "replay"]))
    name = text_str(required=True)
    version = fields.Integer(allow_none=True)
    state = text_str(required=True)
    done = fields.Integer()
    total = fields.Integer()
    position = fields.Integer()
    rate = fields.Float(allow_none=True)
    eta_seconds = fields.Float(allow_none=True)
    error = nullable_str()
    runner = nullable_str()
    created_at = instant_str()
    started_at = nullable_str(metadata=INSTANT)
    updated_at = instant_str()
    finished_at = nullable_str(metadata=INSTANT)
    stalled = fields.Boolean()


class Parked(Answer):
    """An event whose fold raised."""

    name = text_str(metadata={"description": "the version's tracking key: history@v2"})
    position = fields.Integer(required=True)
    event_id = nullable_str()
    type = nullable_str()
    error = nullable_str()
    attempts = fields.Integer()
    parked_at = instant_str()
    resolved_at = nullable_str(metadata=INSTANT)
    resolution = nullable_str()


class ParkedList(Answer):
    parked = fields.List(fields.Nested(Parked), required=True)


class VersionJob(Answer):
    id = text_str()
    kind = text_str()
    state = text_str()
    stalled = fields.Boolean()
    updated_at = instant_str()


class Version(Answer):
    name = text_str()
    version = fields.Integer(required=True)
    state = text_str(required=True)
    until_position = fields.Integer(allow_none=True)
    until_recorded = nullable_str()
    created_at = instant_str()
    switched_at = nullable_str(metadata=INSTANT)
    dropped_at = nullable_str(metadata=INSTANT)
    position = fields.Integer()
    job = fields.Nested(VersionJob, allow_none=True)
    abandoned = fields.Boolean()


class Versions(Answer):
    name = text_str(required=True)
    versions = fields.List(fields.Nested(Version), required=True)


class OtherVersion(Answer):
    version = fields.Integer()
    state = text_str()
    position = fields.Integer()
    until_position = fields.Integer(allow_none=True)
    created_at = instant_str()
    abandoned = fields.Boolean()
    job = nullable_str(metadata={"description": "the id of the job that last worked on it"})


class ProjectionState(Answer):
    position = fields.Integer()
    version = fields.Integer()
    lag_events = fields.Integer()
    lag_seconds = fields.Float()
    updated_at = nullable_str(metadata=INSTANT)
    stale = fields.Boolean(metadata={"description": "folded by older code: a rebuild is due"})
    parked = fields.Integer()
    parked_events = fields.List(fields.Nested(Parked))
    other_versions = fields.List(fields.Nested(OtherVersion))


class Projections(Answer):
    """The log's head, and each projection's position, version and lag."""

    store = text_str(required=True)
    head = fields.Integer(required=True)
    projections = fields.Dict(keys=fields.String(), values=fields.Nested(ProjectionState), required=True)
    dispatch = text_str()
    rq = fields.Dict(metadata={"description": "the rq queue and its workers (with ORGHISTORY_REDIS_URL)"})
