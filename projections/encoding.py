"""How facts and rows are encoded for the tables, and parsed back, at the speed a rebuild needs.

A rebuild encodes every fact of the log once and re-encodes a person's rows on every fact about
them: these are the hot paths, measured, and each shortcut here says what it saves.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Callable, Iterable

import orjson

from events.jsontypes import JSONObject, JSONValue
from events.recorded import RecordedEvent
from events.validtime import ValidTime

from .fold import FactView, Row
from .rows import FactRow, FactValues, RowKey


def _raise_unserializable(o: object) -> object:
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


# ``json.dumps`` with its defaults, minus the Python layers and the encoder it builds on every call
# (measured: most of the cost of dumping a fact's small payload, once per event in a rebuild).
# Payloads come from parsed JSON, so they hold no cycles to check for.
# ``c_make_encoder`` (None without the C accelerator) is not in typeshed's ``json.encoder``.
_c_make_encoder = json.encoder.c_make_encoder  # type: ignore[attr-defined]
_encode: Callable[[object, int], Iterable[str]] | None = _c_make_encoder(
    None, _raise_unserializable, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True,
) if _c_make_encoder is not None else None


_LONG_NUMBER = re.compile(r"\d{19}")  # an integer that may not fit in 64 bits (orjson reads those as floats)
# Looking for such an integer costs more than json.loads itself once a text is longer than a short
# list of ids (measured on the seed's texts: a 549-character payload took 7.7 us searched and
# read by orjson against 3.6 us by json.loads; a 17-character evidence list 0.23 against 1.15 us).
SEARCHED_UP_TO = 128


def loads(text: str) -> JSONValue:
    """Exactly ``json.loads(text)``, faster: a short text (``SEARCHED_UP_TO``) is read by
    ``orjson``'s parser, unless it holds what that reads differently or refuses (integers past
    64 bits, ``NaN``: a correction's free-form changes may hold them); a longer one by json's own."""
    if len(text) <= SEARCHED_UP_TO and _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def dumps(obj: object) -> str:
    """Exactly ``json.dumps(obj)``, faster for the small payloads a fold writes."""
    if _encode is None:
        return json.dumps(obj)
    return "".join(_encode(obj, 0))


@lru_cache(maxsize=65536)  # a person's rows are re-derived on every fact about them: same evidence
def _evidence_json(evidence: tuple[str, ...]) -> str:
    # the list of ids as json.dumps writes it
    return "[" + ", ".join(map(json.encoder.encode_basestring_ascii, evidence)) + "]"


def fact_values(org: str, fact_id: str, e: RecordedEvent, recorded: str) -> FactValues:
    """A new fact's ``facts`` row (``FACT_COLUMNS``): its payload as JSON, twice (the current
    and the original form), and its valid-time bounds. ``org`` and ``fact_id``: ``e``'s, which a
    fact always has."""
    f = e.fields
    w = ValidTime.parse(f["effective"]) if f.get("effective") else None
    payload = dumps(f)
    return (org, fact_id, e.position, e.type, recorded, f.get("effective"), w.lo if w else None,
            w.hi if w else None, f.get("confidence") or "reported", payload, payload, e.writer)


def row_key(r: Row) -> RowKey:
    """The row as the store holds it: its column values, ``unit`` first for a tenure."""
    key = (r.person, r.role, r.tenure_key, r.start_text, r.start_lo, r.start_hi, r.end_text, r.end_lo, r.end_hi,
           r.cause, r.start_event, r.end_event, _evidence_json(r.evidence), int(r.disputed))
    return key if r.unit is None else (r.unit,) + key


def payload_of(r: FactRow) -> JSONObject:
    """A fact row's fields, parsed once per row object (a ``MemoryStore`` keeps its rows, and
    drops these caches when a correction changes the row)."""
    p = r._payload
    if p is None:
        # orjson's parse (``loads``): a rebuild reading back re-derives people from all their
        # facts, and ``json.loads`` of them was a tenth of its fold
        parsed = loads(r.payload)
        assert isinstance(parsed, dict), "a fact's payload is a JSON object"
        p = r._payload = parsed
    return p


def forget_parsed(r: FactRow) -> None:
    """Drop a kept fact row's parsed caches once its person's fold is cached: a rebuild keeps every
    fact of the log, and the parsed forms were most of its memory. A later full re-derivation of
    the person parses them again."""
    r._payload = r._view = None


def view_of(r: FactRow, payload: JSONObject) -> FactView:
    v = r._view
    if v is None:
        corrections = r.corrections
        ids = () if corrections == "[]" else tuple(c["id"] for c in json.loads(corrections))
        v = r._view = FactView(r.id, int(r.position), r.type, payload, r.confidence, ids)
    return v
