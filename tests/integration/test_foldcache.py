"""Folds kept between catch-up batches (``projections.foldcache``) stay right when another process
writes the version: they go on through what another worker folded, and are dropped when that
could change people in ways the events do not show (a correction, a parked or retried event)."""

from __future__ import annotations

from datetime import date

import pytest

from projections import queries
from projections.projector import Projector
from projections.verify import verify
from workers.catchup import catch_up, parked, retry_parked
from workers.runtime import open_stores


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_fold_kept_by_one_process_goes_on_through_what_another_folded(store, request):
    settings = request.getfixturevalue("sqlite_settings" if store == "sqlite" else "pg_settings")
    with open_stores(settings) as a, open_stores(settings) as b:  # two processes' stores
        a.app.register_org("acme", "Acme")
        a.app.register_person("ada", "Ada")
        a.app.append("acme", [{"type": "unit_formed", "unit": "team", "name": "Team", "kind": "team",
                               "effective": "2000"},
                              {"type": "member_joined", "person": "ada", "unit": "team", "effective": "2001"}])
        catch_up(a)  # a keeps ada's fold: in the team since 2001
        assert a.folds.derived
        a.app.append("acme", [{"type": "member_left", "person": "ada", "unit": "team", "cause": "resigned",
                               "effective": "2003"}])
        catch_up(b)  # another process folds her leaving
        a.app.append("acme", [{"type": "member_joined", "person": "ada", "unit": "team", "effective": "2005"}])
        catch_up(a)  # a's kept fold (still in the team) must go on through her leaving, or start over
        with a.db.read() as c:
            seated = {d: [m["person"] for m in queries.members(c, "acme", ["team"], d, None)]
                      for d in (date(2002, 1, 1), date(2004, 1, 1), date(2006, 1, 1))}
            since = [m["since"] for m in queries.members(c, "acme", ["team"], date(2006, 1, 1), None)]
            _, differences = verify(a.app, c)  # the version equals a fresh fold of the log
        assert seated == {date(2002, 1, 1): ["ada"], date(2004, 1, 1): [], date(2006, 1, 1): ["ada"]}
        assert since == ["2005"]
        assert differences == {}


def _team_with_ada(store, request, joined: str = "2001"):
    settings = request.getfixturevalue("sqlite_settings" if store == "sqlite" else "pg_settings")
    a, b = open_stores(settings), open_stores(settings)  # two processes' stores
    a.app.register_org("acme", "Acme")
    a.app.register_person("ada", "Ada")
    a.app.append("acme", [{"type": "unit_formed", "unit": "team", "name": "Team", "kind": "team", "effective": "1990"},
                          {"type": "member_joined", "person": "ada", "unit": "team", "effective": joined}])
    catch_up(a)  # a keeps ada's fold: in the team since ``joined``
    assert ("acme", "ada") in a.folds.derived
    return a, b


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_correction_another_process_folded_drops_the_kept_folds(store, request):
    a, b = _team_with_ada(store, request)
    with a, b:
        a.app.append("acme", [{"type": "corrected", "target": "acme@3", "changes": {"effective": "1995"}}])
        catch_up(b)  # the correction names no one: a's fold (since 2001) cannot go on through it
        a.app.append("acme", [{"type": "member_left", "person": "ada", "unit": "team", "cause": "resigned",
                               "effective": "2005"}])
        catch_up(a)
        with a.db.read() as c:
            on = [m["since"] for m in queries.members(c, "acme", ["team"], date(1996, 1, 1), None)]
            _, differences = verify(a.app, c)
        assert on == ["1995"] and differences == {}


def _poison(monkeypatch, title: str) -> None:
    original = Projector._apply_one

    def buggy(self, e, recorded):
        if e.type == "member_left" and e.fields.get("note") == title:
            raise KeyError("a bug in the fold")
        return original(self, e, recorded)

    monkeypatch.setattr(Projector, "_apply_one", buggy)


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_an_event_another_process_parked_is_not_folded_into_the_kept_folds(store, request, monkeypatch):
    a, b = _team_with_ada(store, request)
    with a, b:
        _poison(monkeypatch, "boom")
        a.app.append("acme", [{"type": "member_left", "person": "ada", "unit": "team", "cause": "resigned",
                               "effective": "2003", "note": "boom"}])
        catch_up(b)  # parked: not folded
        monkeypatch.undo()
        assert len(parked(b)) == 1
        a.app.append("acme", [{"type": "member_left", "person": "ada", "unit": "team", "cause": "fired",
                               "effective": "2006"}])
        catch_up(a)
        with a.db.read() as c:
            on = [m["person"] for m in queries.members(c, "acme", ["team"], date(2004, 1, 1), None)]
            _, differences = verify(a.app, c)  # the fresh fold leaves parked events out too
        assert on == ["ada"] and differences == {}


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_retried_event_drops_the_kept_folds(store, request, monkeypatch):
    a, b = _team_with_ada(store, request)
    with a, b:
        _poison(monkeypatch, "boom")
        left = a.app.append("acme", [{"type": "member_left", "person": "ada", "unit": "team", "cause": "resigned",
                                      "effective": "2003", "note": "boom"}])
        catch_up(b)  # parked
        monkeypatch.undo()
        a.app.append("acme", [{"type": "role_assigned", "person": "ada", "role": "ceo", "effective": "2004"}])
        catch_up(a)  # a folds ada again (the park dropped its folds) and keeps her: still in the team
        assert ("acme", "ada") in a.folds.derived
        retry_parked(b, left["events"][0]["position"])  # her leaving, folded now, out of its place
        a.app.append("acme", [{"type": "noted", "title": "unrelated", "effective": "2004"}])
        catch_up(b)  # and another process folds on: only a retry count tells a that ada changed
        a.app.append("acme", [{"type": "member_joined", "person": "ada", "unit": "team", "effective": "2005"}])
        catch_up(a)
        with a.db.read() as c:  # (no verify: a retried event's rows are recorded from its retry on)
            seated = {d: [(m["since"], m["until"]) for m in queries.members(c, "acme", ["team"], d, None)]
                      for d in (date(2002, 1, 1), date(2004, 6, 1), date(2006, 1, 1))}
        assert seated == {date(2002, 1, 1): [("2001", "2003")], date(2004, 6, 1): [], date(2006, 1, 1): [("2005", None)]}
