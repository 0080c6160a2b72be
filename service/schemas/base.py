"""The fields every schema uses: text in the stores' one form, whole numbers, dates, instants."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any, TypedDict

import marshmallow as ma
from marshmallow import fields, validate
from marshmallow.types import Validator

from events.errors import InvalidFact
from events.recorded import PUBLIC_KINDS
from events.vocabulary import DIGITS, MAX_INT, SLUG, TYPES, clean
from projections.clock import stamp

STREAM_TYPES = tuple(TYPES) + tuple(k.value for k in PUBLIC_KINDS)


class SlugOptions(TypedDict):
    """What a slug field is given (``Text(**slug_field)``): required, and a slug."""

    required: bool
    validate: Validator


class FilterOptions(TypedDict):
    """What a query's ``import`` filter is given (``Text(**IMPORT_FILTER)``)."""

    data_key: str
    validate: Validator
    metadata: Mapping[str, Any]


slug_field = SlugOptions(required=True, validate=validate.Regexp(
    SLUG, error="must be a slug: lowercase letters, digits and '-'"))


IMPORT_FILTER = FilterOptions(data_key="import", validate=validate.Length(min=1, max=200),
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


def known_at_text(value: datetime | None) -> str | None:
    return None if value is None else stamp(value)


def today() -> date:
    """Today in UTC: the valid date a query asks for unless it names one."""
    return datetime.now(timezone.utc).date()
