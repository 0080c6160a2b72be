"""The fold (``projections/fold.py``), called directly: from the facts about one person to the rows
of their tenures and roles. No store: the facts are ``FactView``s built here, the rows compared
whole (every field a reader of the projection sees)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.vocabulary import parse_fact
from projections.fold import OPEN_END, UNKNOWN_START, FactView, Row, _Person, derive, fold_person
from projections.foldcache import Derived


def fact(position: int, type_: str, effective: str, confidence: str = "reported", **fields) -> FactView:
    """A fact as the fold gets it: its fields as ``parse_fact`` normalized them (defaults filled)."""
    raw = {"type": type_, "effective": effective, **{k: v for k, v in fields.items() if v is not None}}
    return FactView(id=f"acme@{position}", position=position, type=type_, fields=parse_fact(raw),
                    confidence=confidence)


def joined(position, effective, unit="board", person="ann", role=None, tenure=None, **kw) -> FactView:
    return fact(position, "member_joined", effective, unit=unit, person=person, role=role, tenure=tenure, **kw)


def left(position, effective, unit="board", person="ann", role=None, cause=None, **kw) -> FactView:
    return fact(position, "member_left", effective, unit=unit, person=person, role=role, cause=cause, **kw)


def row(unit, role, start, end, cause, start_event, end_event, *, person="ann", key="", start_lo=None,
        start_hi=None, end_lo=None, end_hi=None, evidence=None, disputed=False) -> Row:
    """The row of a tenure from ``start`` to ``end`` (day-precise unless bounds are given)."""
    return Row(unit=unit, person=person, role=role, tenure_key=key, start_text=start,
               start_lo=start_lo or start, start_hi=start_hi or start, end_text=end,
               end_lo=end_lo or (end or OPEN_END), end_hi=end_hi or (end or OPEN_END), cause=cause,
               start_event=start_event, end_event=end_event,
               evidence=evidence if evidence is not None else tuple(e for e in (start_event, end_event) if e),
               disputed=disputed)


def test_a_join_then_a_leave_is_one_closed_tenure():
    rows = derive("ann", [joined(2, "2020-01-15", role="director"), left(3, "2021-03-01", cause="resigned")], {})
    assert rows == [row("board", "director", "2020-01-15", "2021-03-01", "resigned", "acme@2", "acme@3")]


def test_a_join_alone_is_held_to_this_day():
    assert derive("ann", [joined(2, "2020-01-15")], {}) == [
        row("board", "member", "2020-01-15", None, None, "acme@2", None)]


def test_facts_learned_out_of_order_give_the_rows_learned_in_order():
    """The leave was recorded first (position 2), the join it ends later (position 7)."""
    in_order = derive("ann", [joined(2, "2019-05-01"), left(7, "2022-02-01", cause="fired")], {})
    out_of_order = derive("ann", [left(2, "2022-02-01", cause="fired"), joined(7, "2019-05-01")], {})
    assert out_of_order == [row("board", "member", "2019-05-01", "2022-02-01", "fired", "acme@7", "acme@2")]
    assert in_order == [row("board", "member", "2019-05-01", "2022-02-01", "fired", "acme@2", "acme@7")]


def test_a_leave_with_no_join_is_a_tenure_from_an_unknown_start():
    rows = derive("ann", [left(4, "2021-06-30", role="director", cause="term-ended")], {})
    assert rows == [row("board", "director", "unknown", "2021-06-30", "term-ended", None, "acme@4",
                        start_lo=UNKNOWN_START, start_hi=OPEN_END)]


def test_nobody_sits_in_a_unit_before_it_was_formed():
    """An unknown start (and any earlier one) is clamped to the day the unit was formed."""
    rows = derive("ann", [left(4, "2021-06-30"), joined(5, "2015-01-01", unit="team")],
                  {"board": "2018-03-01", "team": "2016-01-01"})
    assert [(r.unit, r.start_text, r.start_lo, r.start_hi) for r in rows] == [
        ("board", "unknown", "2018-03-01", OPEN_END),
        ("team", "2015-01-01", "2016-01-01", "2015-01-01")]


def test_a_leave_ends_only_the_role_and_tenure_it_names():
    rows = derive("ann", [joined(2, "2020", role="director"), joined(3, "2020", role="chair"),
                          joined(4, "2020", role="chair", tenure="second"),
                          left(5, "2021-01-01", role="chair", tenure="second"),
                          left(6, "2022-01-01", role="chair")], {})
    assert [(r.role, r.tenure_key, r.end_text, r.end_event) for r in rows] == [
        ("chair", "second", "2021-01-01", "acme@5"),
        ("chair", "", "2022-01-01", "acme@6"),
        ("director", "", None, None)]


def test_an_ouster_then_a_reinstatement_gives_back_the_same_seat_and_role():
    facts = [
        joined(2, "2019-01-01", role="director"),
        fact(3, "role_assigned", "2019-01-01", person="ann", role="ceo"),
        fact(4, "leader_ousted", "2023-11-17", person="ann", roles=["ceo"], seats=["board"], by="board"),
        fact(5, "reinstated", "2023-11-22", person="ann", roles=["ceo"], seats=["board"]),
    ]
    assert derive("ann", facts, {}) == [
        row(None, "ceo", "2019-01-01", "2023-11-17", "removed", "acme@3", "acme@4"),
        row("board", "director", "2019-01-01", "2023-11-17", "removed", "acme@2", "acme@4"),
        row("board", "director", "2023-11-22", None, None, "acme@5", None),  # director again, not member
        row(None, "ceo", "2023-11-22", None, None, "acme@5", None),
    ]


def test_a_reinstatement_into_a_seat_never_lost_is_a_plain_membership():
    assert derive("ann", [fact(5, "reinstated", "2024-01-01", person="ann", roles=[], seats=["board"])], {}) == [
        row("board", "member", "2024-01-01", None, None, "acme@5", None)]


def test_a_resignation_closes_every_seat_and_role():
    facts = [joined(2, "2018-01-01", role="director"), joined(3, "2019-01-01", unit="safety"),
             fact(4, "role_assigned", "2019-06-01", person="ann", role="cto"),
             fact(5, "resigned", "2022-08-31", person="ann")]
    assert derive("ann", facts, {}) == [
        row("board", "director", "2018-01-01", "2022-08-31", "resigned", "acme@2", "acme@5"),
        row("safety", "member", "2019-01-01", "2022-08-31", "resigned", "acme@3", "acme@5"),
        row(None, "cto", "2019-06-01", "2022-08-31", "resigned", "acme@4", "acme@5"),
    ]


def test_a_resignation_of_someone_holding_nothing_invents_nothing():
    assert derive("ann", [fact(5, "resigned", "2022-08-31", person="ann")], {}) == []


def test_a_lead_replacement_ends_the_outgoing_lead_and_starts_the_incoming():
    facts = [joined(2, "2020-02-01", unit="lab", role="lead"), joined(3, "2020-02-01", unit="lab", person="kim"),
             fact(4, "lead_replaced", "2021-02-01", unit="lab", outgoing="ann", incoming="kim", role="lead")]
    assert derive("ann", [facts[0], facts[2]], {}) == [
        row("lab", "lead", "2020-02-01", "2021-02-01", "replaced", "acme@2", "acme@4")]
    # kim's plain membership goes on beside the lead role now held
    assert derive("kim", [facts[1], facts[2]], {}) == [
        row("lab", "member", "2020-02-01", None, None, "acme@3", None, person="kim"),
        row("lab", "lead", "2021-02-01", None, None, "acme@4", None, person="kim")]


def test_a_dissolution_ends_every_seat_in_the_unit_and_only_there():
    facts = [joined(2, "2020", unit="lab", role="lead"), joined(3, "2020", unit="lab", tenure="t2"),
             joined(4, "2020"), fact(5, "unit_dissolved", "2024-05-17", unit="lab")]
    rows = derive("ann", facts, {})
    assert [(r.unit, r.role, r.tenure_key, r.end_text, r.cause, r.end_event) for r in rows] == [
        ("lab", "lead", "", "2024-05-17", "unit-dissolved", "acme@5"),
        ("lab", "member", "t2", "2024-05-17", "unit-dissolved", "acme@5"),
        ("board", "member", "", None, None, None)]
    # a dissolution of a unit the person had no seat in gives no row
    assert derive("ann", [fact(5, "unit_dissolved", "2024-05-17", unit="lab")], {}) == []


@pytest.mark.parametrize("start,end,bounds", [
    ("2020-03", "2021", ("2020-03-01", "2020-03-31", "2021-01-01", "2021-12-31")),
    ("2019", "2023-11-29/2024-01-05", ("2019-01-01", "2019-12-31", "2023-11-29", "2024-01-05")),
    ("2015-12/2017", "2018-02", ("2015-12-01", "2017-12-31", "2018-02-01", "2018-02-28")),
])
def test_imprecise_dates_give_uncertain_bounds(start, end, bounds):
    [r] = derive("ann", [joined(2, start), left(3, end)], {})
    assert (r.start_text, r.end_text) == (start, end)
    assert (r.start_lo, r.start_hi, r.end_lo, r.end_hi) == bounds


def test_an_unknown_start_is_possible_from_the_beginning_and_never_certain():
    [r] = derive("ann", [joined(2, "unknown")], {})
    assert (r.start_text, r.start_lo, r.start_hi, r.end_lo) == ("unknown", UNKNOWN_START, OPEN_END, OPEN_END)


def test_an_unknown_end_of_a_tenure_of_unknown_start_leaves_it_possible_throughout():
    [r] = derive("ann", [joined(2, "unknown"), left(3, "unknown")], {"board": "2010-01-01"})
    assert (r.start_lo, r.start_hi, r.end_text, r.end_lo, r.end_hi, r.end_event) == (
        "2010-01-01", OPEN_END, "unknown", "2010-01-01", OPEN_END, "acme@3")


def test_an_unknown_end_after_a_known_start_ends_that_tenure_uncertainly():
    """Regression: an undated leave sorted before every dated fact (its earliest day is 0001-01-01),
    so it never ended the tenure it follows: the join stayed open and certain for ever, beside an
    invented tenure of unknown start. The Popolo reader writes exactly this for an unknown end."""
    rows = derive("ann", [joined(2, "2020-01-01"), left(3, "unknown")], {})
    assert rows == [row("board", "member", "2020-01-01", "unknown", "unknown", "acme@2", "acme@3",
                        end_lo="2020-01-01", end_hi=OPEN_END)]


def test_an_undated_end_of_a_role_or_an_ouster_ends_what_was_held_whenever_it_began():
    role = fact(2, "role_assigned", "2019-03", person="ann", role="ceo")
    ended = fact(5, "role_ended", "unknown", person="ann", role="ceo")
    [r] = derive("ann", [ended, role], {})
    assert (r.role, r.start_text, r.end_text, r.end_lo, r.end_hi) == ("ceo", "2019-03", "unknown", "2019-03-01",
                                                                      OPEN_END)
    ousted = fact(4, "leader_ousted", "unknown", person="ann", seats=["board"])
    [r] = derive("ann", [joined(2, "2018-01-01"), ousted], {})
    assert (r.start_text, r.end_text, r.cause) == ("2018-01-01", "unknown", "removed")


def test_a_disputed_fact_marks_its_tenure_disputed_at_either_end():
    assert [r.disputed for r in derive("ann", [joined(2, "2020", confidence="disputed")], {})] == [True]
    assert [r.disputed for r in derive("ann", [joined(2, "2020"), left(3, "2021", confidence="disputed")], {})] == [
        True]
    assert [r.disputed for r in derive("ann", [joined(2, "2020", confidence="confirmed"), left(3, "2021")], {})] == [
        False]
    # a second report of the same appointment adds its evidence, and its doubt
    [r] = derive("ann", [joined(2, "2020-05-01"), joined(3, "2020-05-01", confidence="disputed")], {})
    assert (r.start_event, r.evidence, r.disputed) == ("acme@2", ("acme@2", "acme@3"), True)


def test_corrections_behind_a_fact_are_part_of_its_evidence():
    fields = parse_fact({"type": "member_joined", "effective": "2020", "unit": "board", "person": "ann"})
    j = FactView("acme@2", 2, "member_joined", fields, "reported", evidence=("acme@9",))
    [r] = derive("ann", [j, left(3, "2021")], {})
    assert r.evidence == ("acme@2", "acme@9", "acme@3")


def test_fold_person_goes_on_where_derive_would_with_one_more_fact():
    facts = [joined(2, "2020", role="director"), fact(3, "role_assigned", "2020", person="ann", role="ceo")]
    state = fold_person("ann", facts, {})
    assert state.take_changes()[1] == {("board", "director", ""), (None, "ceo", "")}
    later = left(4, "2023", role="director")
    state.apply(later)
    changed, touched = state.take_changes()
    assert touched == {("board", "director", "")}  # only the seat the leave touched, not the role
    year = dict(start_lo="2020-01-01", start_hi="2020-12-31")
    assert changed == [row("board", "director", "2020", "2023", "unknown", "acme@2", "acme@4", **year,
                           end_lo="2023-01-01", end_hi="2023-12-31")]
    assert derive("ann", [*facts, later], {}) == changed + state.finish() == [
        *changed, row(None, "ceo", "2020", None, None, "acme@3", None, **year)]


# -- a property: record order does not matter ---------------------------------------------------

DAYS = st.integers(0, 3000).map(lambda n: f"{2000 + n // 365:04d}-{n % 365 // 31 + 1:02d}-{n % 31 % 28 + 1:02d}")
UNITS = st.sampled_from(["board", "lab", "safety"])
ROLES = st.sampled_from(["member", "director", "lead"])


@st.composite
def facts_of_ann(draw) -> list[tuple[str, dict, str]]:
    """(type, fields, confidence), every fact on a different day: the valid-time order is total."""
    n = draw(st.integers(1, 12))
    days = draw(st.lists(DAYS, min_size=n, max_size=n, unique=True))
    out = []
    for day in days:
        kind = draw(st.sampled_from(["member_joined", "member_joined", "member_left", "role_assigned", "role_ended",
                                     "leader_ousted", "reinstated", "resigned", "lead_replaced", "unit_dissolved"]))
        unit, role = draw(UNITS), draw(ROLES)
        fields = {"member_joined": {"unit": unit, "person": "ann", "role": role},
                  "member_left": {"unit": unit, "person": "ann", "role": draw(st.none() | ROLES)},
                  "role_assigned": {"person": "ann", "role": draw(st.sampled_from(["ceo", "cto"]))},
                  "role_ended": {"person": "ann", "role": draw(st.sampled_from(["ceo", "cto"]))},
                  "leader_ousted": {"person": "ann", "roles": ["ceo"], "seats": [unit]},
                  "reinstated": {"person": "ann", "roles": ["ceo"], "seats": [unit]},
                  "resigned": {"person": "ann"},
                  "lead_replaced": {"unit": unit, "outgoing": "ann", "incoming": "kim"} if draw(st.booleans())
                  else {"unit": unit, "outgoing": "kim", "incoming": "ann"},
                  "unit_dissolved": {"unit": unit}}[kind]
        fields = {k: v for k, v in fields.items() if v is not None}
        out.append((kind, parse_fact({"type": kind, "effective": day, **fields}),
                    draw(st.sampled_from(["reported", "disputed"]))))
    return out


@settings(max_examples=150, deadline=None)
@given(facts_of_ann(), st.randoms())
def test_the_rows_do_not_depend_on_the_order_facts_were_recorded_in(facts, rnd):
    """The same facts, recorded in another order (other positions) and handed over in any order,
    give the same rows: a 2018 appointment learned today counts as if learned in 2018."""
    ids = [f"src-{i}" for i in range(len(facts))]  # a fact's identity, whatever position it got

    def views(positions: list[int]) -> list[FactView]:
        return [FactView(ids[i], positions[i], kind, fields, conf) for i, (kind, fields, conf) in enumerate(facts)]

    first = derive("ann", views(list(range(len(facts)))), {"lab": "2001-01-01"})
    positions = list(range(len(facts)))
    rnd.shuffle(positions)
    handed = views(positions)
    rnd.shuffle(handed)
    assert derive("ann", handed, {"lab": "2001-01-01"}) == first


def test_facts_on_the_same_day_apply_in_record_order():
    """A tie in valid time is broken by position (so the property above keeps its days apart)."""
    assert derive("ann", [left(3, "2020-01-01"), joined(2, "2020-01-01")], {}) == [
        row("board", "member", "2020-01-01", "2020-01-01", "unknown", "acme@2", "acme@3")]
    assert derive("ann", [left(2, "2020-01-01"), joined(3, "2020-01-01")], {}) == [
        row("board", "member", "unknown", "2020-01-01", "unknown", None, "acme@2", start_lo=UNKNOWN_START,
            start_hi=OPEN_END),
        row("board", "member", "2020-01-01", None, None, "acme@3", None)]


@settings(max_examples=300, deadline=None)
@given(facts_of_ann(), st.data())
def test_a_fold_written_aside_and_read_back_goes_on_as_the_fold_itself_would(facts, data):
    """A rebuild past its memory budget writes its people's folds aside (``Derived.dump``) and a
    person met again goes on from theirs (``Derived.load``): at any point of a history, the rows
    that follow are the ones the fold kept in memory gives."""
    views = sorted((FactView(f"acme@{i}", i, kind, fields, conf,
                             evidence=tuple(f"acme@{90 + i}" for _ in range(data.draw(st.integers(0, 1)))))
                    for i, (kind, fields, conf) in enumerate(facts)), key=FactView.sort_key)

    def fold(cut: int | None) -> tuple:
        d = Derived(_Person("ann", {"lab": "2001-01-01"}), None, {"lab"})
        changes = []
        for i, view in enumerate(views):
            if i == cut:
                d = Derived.load(d.dump())
            d.take(view, view.sort_key())
            changes.append(d.state.take_changes())
        if cut == len(views):
            d = Derived.load(d.dump())
        return changes, d.state.finish(), d.last, d.units

    whole = fold(None)
    for cut in range(len(views) + 1):
        assert fold(cut) == whole, cut


def test_only_a_fold_at_rest_is_written_aside():
    """Rows not yet taken are not part of what is written: such a fold refuses to be."""
    state = fold_person("ann", [joined(2, "2020")], {})
    with pytest.raises(ValueError, match="not taken"):
        state.dump()
    state.take_changes()
    assert _Person.load(state.dump()).finish() == state.finish()
