"""marshmallow schemas for the HTTP contract (query arguments, bodies, answers)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import marshmallow as ma
from marshmallow import fields, validate
from webargs.fields import DelimitedList  # comma-separated: ?type=member_joined,member_left

from events.errors import InvalidFact
from events.vocabulary import CONFIDENCE, DIGITS, MAX_INT, SLUG, TYPES, UNIT_KINDS, clean, whole_number
from projections.projector import stamp

STREAM_TYPES = tuple(TYPES) + ("org_registered", "imported", "person_renamed", "person_merged", "merge_retracted",
                                "person_identified")

slug_field = dict(required=True, validate=validate.Regexp(SLUG, error="must be a slug: lowercase letters, digits and '-'"))


IMPORT_FILTER = dict(data_key="import", validate=validate.Length(min=1, max=200),
                     metadata={"description": "only what this import (an id from /v1/orgs/{org}/imports) "
                                              "recorded or corrected"})


class Text(fields.String):
    """A string in the one form the stores hold (see ``vocabulary.clean``): no NUL, no lone
    surrogates, NFC."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            return clean(value, attr or "value")
        except InvalidFact as e:
            raise ma.ValidationError(e.message) from None


class Whole(fields.Integer):
    """A whole number from 0 to 2**63-1 (both stores' 64-bit positions and versions). In a query
    or header it is ASCII digits only: ``int`` also takes ``1_0`` and other scripts' digits."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (bool, float)) or (isinstance(value, str) and not DIGITS.match(value)):
            raise ma.ValidationError("must be a whole number written with the digits 0-9")
        number = super()._deserialize(value, attr, data, **kwargs)
        if not 0 <= number <= MAX_INT:
            raise ma.ValidationError(f"must be from 0 to {MAX_INT}")
        return number


_DAY = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


class Day(fields.Date):
    """A calendar date written YYYY-MM-DD (ASCII digits), nothing else."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not _DAY.match(value):
            raise ma.ValidationError("must be a date written YYYY-MM-DD")
        return super()._deserialize(value, attr, data, **kwargs)


class Instant(fields.AwareDateTime):
    """A moment with its offset, that UTC can represent (year 9999 at -05:00 is past the end)."""

    def __init__(self, **kwargs):
        super().__init__(default_timezone=timezone.utc, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            utc = moment.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            raise ma.ValidationError("is outside the years 0001 to 9999 in UTC") from None
        if not 1 <= utc.year <= 9998:
            raise ma.ValidationError("must be within the years 0001 to 9998 in UTC")
        return utc


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


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


class AsOfArgs(Strict):
    as_of = Day(metadata={"description": "valid time (a date); default today"})
    known_at = Instant(metadata={"description": "record time; default now"})
    min_position = Whole(validate=validate.Range(min=0),
                                  metadata={"description": "wait (bounded) until the projection has reached it"})
    version = Whole(validate=validate.Range(min=1),
                             metadata={"description": "read this version of the projection (a replay, say) "
                                                      "instead of the live one"})


class ChangesArgs(Strict):
    import_ = Text(**IMPORT_FILTER)
    from_ = Day(required=True, data_key="from")
    to = Day(required=True)
    known_at = Instant()
    min_position = Whole(validate=validate.Range(min=0))
    version = Whole(validate=validate.Range(min=1),
                             metadata={"description": "read this version of the projection (a replay, say) "
                                                      "instead of the live one"})

    @ma.validates_schema
    def _order(self, data, **_):
        if data["to"] < data["from_"]:
            raise ma.ValidationError("must not be before from", "to")


class TimelineArgs(Strict):
    @ma.validates_schema
    def _order(self, data, **_):
        if data.get("from_") and data.get("to") and data["to"] < data["from_"]:
            raise ma.ValidationError("must not be before from", "to")

    import_ = Text(**IMPORT_FILTER)
    known_at = Instant()
    from_ = Day(data_key="from")
    to = Day()
    limit = Whole(load_default=1000, validate=validate.Range(min=1, max=10_000))
    min_position = Whole(validate=validate.Range(min=0))
    version = Whole(validate=validate.Range(min=1),
                             metadata={"description": "read this version of the projection (a replay, say) "
                                                      "instead of the live one"})


class HistoryArgs(Strict):
    known_at = Instant()
    min_position = Whole(validate=validate.Range(min=0))
    version = Whole(validate=validate.Range(min=1),
                             metadata={"description": "read this version of the projection (a replay, say) "
                                                      "instead of the live one"})


class PageArgs(Strict):
    after = Whole(load_default=0, validate=validate.Range(min=0))
    limit = Whole(load_default=100, validate=validate.Range(min=1, max=1000))
    type = DelimitedList(Text(validate=validate.OneOf(STREAM_TYPES)))
    min_position = Whole(validate=validate.Range(min=0))


class StreamArgs(Strict):
    after = Whole(load_default=0, validate=validate.Range(min=0))
    limit = Whole(load_default=100, validate=validate.Range(min=1, max=1000))
    org = Text(validate=validate.Regexp(SLUG, error="must be an organization slug"))
    type = DelimitedList(Text(validate=validate.OneOf(STREAM_TYPES)))


class LiveArgs(Strict):
    after = Whole(load_default=0, validate=validate.Range(min=0))
    org = Text(validate=validate.Regexp(SLUG, error="must be an organization slug"))
    type = DelimitedList(Text(validate=validate.OneOf(STREAM_TYPES)))


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


class PeoplePageArgs(Strict):
    after = Text(load_default="")
    limit = Whole(load_default=1000, validate=validate.Range(min=1, max=5000))


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


class MergeIn(Strict):
    into = Text(**slug_field, metadata={"description": "the person they are"})
    reason = Text(validate=validate.Length(min=1, max=10_000))


class MergeRetractIn(Strict):
    reason = Text(required=True, validate=validate.Length(min=1, max=10_000))


class ImportArgs(Strict):
    source = Text(validate=validate.Regexp(SLUG, error="must be a slug"),
                           metadata={"description": "the dataset's name (default: the organization's slug); "
                                                    "records are keyed by it"})
    dry_run = fields.Boolean(load_default=False, metadata={"description": "show the diff, store nothing"})
    name = Text(validate=validate.Length(min=1, max=500),
                         metadata={"description": "the organization's name, if it is new"})


class ExportArgs(Strict):
    source = Text(validate=validate.Regexp(SLUG, error="must be a slug"),
                           metadata={"description": "only what this source gave"})


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


def known_at_text(value: datetime | None) -> str | None:
    return None if value is None else stamp(value)
