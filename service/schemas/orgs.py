"""Answers about organizations and their units, and a registration's answer."""

from __future__ import annotations

from marshmallow import fields, validate

from events.vocabulary import UNIT_KINDS

from .answer import Answer, id_list, instant_str, nullable_str, slug_str, text_str


class Org(Answer):
    slug = slug_str(required=True)
    name = text_str(required=True)
    recorded_at = instant_str(required=True)


class OrgList(Answer):
    orgs = fields.List(fields.Nested(Org), required=True)


class Unit(Answer):
    slug = slug_str(required=True)
    name = text_str(required=True)
    kind = text_str(required=True, validate=validate.OneOf(UNIT_KINDS))
    mandate = nullable_str()
    commitments = fields.List(fields.String())
    formed = text_str(required=True, metadata={"description": "valid time: 2024, 2024-04, 2024-04-11, A/B or unknown"})
    dissolved = nullable_str()
    evidence = id_list(required=True)


class UnitList(Answer):
    org = slug_str(required=True)
    units = fields.List(fields.Nested(Unit), required=True)


class Registered(Answer):
    """201 when registered now, 200 when it already was (same name)."""

    slug = slug_str(required=True)
    name = text_str(required=True)
    version = fields.Integer(metadata={"description": "the organization's version (organizations only)"})
    position = fields.Integer(required=True)
