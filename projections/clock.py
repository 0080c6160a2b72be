"""Record times as text: fixed-width UTC ISO with microseconds, so they compare correctly as
strings on SQLite and PostgreSQL alike. One format for the projections, jobs and versions."""

from __future__ import annotations

from datetime import datetime, timezone

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def stamp(ts: datetime) -> str:
    if ts.tzinfo is timezone.utc and ts.microsecond:  # the common case, once per event in a rebuild
        return ts.isoformat()[:-6] + "Z"  # "...SS.ffffff+00:00" -> "...SS.ffffffZ"
    if ts.tzinfo is not timezone.utc:
        ts = ts.astimezone(timezone.utc)
    return ts.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"  # C-fast, same text as FORMAT


def now() -> str:
    return stamp(datetime.now(timezone.utc))


def parse(text: str) -> datetime:
    return datetime.strptime(text, FORMAT).replace(tzinfo=timezone.utc)
