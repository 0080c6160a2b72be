"""The fold's fast JSON encoders write exactly what ``json.dumps`` writes: stored payload and
evidence text must not depend on which path (rebuild or catch-up, old code or new) wrote it."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from projections.encoding import _evidence_json, dumps, loads

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(JSON)
def test_dumps_is_json_dumps(value):
    assert dumps(value) == json.dumps(value)


BIG = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 80), max_value=2 ** 80) | st.floats(allow_nan=True)
    | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(BIG)
@example(2 ** 70)  # past 64 bits in a short text: searched for, read by json
@example({"note": "x" * 200, "changes": {"n": 2 ** 70}})  # in a long text: read by json
@example(["acme@12", "acme@13"])  # a short list of ids: read by orjson
def test_loads_reads_what_was_stored_as_json_loads_does(value):
    """Answers parse stored JSON with orjson; what it refuses (NaN, integers past 64 bits, which a
    correction's free-form changes may hold) the library's parser reads."""
    text = json.dumps(value)
    assert repr(loads(text)) == repr(json.loads(text))  # repr: NaN is not equal to itself


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text()))
def test_evidence_lists_are_encoded_as_json_dumps_would(ids):
    assert _evidence_json(tuple(ids)) == json.dumps(ids)


def test_what_json_cannot_encode_is_refused_the_same_way():
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"when": object()})
    with pytest.raises(ValueError):  # a cycle is refused, not looped on
        json.dumps(_cycle())
    with pytest.raises((ValueError, RecursionError)):
        dumps(_cycle())


def _cycle() -> list:
    x: list = []
    x.append(x)
    return x
