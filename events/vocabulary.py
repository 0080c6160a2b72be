"""The wire vocabulary: what a fact looks like in JSON, and its validation.

Each fact type has a schema of fields. ``parse_fact`` turns one JSON object into a normalized
``dict`` (or raises ``InvalidFact`` naming the field), which ``domain`` turns into an event.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal

from .errors import InvalidFact
from .validtime import InvalidValidTime, ValidTime, parse_date

# ``\A``/``\Z``, not ``^``/``$``: ``$`` also matches before a final newline ("board\n" is no slug).
SLUG = re.compile(r"\A[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?\Z")
DIGITS = re.compile(r"\A[0-9]{1,19}\Z")  # ASCII digits only: str.isdigit takes "²" and "٣", int takes "1_0"
MAX_INT = 2**63 - 1  # positions and versions are 64-bit in both stores
MAX_SOURCES = int(os.environ.get("ORGHISTORY_MAX_SOURCES") or 100)
MAX_LIST = 1000  # roles, seats, commitments of one fact
CONFIDENCE = ("confirmed", "reported", "disputed")
UNIT_KINDS = ("board", "team", "department", "committee", "office")
CAUSES = ("resigned", "fired", "removed", "term-ended", "died", "replaced", "unknown")
RESIGNATION = CAUSES[0]  # the cause a resignation gives the tenures and roles it ends
SOURCE_KEYS = ("url", "title", "publisher", "published", "quote")
ORIGIN_KEYS = ("source", "record", "part")
URL = re.compile(r"\Ahttps?://[^\s\x00-\x1f\x7f]{1,2000}\Z", re.ASCII)
# Which part of a source record a fact stands for: its seat in a group (a membership's party), or
# the record kept as noted because it was rejected. The main part has none.
ORIGIN_PARTS = ("group", "rejected")
# Limits on what one fact may hold (configurable; see the README's configuration table).
MAX_TEXT = int(os.environ.get("ORGHISTORY_MAX_TEXT") or 10_000)


def field_path(prefix: str, name: str) -> str:
    """``events[2].effective`` in a batch, plain ``effective`` for a single fact."""
    return f"{prefix}.{name}" if prefix else name


# --- field validators: (value, path) -> normalized value ------------------------------------

def slug(value: Any, path: str) -> str:
    if not isinstance(value, str) or not SLUG.match(value):
        raise InvalidFact("must be a slug: lowercase letters, digits and '-', 1-100 characters", path)
    return value


def clean(value: str, path: str, max_len: int = MAX_TEXT) -> str:
    """Text in the one form both stores hold: valid Unicode (no lone surrogates), no NUL (which
    PostgreSQL's text cannot hold), NFC (so the same words compare equal however they were typed),
    within ``max_len`` characters."""
    if "\x00" in value:
        raise InvalidFact("must not contain the NUL character", path)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidFact("must be valid Unicode (it holds a lone surrogate)", path) from None
    value = unicodedata.normalize("NFC", value)
    if len(value) > max_len:
        raise InvalidFact(f"must be at most {max_len} characters", path)
    return value


def text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidFact("must be a non-empty string", path)
    return clean(value, path).strip()


def whole_number(value: Any, path: str, minimum: int = 0) -> int:
    """An integer in a JSON body, or ASCII digits in a header or query: 0..2**63-1."""
    if isinstance(value, bool):
        raise InvalidFact("must be a whole number", path)
    if isinstance(value, str):
        if not DIGITS.match(value.strip()):
            raise InvalidFact("must be a whole number written with the digits 0-9", path)
        value = int(value.strip())
    if not isinstance(value, int) or not minimum <= value <= MAX_INT:
        raise InvalidFact(f"must be a whole number from {minimum} to {MAX_INT}", path)
    return value


def list_of(item: Callable[[Any, str], str], what: str) -> Callable[[Any, str], list[str]]:
    """A validator of a list (at most ``MAX_LIST`` long) whose items ``item`` validates."""
    def check(value: Any, path: str) -> list[str]:
        if not isinstance(value, list):
            raise InvalidFact(f"must be a list of {what}", path)
        if len(value) > MAX_LIST:
            raise InvalidFact(f"at most {MAX_LIST} items", path)
        return [item(v, f"{path}[{i}]") for i, v in enumerate(value)]

    return check


slugs = list_of(slug, "slugs")
texts = list_of(text, "strings")


def one_of(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def check(value: Any, path: str) -> str:
        if not isinstance(value, str) or value not in choices:
            raise InvalidFact(f"must be one of {', '.join(choices)}", path)
        return value

    check.choices = choices  # type: ignore[attr-defined]  # what the API's schema lists
    return check


def origin(value: Any, path: str) -> dict[str, str]:
    """Which dataset said a fact, under which of its own record ids (set by imports)."""
    if not isinstance(value, dict):
        raise InvalidFact("must be an object with source and record", path)
    unknown = sorted(set(value) - set(ORIGIN_KEYS))
    if unknown:
        raise InvalidFact(f"unknown field {unknown[0]!r}", f"{path}.{unknown[0]}")
    out = {"source": slug(value.get("source"), f"{path}.source"),
           "record": text(value.get("record"), f"{path}.record")}
    if value.get("part") is not None:
        out["part"] = one_of(ORIGIN_PARTS)(value["part"], f"{path}.part")
    return out


def event_id(value: Any, path: str) -> str:
    """Event ids are ``<org>@<version>``: stable, readable and checkable without a lookup."""
    if not isinstance(value, str) or "@" not in value:
        raise InvalidFact("must be an event id such as openai@12", path)
    org, _, version = value.rpartition("@")
    if not SLUG.match(org) or not DIGITS.match(version) or not 1 <= int(version) <= MAX_INT:
        raise InvalidFact("must be an event id such as openai@12", path)
    return f"{org}@{int(version)}"


def changes(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise InvalidFact("must be an object with the corrected fields", path)
    if "type" in value:
        raise InvalidFact("a correction cannot change the type of a fact; retract it instead", f"{path}.type")
    return dict(value)


def valid_time(value: Any, path: str) -> str:
    try:
        return ValidTime.parse(value).text
    except InvalidValidTime as e:
        raise InvalidFact(str(e), path) from None


def calendar_date(value: Any, path: str) -> str:
    try:
        return parse_date(value).isoformat()
    except InvalidValidTime as e:
        raise InvalidFact(str(e), path) from None


def sources(value: Any, path: str) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise InvalidFact("must be a list of sources", path)
    if len(value) > MAX_SOURCES:
        raise InvalidFact(f"at most {MAX_SOURCES} sources", path)
    out = []
    for i, src in enumerate(value):
        p = f"{path}[{i}]"
        if not isinstance(src, dict):
            raise InvalidFact("must be an object with url, title, publisher, published or quote", p)
        unknown = sorted(set(src) - set(SOURCE_KEYS))
        if unknown:
            raise InvalidFact(f"unknown field {unknown[0]!r}", f"{p}.{unknown[0]}")
        given = {}
        for key in SOURCE_KEYS:
            if key in src and src[key] is not None:
                given[key] = calendar_date(src[key], f"{p}.{key}") if key == "published" else text(src[key], f"{p}.{key}")
        if "url" in given and not URL.match(given["url"]):
            raise InvalidFact("must be an http(s) URL", f"{p}.url")
        if not given:
            raise InvalidFact("a source needs at least one of url, title, publisher", p)
        out.append(given)
    return out


@dataclass(frozen=True)
class Field:
    name: str
    check: Callable[[Any, str], Any]
    required: bool = True
    default: Any = None


UnitEdge = Literal["formed", "dissolved"]
Amends = Literal["corrects", "retracts"]


@dataclass(frozen=True)
class FactType:
    """One fact type, declared once: its fields and what it means to the rest of the system.

    The aggregate checks references with it, the projector decides what a fact touches with it,
    and the fold (``projections.fold``) keeps one rule per type that folds people's tenures."""

    name: str
    fields: tuple[Field, ...]
    needs_effective: bool = True
    # Fields naming the people the fact is about: they must exist, and their tenures and roles
    # are what the fold re-derives.
    people: tuple[str, ...] = ()
    # Fields naming the units whose seats (or existence) the fact changes: the fold looks up when
    # they were formed and dissolved, and the fact is linked to them.
    touches: tuple[str, ...] = ()
    # Fields naming units the fact only mentions (who did it): they must exist, nothing else.
    mentions: tuple[str, ...] = ()
    # What the fact says of the existence of the unit it names in ``unit``, if anything.
    unit_edge: UnitEdge | None = None
    # A fact about another fact (``target``): its correction or its retraction.
    amends: Amends | None = None
    # The fact ends tenures or roles: undated ("unknown"), it is the last thing known of what it
    # ends, where an undated start is the first (it began before anything we know).
    ends: bool = False
    # Whether a correction may point at a fact of this type, and the fields it may never change.
    correctable: bool = True
    fixed: tuple[str, ...] = ()
    # Two fields that must name different things (someone cannot replace themselves).
    distinct: tuple[str, str] | None = None
    doc: str = ""

    @property
    def folds(self) -> bool:
        """A plain fact about people: it only adds to what is known of the people it names."""
        return bool(self.people) and self.unit_edge is None and self.amends is None

    def people_in(self, fields: dict[str, Any]) -> set[str]:
        """The people whose tenures and roles this fact can change."""
        return {fields[name] for name in self.people if fields.get(name)}

    def units_in(self, fields: dict[str, Any]) -> set[str]:
        """The units whose seats (or existence) this fact changes."""
        # ``_named``'s values without its field paths: the fold asks this of every fact.
        out: set[str] = set()
        for name in self.touches:
            value = fields.get(name)
            if isinstance(value, list):
                out.update(v for v in value if v)
            elif value:
                out.add(value)
        return out

    def required_units(self, fields: dict[str, Any]) -> Iterator[tuple[str, str]]:
        """(field path, unit) of every unit that must already exist for the fact to be recorded."""
        names = self.mentions if self.unit_edge == "formed" else self.touches + self.mentions
        return _named(fields, names)


def _named(fields: dict[str, Any], names: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(``name`` or ``name[i]``, value) of each slug the named fields hold (a slug or a list)."""
    for name in names:
        value = fields.get(name)
        if isinstance(value, list):
            yield from ((f"{name}[{i}]", v) for i, v in enumerate(value) if v)
        elif value:
            yield name, value


def F(name: str, check: Callable[[Any, str], Any], required: bool = True, default: Any = None) -> Field:
    return Field(name, check, required, default)


# The vocabulary. Code elsewhere refers to a type by these names, never by its string.
PERSON_REGISTERED = FactType("person_registered", (F("person", slug), F("name", text)), needs_effective=False,
                             correctable=False, doc="a person exists (people are global)")
UNIT_FORMED = FactType("unit_formed", (F("unit", slug), F("name", text), F("kind", one_of(UNIT_KINDS)),
                                       F("mandate", text, False), F("commitments", texts, False, []),
                                       F("classification", text, False)),
                       touches=("unit",), unit_edge="formed", fixed=("unit",), doc="the unit exists from effective")
UNIT_DISSOLVED = FactType("unit_dissolved", (F("unit", slug),), touches=("unit",), unit_edge="dissolved", ends=True,
                          doc="every open tenure in the unit ends, cause unit-dissolved")
MEMBER_JOINED = FactType("member_joined", (F("unit", slug), F("person", slug), F("role", slug, False, "member"),
                                           F("tenure", slug, False), F("title", text, False), F("post", text, False)),
                         people=("person",), touches=("unit",), doc="a tenure starts")
MEMBER_LEFT = FactType("member_left", (F("unit", slug), F("person", slug), F("role", slug, False),
                                       F("tenure", slug, False), F("cause", one_of(CAUSES), False, "unknown")),
                       people=("person",), touches=("unit",), ends=True, doc="the matching tenure ends")
ROLE_ASSIGNED = FactType("role_assigned", (F("person", slug), F("role", slug)), people=("person",),
                         doc="an organization-level role starts")
ROLE_ENDED = FactType("role_ended", (F("person", slug), F("role", slug), F("cause", one_of(CAUSES), False, "unknown")),
                      people=("person",), ends=True, doc="an organization-level role ends")
LEADER_OUSTED = FactType("leader_ousted", (F("person", slug), F("roles", slugs, False, []),
                                           F("seats", slugs, False, []), F("by", slug, False)),
                         people=("person",), touches=("seats",), mentions=("by",), ends=True,
                         doc="the named roles and seats end, cause removed")
REINSTATED = FactType("reinstated", (F("person", slug), F("roles", slugs, False, []), F("seats", slugs, False, [])),
                      people=("person",), touches=("seats",), doc="the named roles and seats start again")
RESIGNED = FactType("resigned", (F("person", slug),), people=("person",), ends=True,
                    doc="every tenure and role of the person in the organization ends, cause resigned")
LEAD_REPLACED = FactType("lead_replaced", (F("unit", slug), F("outgoing", slug), F("incoming", slug),
                                           F("role", slug, False, "lead")),
                         people=("outgoing", "incoming"), touches=("unit",), distinct=("outgoing", "incoming"),
                         doc="the outgoing lead's tenure ends and the incoming one's starts")
CORRECTED = FactType("corrected", (F("target", event_id), F("changes", changes)), needs_effective=False,
                     amends="corrects", correctable=False, doc="the target is re-derived with the new values")
RETRACTED = FactType("retracted", (F("target", event_id), F("reason", text)), needs_effective=False,
                     amends="retracts", correctable=False, doc="the target no longer counts")
NOTED = FactType("noted", (F("title", text), F("summary", text, False)), doc="on the timeline only")

TYPES: dict[str, FactType] = {
    t.name: t
    for t in (PERSON_REGISTERED, UNIT_FORMED, UNIT_DISSOLVED, MEMBER_JOINED, MEMBER_LEFT, ROLE_ASSIGNED, ROLE_ENDED,
              LEADER_OUSTED, REINSTATED, RESIGNED, LEAD_REPLACED, CORRECTED, RETRACTED, NOTED)
}


def fact_type(name: str) -> FactType | None:
    """The declaration of a fact type, or None for events that are not facts (registrations,
    imports, subscriptions)."""
    return TYPES.get(name)


def people_of(fields: dict[str, Any]) -> set[str]:
    """The people whose tenures a fact (its fields, ``type`` included) can change."""
    spec = TYPES.get(fields["type"])
    return spec.people_in(fields) if spec else set()


def units_of(fields: dict[str, Any]) -> set[str]:
    """The units whose seats or existence a fact (its fields, ``type`` included) changes."""
    spec = TYPES.get(fields["type"])
    return spec.units_in(fields) if spec else set()


def is_unit_edge(type_name: str) -> bool:
    """Whether facts of this type form or dissolve a unit."""
    spec = TYPES.get(type_name)
    return spec is not None and spec.unit_edge is not None


COMMON = ("type", "effective", "announced", "sources", "confidence", "note", "origin")
_confidence = one_of(CONFIDENCE)
_ALLOWED = {kind: frozenset(COMMON) | {f.name for f in spec.fields} for kind, spec in TYPES.items()}


def parse_fact(raw: Any, path: str = "") -> dict[str, Any]:
    """Validate one wire fact; return the normalized fields (``type`` included). ``path``: where
    the fact is in a request (``events[2]``), which the field an error names starts with."""
    if not path:
        return _parse_fact(raw)
    try:
        return _parse_fact(raw)
    except InvalidFact as e:
        # Paths are spelled only for an error: building every field's path of a batch, to throw
        # it away, cost 0.8 of the 2.8 ms that parsing 1,000 facts took.
        raise InvalidFact(e.message, field_path(path, e.field) if e.field else path) from None


def _parse_fact(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidFact("must be a JSON object with a type", None)
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        raise InvalidFact(f"must be one of {', '.join(TYPES)}", "type")
    spec = TYPES[kind]
    allowed = _ALLOWED[kind]
    for name in raw:
        if name not in allowed:
            raise InvalidFact(f"unknown field for {kind}", name)
    out: dict[str, Any] = {"type": kind}
    for f in spec.fields:
        value = raw.get(f.name)
        if value is None:
            if f.required:
                raise InvalidFact("is required", f.name)
            out[f.name] = list(f.default) if isinstance(f.default, list) else f.default
        else:
            out[f.name] = f.check(value, f.name)
    effective = raw.get("effective")
    if effective is None:
        if spec.needs_effective:
            raise InvalidFact("is required (a date such as 2024, 2024-04 or 2024-04-11)", "effective")
        out["effective"] = None
    else:
        out["effective"] = valid_time(effective, "effective")
    out["announced"] = calendar_date(raw["announced"], "announced") if raw.get("announced") is not None else None
    out["sources"] = sources(raw.get("sources") or [], "sources")
    out["confidence"] = _confidence(raw.get("confidence", "reported"), "confidence")
    out["note"] = text(raw["note"], "note") if raw.get("note") is not None else None
    out["origin"] = origin(raw["origin"], "origin") if raw.get("origin") is not None else None
    if spec.distinct and out[spec.distinct[0]] == out[spec.distinct[1]]:
        raise InvalidFact(f"must differ from {spec.distinct[0]}", spec.distinct[1])
    return out


def apply_changes(original: dict[str, Any], changes_: dict[str, Any], path: str) -> dict[str, Any]:
    """The target fact with a correction's changes applied, validated as a whole."""
    merged = {k: v for k, v in original.items() if v is not None}
    for name, value in changes_.items():
        if name not in set(COMMON) | {f.name for f in TYPES[original["type"]].fields}:
            raise InvalidFact(f"{original['type']} has no field {name!r}", field_path(path, name))
        merged[name] = value
    return parse_fact(merged, path)
