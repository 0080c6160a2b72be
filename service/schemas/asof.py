"""As-of answers: rosters on a date, changes between dates, the timeline, and why."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from .answer import INSTANT, Answer, AsBuilt, Open, id_list, instant_str, nullable_str, slug_str, text_str
from .log import CitedSource


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


class Roster(AsBuilt):
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
    change = text_str(required=True, validate=validate.OneOf(["joined", "left"]))
    date = text_str(required=True)
    unit = nullable_str()
    person = slug_str(required=True)
    name = text_str()
    role = text_str(required=True)
    cause = nullable_str()
    event = text_str(required=True)
    disputed = fields.Boolean()


class Changes(AsBuilt):
    org = slug_str(required=True)
    from_ = text_str(required=True, attribute="from", data_key="from", metadata={"format": "date"})
    to = text_str(required=True, metadata={"format": "date"})
    known_at = nullable_str()
    changes = fields.List(fields.Nested(Change), required=True)


class RecordedFact(Open):
    """A fact as recorded: its own fields ride along (see Fact)."""

    id = nullable_str(required=True)
    position = fields.Integer(required=True)
    type = text_str(required=True)
    recorded_at = instant_str(required=True)
    corrected_by = id_list()
    corrections = fields.List(fields.Dict(), metadata={"description": "the corrections of this fact, with "
                                                                      "the changes each made"})
    effective = nullable_str()
    sources = fields.List(fields.Nested(CitedSource))
    confidence = text_str()


class Timeline(AsBuilt):
    org = slug_str(required=True)
    known_at = nullable_str()
    events = fields.List(fields.Nested(RecordedFact), required=True)


class Tenure(Entry, Answer):
    """A tenure as a why answer gives it (a roster's Entry, its fields as built)."""


class Knowledge(Answer):
    """What the store believed about a tenure, and over which record times."""

    since = nullable_str()
    until = nullable_str()
    role = text_str()
    recorded_from = instant_str()
    recorded_to = nullable_str(metadata=INSTANT)
    evidence = id_list()


class Why(AsBuilt):
    org = slug_str(required=True)
    unit = nullable_str()
    person = slug_str(required=True)
    name = nullable_str()
    as_of = text_str(required=True, metadata={"format": "date"})
    known_at = nullable_str()
    holds = fields.Boolean(required=True)
    tenures = fields.List(fields.Nested(Tenure))
    chain = fields.List(fields.Nested(RecordedFact), required=True)
    disputed = fields.Boolean()
    knowledge = fields.List(fields.Nested(Knowledge))
