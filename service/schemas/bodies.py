"""Request bodies."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from events.errors import InvalidFact
from events.vocabulary import CONFIDENCE, SLUG, UNIT_KINDS, whole_number

from .base import STREAM_TYPES, Instant, Strict, Text, Whole, slug_field


class OrgIn(Strict):
    slug = Text(**slug_field)
    name = Text(required=True, validate=validate.Length(min=1, max=500))


class PersonIn(OrgIn):
    pass


class UnitIn(Strict):
    slug = Text(**slug_field)
    name = Text(required=True, validate=validate.Length(min=1, max=500))
    kind = Text(required=True, validate=validate.OneOf(UNIT_KINDS))
    effective = fields.Raw(required=True, metadata={"description": "2024, 2024-04, 2024-04-11, A/B or unknown"})
    mandate = Text(validate=validate.Length(min=1, max=10_000))
    commitments = fields.List(Text())
    announced = fields.Raw()
    sources = fields.Raw()
    confidence = Text(validate=validate.OneOf(CONFIDENCE))
    note = Text()


class SubscriptionIn(Strict):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    secret = Text(required=True, validate=validate.Length(min=16, max=500),
                           metadata={"description": "signs each delivery (HMAC-SHA256); never shown again"})
    filter = fields.Dict(load_default=dict, metadata={"description": "{org?, types?: [...]}"})
    from_position = Whole(validate=validate.Range(min=1),
                                   metadata={"description": "deliver from this position (default: new events only)"})

    @ma.validates_schema
    def _filter(self, data, **_):
        f = data.get("filter") or {}
        unknown = sorted(set(f) - {"org", "types"})
        if unknown:
            raise ma.ValidationError("unknown field", f"filter.{unknown[0]}")
        if f.get("org") is not None and (not isinstance(f["org"], str) or not SLUG.match(f["org"])):
            raise ma.ValidationError("must be an organization slug", "filter.org")
        types = f.get("types", [])
        if not isinstance(types, list) or any(t not in STREAM_TYPES for t in types):
            raise ma.ValidationError(f"must be a list of event types ({', '.join(STREAM_TYPES)})", "filter.types")


class RedeliverIn(Strict):
    from_position = Whole(required=True, validate=validate.Range(min=1))


class ReplayIn(Strict):
    until_position = Whole(validate=validate.Range(min=1),
                                    metadata={"description": "fold up to and including this position"})
    until_recorded = Instant(metadata={"description": "fold the events recorded up to this time"})

    @ma.validates_schema
    def _one(self, data, **_):
        if data.get("until_position") is None and data.get("until_recorded") is None:
            raise ma.ValidationError("give until_position or until_recorded", "until_position")


class MergeIn(Strict):
    into = Text(**slug_field, metadata={"description": "the person they are"})
    reason = Text(validate=validate.Length(min=1, max=10_000))


class MergeRetractIn(Strict):
    reason = Text(required=True, validate=validate.Length(min=1, max=10_000))


class ExpectedVersion(fields.Field):
    """``expected_version`` in an append body: a JSON whole number from 1 (``"3"``, text, is not)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            raise ma.ValidationError("must be a whole number")
        try:
            return whole_number(value, "expected_version", minimum=1)
        except InvalidFact as e:
            raise ma.ValidationError(e.message) from None


class AppendIn(ma.Schema):
    """An append body: one fact, or ``{"events": [...], "expected_version"?}``, all or nothing.
    This schema judges the envelope and the expected version (the ``If-Match`` header, when given,
    wins over ``expected_version``); each fact is judged by ``parse_fact`` when it is appended,
    which names its fields (``events[2].effective``). Loads to ``{events, path, expected_version}``
    (``path``: where the facts sit in the body, for those field names)."""

    class Meta:
        unknown = ma.INCLUDE  # one fact's own fields: the vocabulary judges them, not this schema

    events = fields.Raw(allow_none=True, metadata={"description": "the facts of a batch"})
    expected_version = ExpectedVersion(allow_none=True)

    def __init__(self, *, if_match: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.if_match = if_match

    @ma.pre_load
    def _envelope(self, data, **_):
        if "events" in data:
            unknown = sorted(set(data) - {"events", "expected_version"})
            if unknown:
                raise ma.ValidationError("unknown field", unknown[0])
        if self.if_match is not None:  # the header decides: the body's expected_version is not read
            data = {k: v for k, v in data.items() if k != "expected_version"}
        return data

    @ma.post_load(pass_original=True)
    def _facts(self, data, original, **_):
        expected = data.get("expected_version")
        if self.if_match is not None:
            try:
                expected = whole_number(self.if_match.strip().removeprefix("W/").strip('"'), "If-Match", minimum=1)
            except InvalidFact as e:
                raise ma.ValidationError(e.message, "If-Match") from None
        if "events" in original:
            return {"events": original["events"], "path": "events", "expected_version": expected}
        return {"events": [{k: v for k, v in original.items() if k != "expected_version"}], "path": "",
                "expected_version": expected}
