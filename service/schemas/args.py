"""Query arguments."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate
from webargs.fields import DelimitedList  # comma-separated: ?type=member_joined,member_left

from events.vocabulary import SLUG

from .base import IMPORT_FILTER, STREAM_TYPES, Day, Instant, Strict, Text, Whole, known_at_text, today


class AsAsked(Strict):
    """The arguments of a read as asked (``api.read_as_asked``): ``known_at`` comes out as the
    stores write a record time, or None (as known now)."""

    @ma.post_load
    def _known_at_as_stored(self, data, **_):
        return {**data, "known_at": known_at_text(data.get("known_at"))}


class AsOfArgs(AsAsked):
    as_of = Day(load_default=today, metadata={"description": "valid time (a date); default today"})
    known_at = Instant(metadata={"description": "record time; default now"})
    min_position = Whole(validate=validate.Range(min=0),
                                  metadata={"description": "wait (bounded) until the projection has reached it"})
    version = Whole(validate=validate.Range(min=1),
                             metadata={"description": "read this version of the projection (a replay, say) "
                                                      "instead of the live one"})


class ChangesArgs(AsAsked):
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


class TimelineArgs(AsAsked):
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


class HistoryArgs(AsAsked):
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


class PeoplePageArgs(Strict):
    after = Text(load_default="")
    limit = Whole(load_default=1000, validate=validate.Range(min=1, max=5000))


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
