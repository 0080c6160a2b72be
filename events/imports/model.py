"""A dataset as every import format reads it: people, organizations and memberships, each under
the source's own record id, already checked. The sync (``sync.py``) knows nothing of Popolo or
FollowTheMoney; each format's reader turns its document into a ``Dataset``.

A reader raises ``InvalidFact`` naming the path in the document (``memberships[12].sources[0].url``)
when the document itself is malformed: then nothing is imported. A record that is well formed but
cannot be a membership (its end before its start, an unknown organization, a date no calendar has)
is a ``Rejection``: reported, kept as a noted fact, never a tenure.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..validtime import InvalidValidTime, ValidTime
from ..vocabulary import SLUG

ORGHISTORY_SCHEME = "orghistory"  # an identifier that is this service's own slug (written by exports)


@dataclass(frozen=True)
class PersonRecord:
    id: str
    path: str
    name: str
    identifiers: tuple[tuple[str, str], ...] = ()  # (scheme, value), scheme in lower case
    # Names the source says the person had until a day: (name, last day as Popolo writes it).
    former_names: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class UnitRecord:
    id: str
    path: str
    name: str
    kind: str  # one of vocabulary.UNIT_KINDS
    classification: str | None = None  # the source's own word: legislature, party, ...
    founded: str | None = None  # valid-time text
    sources: tuple[dict[str, str], ...] = ()
    identifiers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MembershipRecord:
    """One membership: a seat in ``unit`` from ``start``, left on ``leave`` (our valid time of the
    leave: the day after the source's last day), and, if ``group`` is set, a seat in that group (a
    party or faction the member sat for) over the same time."""

    id: str
    path: str
    person: str  # the source's person record id
    unit: str  # the source's organization record id
    role: str  # a slug
    group: str | None = None
    title: str | None = None  # the role as the source words it
    post: str | None = None  # the seat's own name
    start: str | None = None  # valid-time text; None: unknown
    leave: str | None = None  # valid-time text of the leave; None: has not ended
    cause: str = "unknown"
    sources: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class Rejection:
    kind: str  # membership | person | organization
    id: str
    path: str
    reason: str
    raw: dict[str, Any] | None = None  # the record as the source gave it (kept on the noted fact)
    effective: str | None = None  # when it would have started, if known (places the note in time)

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "record": self.id, "path": self.path, "reason": self.reason}


@dataclass
class Dataset:
    format: str
    digest: str
    people: dict[str, PersonRecord] = field(default_factory=dict)
    units: dict[str, UnitRecord] = field(default_factory=dict)
    memberships: dict[str, MembershipRecord] = field(default_factory=dict)
    rejected: dict[str, Rejection] = field(default_factory=dict)  # memberships, by record id
    other_rejections: list[Rejection] = field(default_factory=list)  # people and organizations
    org_name: str | None = None  # the organization's own name, where the document gives it
    ignored: dict[str, int] = field(default_factory=dict)  # records of kinds this service has no use for


def digest(*parts: Any) -> str:
    """The document's fingerprint: the same document (whatever its key order) gives the same one."""
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        h.update(b"\x00")
    return "sha256:" + h.hexdigest()


# --- names and keys ------------------------------------------------------------------------------

def slugify(value: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-")
    return (s or "x")[:100].strip("-") or "x"


def slug_for(text: str, max_len: int = 100) -> str:
    """A slug that stands for ``text`` and no other text: ``text`` itself when it is a slug, else
    its slugified form with a short hash of the original (``Person/1`` and ``person-1`` differ)."""
    if len(text) <= max_len and SLUG.fullmatch(text):
        return text
    h = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
    base = slugify(text)[: max_len - 11].strip("-") or "x"
    return f"{base}-{h}"


def content_id(*parts: Any) -> str:
    """A record id for a record that has none, from what identifies it (not its end, so that an
    end appearing later is an end, not a new record)."""
    return "auto-" + hashlib.sha1(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


# --- Popolo-style dates ----------------------------------------------------------------------------

def leave_effective(last_day: str) -> str:
    """The day after a last day held: ``2024-04-10`` -> ``2024-04-11``; ``2024-04`` -> a window."""
    if last_day == "unknown":
        return "unknown"
    v = ValidTime.parse(last_day)
    lo, hi = v.earliest + timedelta(days=1), v.latest + timedelta(days=1)
    return lo.isoformat() if lo == hi else f"{lo.isoformat()}/{hi.isoformat()}"


def last_day(leave: str) -> str:
    """Inverse of ``leave_effective``: a leave's valid time back to the last day held, with its
    precision (``2024-05-01/2024-05-31`` -> ``2024-04``)."""
    if leave == "unknown":
        return "unknown"
    v = ValidTime.parse(leave)
    lo, hi = v.earliest - timedelta(days=1), v.latest - timedelta(days=1)
    if lo == hi:
        return lo.isoformat()
    for text in (lo.isoformat()[:7], lo.isoformat()[:4]):
        w = ValidTime.parse(text)
        if (w.earliest, w.latest) == (lo, hi):
            return text
    return f"{lo.isoformat()}/{hi.isoformat()}"


def popolo_date(value: Any) -> str:
    """A Popolo date (``2024``, ``2024-04``, ``2024-04-11``) as valid-time text; ``ValueError``
    with the reason when it is none."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value.strip()):
        raise ValueError(f"{value!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)")
    try:
        return ValidTime.parse(value.strip()).text
    except InvalidValidTime as e:
        raise ValueError(str(e)) from None


def membership_leave(start: str | None, last: str | None) -> str | None:
    """The leave of a membership held from ``start`` to ``last`` (its last day, as Popolo and FtM
    write it), as valid-time text: the day after ``last``, narrowed by what the start says. A
    membership held on its first day cannot have ended before the next one, so ``start
    2011-06-15, end 2011`` leaves on a day in 2011-06-16/2012-01-01, not from 2011-01-02 (which
    would sort the leave before the join it ends). None: it has not ended."""
    if last is None:
        return None
    leave = leave_effective(last)
    if start is None or leave == "unknown":
        return leave
    w, first = ValidTime.parse(leave), ValidTime.parse(start)
    lo = max(w.earliest, first.earliest + timedelta(days=1))
    if lo == w.earliest or lo > w.latest:
        return leave  # nothing to narrow, or it never held (ends_before_start says so)
    return lo.isoformat() if lo == w.latest else f"{lo.isoformat()}/{w.latest.isoformat()}"


def ends_before_start(start: str | None, leave: str | None) -> bool:
    """True when the membership certainly never held: its last day is before its first."""
    if start is None or leave is None or leave == "unknown":
        return False
    return ValidTime.parse(leave).latest <= ValidTime.parse(start).earliest


def record_summary(raw: dict[str, Any] | None) -> str:
    """A rejected record as its noted fact keeps it: the record's own JSON, within the text limit."""
    return json.dumps(raw or {}, ensure_ascii=False, sort_keys=True)[:9000]
