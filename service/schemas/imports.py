"""Answers about datasets: a Popolo export, imports' reports and their record."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from .answer import Open


class Popolo(Open):
    """A Popolo document: what we currently believe; importing it back changes nothing."""

    persons = fields.List(fields.Dict(), required=True)
    organizations = fields.List(fields.Dict(), required=True)
    memberships = fields.List(fields.Dict(), required=True)
    posts = fields.List(fields.Dict())




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


class ImportHead(ma.Schema):
    """What names an import and the document it read, first in both answers about imports: its
    id, the organization, the dataset (source), the document's format and digest."""

    id = fields.String()
    org = fields.String()
    source = fields.String()
    format = fields.String()
    digest = fields.String()


class ImportReport(ImportHead):
    class Meta:
        exclude = ("id",)  # a report names the import it stored by import_id, below (a dry run stores none)

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


class ImportOut(ImportHead):
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
