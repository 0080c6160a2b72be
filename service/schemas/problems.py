"""The answer to every error: RFC 9457 problem details, naming the failing fields."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


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
