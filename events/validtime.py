"""Valid time: when something happened in the world, with the precision the sources give.

Written as in Popolo: ``2024``, ``2024-04``, ``2024-04-11``; a window ``2023-11-29/2024-01-05``
("some day between these two, inclusive"; each side may itself be a year or a month); or
``unknown``. A fact takes effect at the start of its day, so an imprecise date is really the
set of days ``[earliest, latest]`` on which it may have taken effect.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

# Sentinels for "unbounded" ends. ISO strings of these sort correctly as text, which lets the
# projections store dates as TEXT on SQLite and PostgreSQL alike.
BEGINNING = date(1, 1, 1)
END_OF_TIME = date(9999, 12, 31)

# ASCII digits (``\d`` takes every script's digits), and ``\Z`` (``$`` takes a final newline).
_PART = re.compile(r"\A([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?\Z")


class InvalidValidTime(ValueError):
    """A valid-time value that is not a real date of a known form."""


def _bounds(text: str) -> tuple[date, date, str]:
    m = _PART.match(text)
    if not m:
        raise InvalidValidTime(
            f"{text!r} is not a date: use YYYY, YYYY-MM, YYYY-MM-DD, a window A/B or 'unknown'"
        )
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    if year < 1:
        raise InvalidValidTime(f"{text!r}: year 0000 does not exist")
    if month is None:
        return date(year, 1, 1), date(year, 12, 31), "year"
    mon = int(month)
    if not 1 <= mon <= 12:
        raise InvalidValidTime(f"{text!r}: month {mon} does not exist")
    last = calendar.monthrange(year, mon)[1]
    if day is None:
        return date(year, mon, 1), date(year, mon, last), "month"
    d = int(day)
    if not 1 <= d <= last:
        raise InvalidValidTime(f"{text!r}: {year}-{mon:02d} has no day {d}")
    return date(year, mon, d), date(year, mon, d), "day"


@dataclass(frozen=True)
class ValidTime:
    """A point in valid time known to lie within ``[earliest, latest]`` (inclusive days)."""

    text: str
    earliest: date
    latest: date
    precision: str  # day | month | year | range | unknown
    # The bounds as ISO text, computed once per value (parses are cached) rather than by every
    # caller that writes them out, once per row it builds.
    lo: str = field(init=False, repr=False, compare=False)
    hi: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lo", self.earliest.isoformat())
        object.__setattr__(self, "hi", self.latest.isoformat())

    @classmethod
    def parse(cls, value: object) -> ValidTime:
        if isinstance(value, ValidTime):
            return value
        if isinstance(value, date):
            return cls(value.isoformat(), value, value, "day")
        if not isinstance(value, str):
            raise InvalidValidTime("must be a string such as 2024, 2024-04 or 2024-04-11")
        return _parse_text(value)

    @property
    def certain(self) -> bool:
        return self.earliest == self.latest

    def __str__(self) -> str:
        return self.text


@lru_cache(maxsize=65536)  # a history names the same days over and over; ValidTime is immutable
def _parse_text(value: str) -> ValidTime:
    cls = ValidTime
    text = value.strip()
    if text == "unknown":
        return cls(text, BEGINNING, END_OF_TIME, "unknown")
    if "/" in text:
        left, _, right = text.partition("/")
        lo, _, _ = _bounds(left)
        _, hi, _ = _bounds(right)
        if hi < lo:
            raise InvalidValidTime(f"{text!r}: the window ends before it starts")
        return cls(text, lo, hi, "range")
    lo, hi, precision = _bounds(text)
    return cls(text, lo, hi, precision)


def parse_date(value: object) -> date:
    """A plain calendar date (YYYY-MM-DD), as used by ``as_of`` and ``announced``."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise InvalidValidTime("must be a date YYYY-MM-DD")
    lo, _, precision = _bounds(value.strip())
    if precision != "day":
        raise InvalidValidTime(f"{value!r} must be a full date YYYY-MM-DD")
    return lo
