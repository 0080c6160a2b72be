"""The fact vocabulary as OpenAPI schemas, generated from ``events.vocabulary.TYPES`` so the
document cannot drift from what the service accepts: one schema per fact type, and ``Fact``, their
union discriminated on ``type``. ``parse_fact`` stays the judge of a body (its errors name the
field); these schemas tell clients, and the generators that build them, what it accepts."""

from __future__ import annotations

from typing import Any, Callable

from events import vocabulary as v

# ECMA-262 spellings of the vocabulary's patterns (JSON Schema's dialect has no \A or \Z).
SLUG = {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$", "maxLength": 100}
TEXT = {"type": "string", "minLength": 1, "maxLength": v.MAX_TEXT}
VALID_TIME = {"type": "string", "examples": ["2023-11-17", "2023-11", "2023", "2015-12/2017", "unknown"],
              "description": "a day, a month or a year, a range of them written a/b, or unknown"}
DAY = {"type": "string", "format": "date"}
EVENT_ID = {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?@[0-9]{1,19}$",
            "examples": ["openai@12"]}

SOURCE = {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
    "url": {"type": "string", "pattern": "^https?://", "maxLength": 2008},
    "title": TEXT, "publisher": TEXT, "published": DAY, "quote": TEXT}}
ORIGIN = {"type": "object", "additionalProperties": False, "required": ["source", "record"], "properties": {
    "source": SLUG, "record": TEXT, "part": {"type": "string", "enum": list(v.ORIGIN_PARTS)}}}

_BY_CHECK: dict[Callable, dict[str, Any]] = {
    v.slug: SLUG,
    v.text: TEXT,
    v.slugs: {"type": "array", "items": SLUG, "maxItems": v.MAX_LIST},
    v.texts: {"type": "array", "items": TEXT, "maxItems": v.MAX_LIST},
    v.event_id: EVENT_ID,
    v.changes: {"type": "object", "minProperties": 1, "not": {"required": ["type"]},
                "description": "the target's fields with their corrected values"},
    v.valid_time: VALID_TIME,
    v.calendar_date: DAY,
}


def _field_schema(field: v.Field) -> dict[str, Any]:
    choices = getattr(field.check, "choices", None)
    schema = {"type": "string", "enum": list(choices)} if choices else dict(_BY_CHECK[field.check])
    if field.default is not None and field.default != []:
        schema["default"] = field.default
    return schema


def _name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_")) + "Fact"


def fact_schemas() -> dict[str, dict[str, Any]]:
    """Component schemas: one per fact type, ``Fact`` (any of them) and ``FactBatch``."""
    out: dict[str, dict[str, Any]] = {"Source": SOURCE, "Origin": ORIGIN}
    for kind, spec in v.TYPES.items():
        properties: dict[str, Any] = {
            "type": {"type": "string", "const": kind},
            "effective": VALID_TIME,
            "announced": DAY,
            "sources": {"type": "array", "items": {"$ref": "#/components/schemas/Source"},
                        "maxItems": v.MAX_SOURCES},
            "confidence": {"type": "string", "enum": list(v.CONFIDENCE), "default": "reported"},
            "note": TEXT,
            "origin": {"$ref": "#/components/schemas/Origin"},
        }
        required = ["type"] + (["effective"] if spec.needs_effective else [])
        for field in spec.fields:
            properties[field.name] = _field_schema(field)
            if field.required:
                required.append(field.name)
        out[_name(kind)] = {"type": "object", "title": _name(kind), "description": spec.doc,
                            "additionalProperties": False, "required": required, "properties": properties}
    refs = {kind: f"#/components/schemas/{_name(kind)}" for kind in v.TYPES}
    out["Fact"] = {"description": "One fact, its fields decided by its type (the vocabulary in DESIGN.md).",
                   "oneOf": [{"$ref": ref} for ref in refs.values()],
                   "discriminator": {"propertyName": "type", "mapping": refs}}
    out["FactBatch"] = {"type": "object", "additionalProperties": False, "required": ["events"], "properties": {
        "events": {"type": "array", "items": {"$ref": "#/components/schemas/Fact"}, "minItems": 1},
        "expected_version": {"type": "integer", "minimum": 1,
                             "description": "fail with 409 unless the log is at this version"}}}
    return out


def register(spec) -> None:
    """Add the vocabulary's schemas to an apispec ``APISpec``."""
    for name, schema in fact_schemas().items():
        spec.components.schema(name, schema)


APPEND_BODY = {"required": True, "content": {"application/json": {"schema": {
    "oneOf": [{"$ref": "#/components/schemas/Fact"}, {"$ref": "#/components/schemas/FactBatch"}]}}}}


# --- answers ------------------------------------------------------------------------------------
# Documented shapes of the answers that are plain dicts (the rosters have marshmallow schemas).
# Open objects (extra fields allowed) where a fact's own fields ride along; schemathesis checks
# every answer it gets against these (tests/test_schemathesis.py).

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_INSTANT = {"type": "string", "description": "a record time, UTC ISO 8601"}
_IDS = {"type": "array", "items": _STR}

ANSWERS: dict[str, dict[str, Any]] = {
    "Org": {"type": "object", "required": ["slug", "name", "recorded_at"],
            "properties": {"slug": SLUG, "name": _STR, "recorded_at": _INSTANT}},
    "OrgList": {"type": "object", "required": ["orgs"],
                "properties": {"orgs": {"type": "array", "items": {"$ref": "#/components/schemas/Org"}}}},
    "Unit": {"type": "object", "required": ["slug", "name", "kind", "formed", "evidence"], "properties": {
        "slug": SLUG, "name": _STR, "kind": {"type": "string", "enum": list(v.UNIT_KINDS)}, "mandate": _NSTR,
        "commitments": {"type": "array", "items": _STR}, "formed": _STR, "dissolved": _NSTR, "evidence": _IDS}},
    "UnitList": {"type": "object", "required": ["org", "units"], "properties": {
        "org": SLUG, "units": {"type": "array", "items": {"$ref": "#/components/schemas/Unit"}}}},
    "Person": {"type": "object", "required": ["slug", "name"], "properties": {
        "slug": SLUG, "name": _STR, "recorded_at": _INSTANT, "identifiers": {"type": "array"},
        "merged": {"type": "array"}}},
    "PersonList": {"type": "object", "required": ["people"], "properties": {
        "people": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}}}},
    "HistoryEntry": {"type": "object", "required": ["person", "role", "since", "org", "kind", "evidence"],
                     "properties": {"person": SLUG, "name": _NSTR, "role": _STR, "since": _STR, "until": _NSTR,
                                    "cause": _NSTR, "disputed": {"type": "boolean"}, "evidence": _IDS,
                                    "unit": _STR, "org": SLUG, "kind": {"type": "string", "enum": ["seat", "role"]}}},
    "PersonHistory": {"allOf": [{"$ref": "#/components/schemas/Person"}, {
        "type": "object", "required": ["history"], "properties": {
            "known_at": _NSTR, "history": {"type": "array", "items": {"$ref": "#/components/schemas/HistoryEntry"}}}}]},
    "Change": {"type": "object", "required": ["change", "date", "person", "role", "event"], "properties": {
        "change": {"type": "string", "enum": ["joined", "left"]}, "date": _STR, "unit": _NSTR, "person": SLUG,
        "name": _STR, "role": _STR, "cause": _NSTR, "event": _STR, "disputed": {"type": "boolean"}}},
    "Changes": {"type": "object", "required": ["org", "from", "to", "changes"], "properties": {
        "org": SLUG, "from": DAY, "to": DAY, "known_at": _NSTR,
        "changes": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}}}},
    "RecordedFact": {"type": "object", "required": ["id", "position", "type", "recorded_at"],
                     "description": "a fact as recorded: its own fields ride along (see Fact)",
                     "properties": {"id": _NSTR, "position": {"type": "integer"}, "type": _STR,
                                    "recorded_at": _INSTANT, "corrected_by": _IDS, "effective": _NSTR,
                                    "sources": {"type": "array", "items": {"$ref": "#/components/schemas/Source"}},
                                    "confidence": _STR}},
    "Timeline": {"type": "object", "required": ["org", "events"], "properties": {
        "org": SLUG, "known_at": _NSTR,
        "events": {"type": "array", "items": {"$ref": "#/components/schemas/RecordedFact"}}}},
    "Why": {"type": "object", "required": ["org", "person", "as_of", "holds", "chain"], "properties": {
        "org": SLUG, "unit": _NSTR, "person": SLUG, "name": _NSTR, "as_of": DAY, "known_at": _NSTR,
        "holds": {"type": "boolean"}, "disputed": {"type": "boolean"},
        "tenures": {"type": "array", "items": {"$ref": "#/components/schemas/Entry"}},
        "chain": {"type": "array", "items": {"$ref": "#/components/schemas/RecordedFact"}},
        "knowledge": {"type": "array", "items": {"type": "object"}}}},
    "LogEvent": {"type": "object", "required": ["id", "position", "type", "recorded_at"],
                 "description": "an event of the log with its fields", "properties": {
                     "id": _NSTR, "position": {"type": "integer"}, "org": _NSTR, "recorded_at": _INSTANT,
                     "writer": _NSTR, "type": _STR}},
    "Registered": {"type": "object", "required": ["slug", "name", "position"],
                   "description": "201 when registered now, 200 when it already was (same name)", "properties": {
                       "slug": SLUG, "name": _STR, "position": {"type": "integer"}, "version": {"type": "integer"}}},
    "Merge": {"type": "object", "required": ["person", "into", "position"], "properties": {
        "person": SLUG, "into": SLUG, "position": {"type": "integer"}}},
    "Subscription": {"type": "object", "required": ["id", "url", "filter", "status", "created_at"],
                     "description": "a webhook subscription as operators see it (never its secret)", "properties": {
                         "id": _STR, "url": _STR, "status": _STR, "last_error": _NSTR, "created_at": _INSTANT,
                         "filter": {"type": "object", "properties": {"org": _NSTR, "types": {"type": "array"}}},
                         "delivered_up_to": {"type": "integer"},
                         "failures": {"type": "array", "items": {"type": "object"}}}},
    "SubscriptionList": {"type": "object", "required": ["subscriptions"], "properties": {
        "subscriptions": {"type": "array", "items": {"$ref": "#/components/schemas/Subscription"}}}},
    "Job": {"type": "object", "required": ["id", "kind", "name", "state"],
            "description": "a rebuild or replay: its state and progress", "properties": {
                "id": _STR, "kind": {"type": "string", "enum": ["rebuild", "replay"]}, "name": _STR,
                "version": {"type": ["integer", "null"]}, "state": _STR, "done": {"type": "integer"},
                "total": {"type": "integer"}, "position": {"type": "integer"}, "rate": {"type": ["number", "null"]},
                "eta_seconds": {"type": ["number", "null"]}, "error": _NSTR, "created_at": _INSTANT,
                "stalled": {"type": "boolean"}}},
    "Projections": {"type": "object", "required": ["store", "head", "projections"],
                    "description": "the log's head, and each projection's position, version and lag",
                    "properties": {"store": _STR, "head": {"type": "integer"}, "dispatch": _STR,
                                   "projections": {"type": "object", "additionalProperties": {"type": "object"}}}},
    "Versions": {"type": "object", "required": ["name", "versions"], "properties": {
        "name": _STR, "versions": {"type": "array", "items": {"type": "object", "required": ["version", "state"],
                                                              "properties": {"version": {"type": "integer"},
                                                                             "state": _STR}}}}},
    "Parked": {"type": "object", "required": ["position"], "description": "an event whose fold raised",
               "properties": {"position": {"type": "integer"}, "event_id": _NSTR, "error": _NSTR}},
    "ParkedList": {"type": "object", "required": ["parked"], "properties": {
        "parked": {"type": "array", "items": {"$ref": "#/components/schemas/Parked"}}}},
    "LogPage": {"type": "object", "required": ["events", "next"], "properties": {
        "org": SLUG, "events": {"type": "array", "items": {"$ref": "#/components/schemas/LogEvent"}},
        "next": {"type": "integer", "description": "continue with after=next"}, "head": {"type": "integer"}}},
}


def register_answers(spec) -> None:
    for name, schema in ANSWERS.items():
        spec.components.schema(name, schema)


def answer(name: str, *statuses: int) -> dict[str, Any]:
    """``@blp.doc(**answer("OrgList"))``: the documented body of a route's answer (200 unless
    other statuses are named)."""
    body = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
    return {"responses": {str(status): {"description": {200: "OK", 201: "Created", 202: "Accepted"}.get(status, "OK"),
                                            "content": body}
                          for status in statuses or (200,)}}
