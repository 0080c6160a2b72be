"""Folds kept between catch-up batches (``projections.foldcache``) are used only while the version
is as this process left it: after another process folded, they are dropped, not extended."""

from __future__ import annotations

from datetime import date

import pytest

from projections import queries
from projections.verify import verify
from workers.catchup import catch_up
from workers.runtime import open_stores


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_fold_kept_by_one_process_is_not_extended_after_another_folded(store, request):
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
        catch_up(a)  # a's kept fold (still in the team) is stale: it must start over
        with a.db.read() as c:
            seated = {d: [m["person"] for m in queries.members(c, "acme", ["team"], d, None)]
                      for d in (date(2002, 1, 1), date(2004, 1, 1), date(2006, 1, 1))}
            since = [m["since"] for m in queries.members(c, "acme", ["team"], date(2006, 1, 1), None)]
            _, differences = verify(a.app, c)  # the version equals a fresh fold of the log
        assert seated == {date(2002, 1, 1): ["ada"], date(2004, 1, 1): [], date(2006, 1, 1): ["ada"]}
        assert since == ["2005"]
        assert differences == {}
