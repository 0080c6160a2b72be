"""What every answer's schema is built from. Each answer declares every field it has, so
/openapi.json documents it exactly and flask-smorest renders it. ``Answer`` keeps the order in which
the service built each answer (marshmallow would reorder it to the declaration); ``Open`` answers
(a fact with its own fields, a Popolo document) also keep the fields they do not declare."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, TypedDict, Unpack

import marshmallow as ma
from marshmallow import fields
from marshmallow.types import Validator

from ..openapi import SLUG

INSTANT = {"description": "a record time, UTC ISO 8601"}


class StringOptions(TypedDict, total=False):
    """What an answer's string field may be given besides its metadata."""

    required: bool
    validate: Validator
    attribute: str
    data_key: str


def slug_str(metadata: Mapping[str, Any] | None = None, **options: Unpack[StringOptions]) -> fields.String:
    """A slug, documented with its pattern and length."""
    return fields.String(metadata={"pattern": SLUG["pattern"], "maxLength": SLUG["maxLength"], **(metadata or {})},
                         **options)


def text_str(metadata: Mapping[str, Any] | None = None, **options: Unpack[StringOptions]) -> fields.String:
    return fields.String(metadata=metadata, **options)


def nullable_str(metadata: Mapping[str, Any] | None = None, **options: Unpack[StringOptions]) -> fields.String:
    return fields.String(allow_none=True, metadata=metadata, **options)


def instant_str(**options: Unpack[StringOptions]) -> fields.String:
    """A record time (UTC, ISO 8601)."""
    return fields.String(metadata=INSTANT, **options)


def id_list(**options: Unpack[StringOptions]) -> fields.List[str]:
    """Event ids (evidence, corrections)."""
    return fields.List(fields.String(), **options)


class Answer(ma.Schema):
    """An answer's fields in the order the service built them."""

    @ma.post_dump(pass_original=True)
    def _as_built(self, data: dict[str, Any], original: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        return {k: data[k] for k in original if k in data} | {k: v for k, v in data.items() if k not in original}


class Open(Answer):
    """An answer whose own fields ride along (a fact's, say): what is not declared is kept as is."""

    class Meta:
        unknown = ma.INCLUDE  # documented as additionalProperties: true

    @ma.post_dump(pass_original=True)
    def _as_built(self, data: dict[str, Any], original: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        return {k: data.get(k, v) for k, v in original.items()} | {k: v for k, v in data.items() if k not in original}


class AnswerShapeError(AssertionError):
    """An answer served as built differs from what its schema would have made of it."""


class AsBuilt(Answer):
    """An answer the service builds already in its schema's shape (the TypedDicts of
    ``projections.answers``, the events of the log as recorded): it is served as built, not
    dumped field by field. Dumping a roster through its nested schemas took as long as one of its
    queries, and half of a 5,001-event timeline's request (147-179 ms dumped, 71-79 as built, in
    process on SQLite); a stream page of 1,000 events, 24 ms against 13.5.

    The schema stays the contract: /openapi.json documents it, and with
    ``ORGHISTORY_CHECK_ANSWERS`` set (the test suite sets it, in its servers too) every answer
    is also dumped through the schema and must come out unchanged, or the request fails."""

    checked: ClassVar[bool] = os.environ.get("ORGHISTORY_CHECK_ANSWERS", "") not in ("", "0")

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        if self.checked:
            self.check(obj, many=many)
        return obj

    def check(self, obj: Any, *, many: bool | None = None) -> None:
        """Raise AnswerShapeError unless dumping ``obj`` through the schema leaves it as it is."""
        dumped = super().dump(obj, many=many)
        if dumped != obj:
            raise AnswerShapeError(f"{type(self).__name__}: the answer as built is not its schema's dump: "
                                   f"{obj!r} against {dumped!r}")
