"""The event transcoder writes exactly the bytes the library's ``JSONTranscoder`` writes, taking
``orjson``'s path only where that is provably the same: the log must not depend on which encoder
wrote it (the hash chain covers these bytes, and other readers decode them with the library)."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder
from hypothesis import given, settings
from hypothesis import strategies as st

from events import fastencode
from events.fastencode import FastJSONTranscoder, plain
from events.vocabulary import parse_fact


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    Application.register_transcodings(Application.__new__(Application), transcoder)  # the library's own set
    return transcoder


LIBRARY, FAST = _registered(JSONTranscoder()), _registered(FastJSONTranscoder())


class Colour(enum.Enum):
    RED = "red"


SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70) | st.text()
           | st.floats(allow_nan=True) | st.datetimes(timezones=st.just(timezone.utc)) | st.uuids()
           | st.decimals(allow_nan=False) | st.just(Colour.RED))
STATES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                      max_leaves=20)


def _outcome(transcoder: JSONTranscoder, value: object) -> bytes | type[BaseException]:
    try:
        return transcoder.encode(value)
    except Exception as e:
        return type(e)


@settings(max_examples=600, deadline=None)
@given(STATES)
def test_any_state_is_encoded_as_the_library_encodes_it(state):
    assert _outcome(FAST, state) == _outcome(LIBRARY, state)


def test_every_character_is_escaped_as_the_library_escapes_it():
    chars = [chr(c) for c in range(0x3000) if not 0xD800 <= c < 0xE000] + ["\u2028", "\u2029", "\ufeff", "\U0001f600"]
    state = {c: f"a{c}b" for c in chars}
    assert FAST.encode(state) == LIBRARY.encode(state)


def test_what_orjson_writes_otherwise_goes_to_the_library():
    for value in (1.5, float("nan"), uuid4(), Colour.RED, 2 ** 64, Decimal("1.1"), {1: "int key"}, ("a", "tuple")):
        assert not plain({"x": [value]})
    when = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    state = {"timestamp": when, "id": UUID(int=7), "n": 2 ** 64, "f": 0.1}
    assert FAST.encode(state) == LIBRARY.encode(state)


def test_a_lone_surrogate_is_refused_as_the_library_refuses_it():
    with pytest.raises(UnicodeEncodeError):
        LIBRARY.encode({"x": "\udc80"})
    with pytest.raises(UnicodeEncodeError):
        FAST.encode({"x": "\udc80"})


def test_a_recorded_fact_takes_the_fast_path():
    """A fact's state as the mapper hands it over (its fields and timestamp): orjson's path, so the
    saving this module exists for is not silently lost."""
    fact = parse_fact({"type": "member_joined", "unit": "board", "person": "ada", "effective": "2023-11",
                       "sources": [{"url": "https://example.org/a", "title": "A"}], "origin": {"source": "s", "record": "r"}})
    state = {**fact, "timestamp": datetime.now(timezone.utc), "org": "acme", "writer": None, "class_version": 2}
    assert plain({k: v for k, v in state.items() if k != "timestamp"})
    assert FAST.encode(state) == LIBRARY.encode(state)


def test_without_orjson_the_library_encodes(monkeypatch):
    monkeypatch.setattr(fastencode, "orjson", None)
    state = {"a": [1, "b", None]}
    assert FAST.encode(state) == LIBRARY.encode(state)
