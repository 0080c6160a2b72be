"""The wire vocabulary (``events/vocabulary.py``), called directly: what a fact must hold, what it
is given when it holds less, and the field path an error names (the path a client is shown)."""

from __future__ import annotations

import pytest

from events.errors import InvalidFact
from events.vocabulary import apply_changes, parse_fact

JOINED = {"type": "member_joined", "unit": "board", "person": "ann", "effective": "2020-01-15"}


def refused(raw, path: str = "") -> InvalidFact:
    with pytest.raises(InvalidFact) as e:
        parse_fact(raw, path)
    return e.value


def test_a_fact_is_given_its_defaults():
    assert parse_fact(JOINED) == {
        "type": "member_joined", "unit": "board", "person": "ann", "role": "member", "tenure": None, "title": None,
        "post": None, "effective": "2020-01-15", "announced": None, "sources": [], "confidence": "reported",
        "note": None, "origin": None}
    formed = parse_fact({"type": "unit_formed", "unit": "lab", "name": "  Lab ", "kind": "team", "effective": "2020"})
    assert (formed["name"], formed["commitments"], formed["mandate"]) == ("Lab", [], None)
    assert parse_fact({"type": "member_left", "unit": "board", "person": "ann", "effective": "2021"})["cause"] == \
        "unknown"
    assert parse_fact({"type": "lead_replaced", "unit": "lab", "outgoing": "a", "incoming": "b",
                       "effective": "2021"})["role"] == "lead"


def test_defaults_are_not_shared_between_facts():
    first = parse_fact({"type": "reinstated", "person": "ann", "effective": "2021"})
    first["roles"].append("ceo")
    assert parse_fact({"type": "reinstated", "person": "ann", "effective": "2021"})["roles"] == []


def test_given_values_are_normalized():
    fact = parse_fact({**JOINED, "effective": "2024-04", "announced": "2024-05-02", "note": " said so ",
                       "confidence": "disputed", "title": "Cafe\u0301 owner",
                       "sources": [{"url": "https://example.org/a", "published": "2024-05-01", "quote": None}],
                       "origin": {"source": "town", "record": "m1", "part": "group"}})
    assert {k: fact[k] for k in ("effective", "announced", "note", "confidence", "title", "sources", "origin")} == {
        "effective": "2024-04", "announced": "2024-05-02", "note": "said so", "confidence": "disputed",
        "title": "Café owner",  # NFC: the same words compare equal however they were typed
        "sources": [{"url": "https://example.org/a", "published": "2024-05-01"}],
        "origin": {"source": "town", "record": "m1", "part": "group"}}


@pytest.mark.parametrize("raw,field", [
    ({"type": "member_joined", "unit": "board", "effective": "2020"}, "person"),
    ({"type": "member_joined", "person": "ann", "effective": "2020"}, "unit"),
    ({"type": "member_joined", "unit": "board", "person": "ann"}, "effective"),
    ({"type": "unit_formed", "unit": "lab", "name": "Lab", "effective": "2020"}, "kind"),
    ({"type": "corrected", "changes": {"effective": "2021"}}, "target"),
    ({"type": "retracted", "target": "acme@2"}, "reason"),
    ({"type": "noted", "effective": "2020"}, "title"),
    ({"unit": "board"}, "type"),
    ({"type": "hired", "effective": "2020"}, "type"),
])
def test_a_missing_field_is_named(raw, field):
    assert refused(raw).field == field


def test_facts_without_a_valid_time_need_none():
    assert parse_fact({"type": "retracted", "target": "acme@2", "reason": "wrong"})["effective"] is None
    assert parse_fact({"type": "person_registered", "person": "ann", "name": "Ann"})["effective"] is None


def test_an_unknown_field_is_refused_with_its_path_in_the_batch():
    error = refused({**JOINED, "rank": "high"}, "events[3]")
    assert (error.field, error.message) == ("events[3].rank", "unknown field for member_joined")
    # a field of another fact type is unknown here too
    assert refused({**JOINED, "outgoing": "bob"}).field == "outgoing"
    assert refused({**JOINED, "sources": [{"url": "https://e.org", "author": "x"}]}, "events[0]").field == \
        "events[0].sources[0].author"
    assert refused({**JOINED, "origin": {"source": "s", "record": "r", "row": 1}}).field == "origin.row"


@pytest.mark.parametrize("unit", ["board\n", "Board", "-board", "board-", "bo ard", "börd", "", "b" * 101, 7])
def test_a_slug_is_lowercase_ascii_without_a_trailing_newline(unit):
    assert refused({**JOINED, "unit": unit}, "events[1]").field == "events[1].unit"


def test_a_slug_list_names_the_item():
    assert refused({"type": "leader_ousted", "person": "ann", "seats": ["board", "Lab\n"], "effective": "2023"}
                   ).field == "seats[1]"


@pytest.mark.parametrize("field,value", [
    ("effective", "202⁴"), ("effective", "２０２０"), ("effective", "2024-02-30"), ("announced", "2024-05"),
    ("confidence", "certain"), ("note", "   "), ("note", "a\x00b"), ("note", "\ud800"), ("note", 5),
    ("sources", {"url": "https://e.org"}), ("sources", [{}]), ("sources", [{"url": "javascript:alert(1)"}]),
    ("origin", {"source": "Town", "record": "m1"}),
])
def test_a_malformed_value_is_refused_naming_its_field(field, value):
    error = refused({**JOINED, field: value})
    assert error.field.split("[")[0].split(".")[0] == field


@pytest.mark.parametrize("target", ["acme@1²", "acme@²", "acme@0", "acme", "Acme@2", "acme@" + "9" * 20, 12])
def test_a_target_is_an_event_id_in_ascii_digits(target):
    assert refused({"type": "retracted", "target": target, "reason": "wrong"}).field == "target"


def test_an_event_id_is_read_as_its_number():
    assert parse_fact({"type": "retracted", "target": "acme@007", "reason": "x"})["target"] == "acme@7"


def test_a_lead_cannot_replace_themselves():
    assert refused({"type": "lead_replaced", "unit": "lab", "outgoing": "ann", "incoming": "ann",
                    "effective": "2021"}).field == "incoming"


def test_a_correction_cannot_change_the_type():
    assert refused({"type": "corrected", "target": "acme@2", "changes": {"type": "noted"}}).field == "changes.type"
    assert refused({"type": "corrected", "target": "acme@2", "changes": {}}).field == "changes"


def test_apply_changes_gives_the_corrected_fact_checked_whole():
    original = parse_fact({**JOINED, "role": "director", "note": "first report"})
    corrected = apply_changes(original, {"effective": "2019-12", "person": "bob", "note": None}, "events[0].changes")
    assert corrected == {**original, "effective": "2019-12", "person": "bob", "note": None}
    assert original["person"] == "ann"  # the target itself is left as it was


def test_apply_changes_names_what_it_cannot_apply():
    original = parse_fact(JOINED)
    with pytest.raises(InvalidFact) as e:
        apply_changes(original, {"cause": "fired"}, "events[2].changes")
    assert (e.value.field, e.value.message) == ("events[2].changes.cause", "member_joined has no field 'cause'")
    with pytest.raises(InvalidFact) as e:
        apply_changes(original, {"effective": "2020-13"}, "events[2].changes")
    assert e.value.field == "events[2].changes.effective"
