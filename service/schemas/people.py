"""Answers about people: who they are, their merges, and their histories."""

from __future__ import annotations

from marshmallow import fields, validate

from .answer import Answer, AsBuilt, id_list, instant_str, nullable_str, slug_str, text_str


class Identifier(Answer):
    scheme = text_str(required=True)
    identifier = text_str(required=True)


class Person(Answer):
    slug = slug_str(required=True)
    name = text_str(required=True)
    recorded_at = instant_str()
    identifiers = fields.List(fields.Nested(Identifier))
    merged_into = slug_str(metadata={"description": "the person this one was merged into"})
    merged = fields.List(slug_str(), metadata={"description": "the people merged into this one"})


class PersonList(Answer):
    people = fields.List(fields.Nested(Person), required=True)


class Merge(Answer):
    person = slug_str(required=True)
    into = slug_str(required=True)
    position = fields.Integer(required=True)


class HistoryEntry(Answer):
    person = slug_str(required=True)
    name = nullable_str()
    role = text_str(required=True)
    since = text_str(required=True)
    until = nullable_str()
    cause = nullable_str()
    disputed = fields.Boolean()
    evidence = id_list(required=True)
    unit = text_str()
    tenure = text_str()
    org = slug_str(required=True)
    kind = text_str(required=True, validate=validate.OneOf(["seat", "role"]))


class PersonHistory(AsBuilt, Person):
    known_at = nullable_str()
    history = fields.List(fields.Nested(HistoryEntry), required=True)
