"""Answers about an organization's log and the whole stream: events as recorded, appends."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from ..openapi import EVENT_ID
from .answer import AsBuilt, Open, instant_str, nullable_str, slug_str, text_str


class CitedSource(Open):
    """A fact's source, as recorded."""

    url = text_str()
    title = text_str()
    publisher = text_str()
    published = text_str(metadata={"format": "date"})
    quote = text_str()


class LogEvent(Open):
    """An event of the log: its own fields ride along (see Fact)."""

    id = nullable_str(metadata={"examples": EVENT_ID["examples"]})
    position = fields.Integer(required=True)
    org = nullable_str()
    recorded_at = instant_str(required=True)
    writer = nullable_str()
    type = text_str(required=True)


class LogPage(AsBuilt):
    org = slug_str()
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
