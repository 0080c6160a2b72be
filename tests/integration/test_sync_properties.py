"""Random sequences of dataset versions, each imported in turn: answers known now equal a direct
reading of the latest version, answers known_at the end of each import a reading of that version,
a second import of a version stores nothing, and a dry run's diff is exactly what is then written.
The reading is ``reading.py``'s, which shares no code with the service."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import imports
from events.settings import Settings
from projections import queries
from projections.clock import stamp
from workers.catchup import catch_up

from .. import reading
from ..conftest import close_stores, stores_for

PEOPLE = ("p0", "p1", "p2", "Person/3")
UNITS = ("u0", "u1")
DATES = (None, "2010", "2011-03", "2011-06-15", "2011-12", "2012-01-01", "2012-12-31", "2013-07", "2011-02-30")

membership = st.fixed_dictionaries({
    "person_id": st.sampled_from(PEOPLE + (None, "ghost")),
    "organization_id": st.sampled_from(UNITS + ("nowhere",)),
    "role": st.sampled_from((None, "Chair", "member", "Vice Chair")),
    "start_date": st.sampled_from(DATES),
    "end_date": st.sampled_from(DATES),
    "on_behalf_of_id": st.sampled_from((None, None, "u1")),
})
version = st.fixed_dictionaries({
    "names": st.fixed_dictionaries({p: st.sampled_from(("Ann", "Bo", "Cy", "Ann B.")) for p in PEOPLE}),
    "memberships": st.dictionaries(st.sampled_from([f"m{i}" for i in range(7)]), membership, max_size=7),
})


def document(v: dict) -> dict:
    return {"persons": [{"id": p, "name": n} for p, n in v["names"].items()],
            "organizations": [{"id": u, "name": u.upper()} for u in UNITS],
            "memberships": [{"id": mid, **{k: x for k, x in m.items() if x is not None}}
                            for mid, m in sorted(v["memberships"].items())]}


def answers(db, days, known_at=None) -> dict:
    with db.read() as c:
        return {(u, d): sorted({(e["person"], e["name"], e["role"])
                                for e in queries.members(c, "town", [u], d, known_at)})
                for u in UNITS for d in days}


def expected(doc: dict, days) -> dict:
    return {(u, d): reading.roster(doc, "town", u, d) for u in UNITS for d in days}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(version, min_size=1, max_size=4))
def test_any_sequence_of_versions_reads_as_each_version(versions):
    tmp = Path(tempfile.mkdtemp())
    store = Settings(data_dir=tmp)
    try:
        close_stores()
        app, db = stores_for(store).app, stores_for(store).db
        docs = [document(v) for v in versions]
        days = reading.days(*docs)
        moments = []
        for doc in docs:
            head = app.head_position()
            dry = app.sync("town", imports.read("popolo", doc), dry_run=True)
            report = app.sync("town", imports.read("popolo", doc))
            planned = [e for r in dry["diff"]["records"] for e in r["events"]]
            written = [{"id": e.id, **e.fields} for e in app.read(head, 10_000) if e.id and e.type != "org_registered"]
            assert written == planned
            again = app.sync("town", imports.read("popolo", doc))
            assert not again["stored"]
            catch_up(stores_for(store))
            assert answers(db, days) == expected(doc, days)
            if report["stored"]:
                moments.append((stamp(datetime.fromisoformat(report["recorded_at"])), doc))
        for known_at, doc in moments:
            assert answers(db, days, known_at) == expected(doc, days)
    finally:
        close_stores()
        shutil.rmtree(tmp, ignore_errors=True)
