"""The fast decoder (``events/fastdecode.py``) gives exactly what the library's mapper gives.

The read side decodes every stored event with it (catch-up, rebuild, verify, streams), so a
difference would change every answer. Checked two ways, on both stores:

- every event a real history stores (the seed, an import, merges, renames, subscriptions,
  idempotent appends) decodes to the same ``RecordedEvent`` both ways, and every event class the
  read side knows occurs in it;
- hypothesis writes states of every event class at every stored class version (older versions
  without the fields their upcasters add), with arbitrary text (quotes, escapes, the transcoder's
  own ``_type_`` key inside strings and as a dict key, astral characters) and compares the event
  objects both decodings build, field by field.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eventsourcing.persistence import Notification
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from events.application import OrgHistory
from events.bookkeeping import IdempotentAppend
from events.fastdecode import FastDecoder
from events.imports import read
from events.recorded import _DECODERS
from events.seed import load_seed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _history(app: OrgHistory) -> None:
    load_seed(app)
    for night in ("night-1.json", "night-2.json"):
        doc = json.loads((FIXTURES / "riverton" / night).read_text())
        app.sync("riverton", read("popolo", doc), source="riverton-open-data")
    for name in ("Dora Dee", "Dora Dee-Day"):  # identifiers, then a rename
        app.sync("tiny", read("popolo", {
            "persons": [{"id": "dora", "name": name, "identifiers": [{"scheme": "wikidata", "identifier": "Q1"}]}],
            "organizations": [{"id": "tiny", "name": "Tiny"}],
            "memberships": [{"id": "m1", "person_id": "dora", "organization_id": "tiny", "start_date": "2020"}]}),
            source="tiny-data")
    app.register_person("lee", "Lee")
    app.register_person("kim", "Kim")
    done = app.append("openai", [
        {"type": "person_registered", "person": "pat", "name": "Pat"},
        {"type": "unit_formed", "unit": "lab", "name": "Lab", "kind": "team", "effective": "2020-01-01"},
        {"type": "member_joined", "unit": "lab", "person": "lee", "role": "lead", "effective": "2020-02-01"},
        {"type": "lead_replaced", "unit": "lab", "outgoing": "lee", "incoming": "kim", "effective": "2021-02-01"},
    ], writer="admin")
    app.append("openai", [{"type": "retracted", "target": done["events"][-1]["id"], "reason": "wrong"}], writer="admin")
    app.register_person("ann-a", "Ann A")
    app.register_person("ann-b", "Ann B")
    app.merge_people("ann-b", "ann-a", "same person", "admin")
    app.retract_merge("ann-b", "not the same after all", "admin")
    sub = app.subscribe("https://example.org/hook", "openai", [], "s" * 32, "admin")
    app.change_subscription(sub["id"], "paused", "admin")


def _notes(app: OrgHistory) -> list[Notification]:
    out, after = [], 0
    while notes := app.recorder.select_notifications(start=after, limit=1000, inclusive_of_start=False):
        out += notes
        after = notes[-1].id
    return out


@pytest.fixture(params=["sqlite", "postgres"])
def app(request):
    from ..conftest import stores_for

    settings = request.getfixturevalue("sqlite_settings" if request.param == "sqlite" else "pg_settings")
    app = stores_for(settings).app  # creates the store (and PostgreSQL schema)
    return app


def test_every_stored_event_decodes_as_the_mapper_decodes_it(app):
    _history(app)
    app.append("openai", [{"type": "noted", "effective": "2024-01-01", "title": "idempotent"}],
               writer="admin", idempotency_key="k-1")
    notes = _notes(app)
    assert app._fast.enabled
    classes = set()
    for note in notes:
        fast, slow = app.decode(note), app.decode_by_mapper(note)
        assert fast == slow, note.topic
        assert list(fast.fields) == list(slow.fields)  # the payload text keeps the field order
        classes.add(type(app.mapper.to_domain_event(note)))
    known = set(_DECODERS) | {IdempotentAppend.Created}
    assert known - classes == set(), "an event class the read side decodes is missing from the history"


# -- hypothesis: every class, every stored version, arbitrary content --------------------------

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30) | st.sampled_from(
    ['"_type_"', '{"_type_": "datetime_iso", "_data_": "x"}', "\\", "\u2028", "\U0001f600", "\x00"])
JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | TEXT,
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                       max_leaves=8)


def _upcast_fields(cls: type, from_version: int) -> set[str]:
    """The fields the upcasters from ``from_version`` on add: absent in a state stored then."""
    added: dict = {}
    for v in range(from_version, getattr(cls, "class_version", 1)):
        getattr(cls, f"upcast_v{v}_v{v + 1}")(added)
    return set(added)


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """One stored state of every event class, from a real SQLite store."""
    from events.settings import Settings

    app = OrgHistory(Settings(data_dir=tmp_path_factory.mktemp("samples")))
    _history(app)
    app.append("openai", [{"type": "noted", "effective": "2024-01-01", "title": "n"}], writer="a", idempotency_key="k")
    out = {}
    for note in _notes(app):
        out.setdefault(note.topic, note)
    mapper = app.mapper
    app.close()
    return mapper, list(out.values())


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fast_decoding_equals_the_mappers_for_any_content_and_version(samples, data):
    mapper, notes = samples
    note = data.draw(st.sampled_from(notes))
    cls = type(mapper.to_domain_event(note))
    state = mapper.transcoder.decode(note.state)
    version = data.draw(st.integers(1, getattr(cls, "class_version", 1)))
    for name in _upcast_fields(cls, version):
        state.pop(name, None)
    if version > 1:
        state["class_version"] = version
    else:
        state.pop("class_version", None)
    for name in list(state):
        if name not in ("timestamp", "class_version") and data.draw(st.booleans()):
            state[name] = data.draw(JSONISH)
    stored = Notification(id=note.id, originator_id=note.originator_id, originator_version=note.originator_version,
                          topic=note.topic, state=mapper.transcoder.encode(state))
    fast, slow = FastDecoder(mapper).to_domain_event(stored), mapper.to_domain_event(stored)
    assert type(fast) is type(slow)
    assert list(vars(fast).items()) == list(vars(slow).items())
