"""The fact vocabulary as OpenAPI schemas, generated from ``events.vocabulary.TYPES`` so the
document cannot drift from what the service accepts: one schema per fact type, and ``Fact``, their
union discriminated on ``type``. ``parse_fact`` stays the judge of a body (its errors name the
field); these schemas tell clients, and the generators that build them, what it accepts.

They stay JSON Schema, written here rather than as marshmallow schemas, because they are generated
from the vocabulary (a oneOf discriminated on ``type``, which marshmallow cannot declare). The
answers are marshmallow schemas (``service.schemas``)."""

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
