"""Property tests: for generated histories appended in shuffled record order, the service's
as-of answers (members, board seats, organization roles, certainty) equal the brute-force
reference in tests/reference.py, for many valid dates and record times, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import os
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections import queries
from projections.clock import stamp
from workers.catchup import catch_up

from .. import reference
from ..conftest import stores_for

PEOPLE = ["p0", "p1", "p2", "p3"]
EXAMPLES = int(os.environ.get("ORGHISTORY_PROPERTY_EXAMPLES", "150"))
_orgs = itertools.count()


@st.composite
def valid_times(draw):
    year = draw(st.integers(2001, 2008))
    kind = draw(st.sampled_from(["day", "day", "day", "month", "year", "unknown", "range"]))
    if kind == "unknown":
        return "unknown"
    if kind == "year":
        return str(year)
    month = draw(st.integers(1, 12))
    if kind == "month":
        return f"{year}-{month:02d}"
    day = draw(st.integers(1, 28))
    if kind == "range":
        return f"{year}-{month:02d}-{day:02d}/{year + 1}"
    return f"{year}-{month:02d}-{day:02d}"


person = st.sampled_from(PEOPLE)
unit = st.sampled_from(["board", "team"])


@st.composite
def facts(draw):
    kind = draw(st.sampled_from(["join", "join", "join", "leave", "leave", "role", "role_end", "oust", "reinstate",
                                 "resign", "replace"]))
    eff = draw(valid_times())
    p = draw(person)
    tenure = draw(st.sampled_from([None, None, "a", "b"]))  # overlapping tenures of one person
    if kind == "join":
        f = {"type": "member_joined", "unit": draw(unit), "person": p, "role": draw(st.sampled_from(["member", "lead"])),
             "effective": eff}
        if tenure:
            f["tenure"] = tenure
        return f
    if kind == "leave":
        f = {"type": "member_left", "unit": draw(unit), "person": p, "cause": draw(st.sampled_from(["resigned", "fired"])),
             "effective": eff}
        if draw(st.booleans()):
            f["role"] = draw(st.sampled_from(["member", "lead"]))
        if tenure:
            f["tenure"] = tenure
        return f
    if kind == "role":
        return {"type": "role_assigned", "person": p, "role": draw(st.sampled_from(["ceo", "cto"])), "effective": eff}
    if kind == "role_end":
        return {"type": "role_ended", "person": p, "role": draw(st.sampled_from(["ceo", "cto"])), "cause": "resigned",
                "effective": eff}
    if kind == "oust":
        return {"type": "leader_ousted", "person": p, "roles": ["ceo"], "seats": ["board"], "effective": eff}
    if kind == "reinstate":
        return {"type": "reinstated", "person": p, "roles": ["ceo"], "seats": ["board"], "effective": eff}
    if kind == "resign":
        return {"type": "resigned", "person": p, "effective": eff}
    other = draw(st.sampled_from([q for q in PEOPLE if q != p]))
    return {"type": "lead_replaced", "unit": "team", "outgoing": p, "incoming": other, "effective": eff}


@st.composite
def histories(draw):
    base = draw(st.lists(facts(), min_size=1, max_size=12))
    if draw(st.booleans()):
        base.append({"type": "unit_dissolved", "unit": "team", "effective": draw(valid_times())})
    order = draw(st.permutations(range(len(base))))
    amendments = draw(st.lists(st.tuples(st.integers(0, len(base) - 1), st.sampled_from(["corrected", "corrected-person", "retracted"]),
                                         valid_times(), st.floats(0, 1), person), max_size=4))
    team_formed = draw(st.sampled_from(["2000", "2003-06", "unknown"]))
    return base, list(order), amendments, team_formed


def _record(app, org: str, history) -> list[dict]:
    """Append the history one fact at a time in its shuffled order; returns the reference log."""
    base, order, amendments, team_formed = history
    app.register_org(org, org)
    log: list[dict] = []

    def add(fact):
        answer = app.append(org, [fact])
        e = answer["events"][0]
        log.append({"i": len(log), "id": e["id"], "fact": fact,
                    "known_at": stamp(datetime.fromisoformat(e["recorded_at"]))})
        return e["id"]

    add({"type": "unit_formed", "unit": "board", "name": "Board", "kind": "board", "effective": "2000"})
    add({"type": "unit_formed", "unit": "team", "name": "Team", "kind": "team", "effective": team_formed})
    sequence: list = [("base", j) for j in order]
    for target, kind, eff, slot, who in amendments:
        after = sequence.index(("base", target)) + 1
        sequence.insert(after + int(slot * (len(sequence) - after)), (kind, target, eff, who))
    ids: dict[int, str] = {}
    for item in sequence:
        if item[0] == "base":
            ids[item[1]] = add(base[item[1]])
        elif item[0] == "corrected":
            add({"type": "corrected", "target": ids[item[1]], "changes": {"effective": item[2]}})
        elif item[0] == "corrected-person":  # the fact was about someone else
            changes = {"person": item[3]} if "person" in base[item[1]] else {"effective": item[2]}
            add({"type": "corrected", "target": ids[item[1]], "changes": changes})
        else:
            add({"type": "retracted", "target": ids[item[1]], "reason": "generated"})
    return log


def _dates(log: list[dict]) -> list[date]:
    from events.validtime import ValidTime

    out = {date(2000, 6, 1), date(2009, 12, 31)}
    for e in log:
        eff = e["fact"].get("effective") or e["fact"].get("changes", {}).get("effective")
        if eff and eff != "unknown":
            v = ValidTime.parse(eff)
            for d in (v.earliest, v.latest):
                out |= {d - timedelta(days=1), d, d + timedelta(days=1)}
    return sorted(out)


def check_history(settings_, history, batch: int = 500) -> None:
    """``batch``: how many events the catch-up folds a transaction (small: folds kept between
    batches, ``projections.foldcache``, go on from one batch to the next)."""
    app, db = stores_for(settings_).app, stores_for(settings_).db
    for p in PEOPLE:
        app.register_person(p, p.upper())
    org = f"o{next(_orgs)}-{os.getpid()}"
    log = _record(app, org, history)
    catch_up(stores_for(settings_), batch=batch)
    dates = _dates(log)
    with db.read() as c:
        for entry in log[1:]:
            for d in dates:
                for unit in ("board", "team", None):
                    expected = reference.roster(log, entry["i"], d, unit)
                    if unit is None:
                        got = queries.roles(c, org, d, entry["known_at"])
                    else:
                        got = queries.members(c, org, [unit], d, entry["known_at"])
                    got_set = {(e["person"], e["role"], e["certain"]) for e in got}
                    assert got_set == expected, (
                        f"as_of={d} known_at=#{entry['i']} unit={unit}\nlog={[(e['id'], e['fact']) for e in log]}")


FAST = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            derandomize=bool(os.environ.get("CI")), print_blob=True)


@settings(max_examples=EXAMPLES, **FAST)
@given(history=histories())
def test_matches_reference_on_sqlite(sqlite_settings, history):
    check_history(sqlite_settings, history)


@settings(max_examples=max(20, EXAMPLES // 3), **FAST)
@given(history=histories())
def test_matches_reference_on_postgres(pg_settings, history):
    check_history(pg_settings, history)


@settings(max_examples=max(20, EXAMPLES // 3), **FAST)
@given(history=histories(), batch=st.integers(1, 4))
def test_matches_reference_folded_a_few_events_a_batch_on_sqlite(sqlite_settings, history, batch):
    check_history(sqlite_settings, history, batch)


@settings(max_examples=max(10, EXAMPLES // 6), **FAST)
@given(history=histories(), batch=st.integers(1, 4))
def test_matches_reference_folded_a_few_events_a_batch_on_postgres(pg_settings, history, batch):
    check_history(pg_settings, history, batch)
