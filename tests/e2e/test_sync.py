"""Imports are syncs: a made-up council's dataset, republished six times (ends added, a start
corrected, a role renamed, a person dropped from a record, a record deleted, a person renamed, an
end withdrawn) plus a second source that uses the same person id, loaded in order on SQLite and on
PostgreSQL. After every import, answers known now equal a direct reading of the latest versions
(``reading.py``, no shared code); answers known_at the end of each import equal a direct reading of
the versions of that moment; importing any version twice stores nothing; and a dry run's diff is
exactly what the import then writes."""

from __future__ import annotations

import copy
import json
import subprocess
import time
from datetime import datetime

import pytest

from events import imports
from projections import queries
from projections.clock import stamp
from workers.catchup import catch_up

from .. import reading
from ..conftest import close_stores, stores_for

ORG = "riverton"
UNITS = ("council", "greens", "finance")


def council_versions() -> list[dict]:
    """Six versions of the Riverton council's Popolo file, each what the publisher put out next."""
    v1 = {
        "persons": [{"id": "alice", "name": "Alice Archer"}, {"id": "bob", "name": "Bob Baker"},
                    {"id": "carol", "name": "Carol Chen"}, {"id": "dan", "name": "Dan Diaz"}],
        "organizations": [{"id": "council", "name": "Riverton Council", "classification": "legislature"},
                          {"id": "greens", "name": "Green Party", "classification": "party"},
                          {"id": "finance", "name": "Finance Committee", "classification": "committee"}],
        "events": [{"id": "term-1", "classification": "legislative period", "start_date": "2018-05-01",
                    "end_date": "2022-04-30"}],
        "memberships": [
            {"id": "m1", "person_id": "alice", "organization_id": "council", "on_behalf_of_id": "greens",
             "start_date": "2018-05-01", "sources": [{"url": "https://riverton.example/m1", "note": "roll"}]},
            {"id": "m2", "person_id": "bob", "organization_id": "council", "start_date": "2018-06-15",
             "end_date": "2020-12-31"},
            {"id": "m3", "person_id": "carol", "organization_id": "finance", "role": "Chair", "start_date": "2019-01"},
            {"id": "m4", "person_id": "dan", "organization_id": "council", "legislative_period_id": "term-1"},
            {"id": "m5", "person_id": "bob", "organization_id": "finance", "start_date": "2019-03-01"},
            {"id": "m6", "person_id": "carol", "organization_id": "council", "start_date": "2021"},
            {"id": "m7", "person_id": "dan", "organization_id": "finance", "start_date": "2020-05-01",
             "end_date": "2019-05-01"},  # ends before it starts: rejected
            {"id": "m8", "person_id": "alice", "organization_id": "nowhere", "start_date": "2019-01-01"},  # rejected
        ],
    }
    versions = [v1]

    def nxt(change) -> None:
        doc = copy.deepcopy(versions[-1])
        change(doc, {m["id"]: m for m in doc["memberships"]}, {p["id"]: p for p in doc["persons"]})
        versions.append(doc)

    def v2(doc, m, p):  # ends added, a start corrected
        m["m1"]["end_date"] = "2021-09-30"
        m["m2"]["start_date"] = "2018-07-01"
        m["m6"]["end_date"] = "2022-06"

    def v3(doc, m, p):  # a role renamed, a person dropped from a record
        m["m3"]["role"] = "Chairperson"
        del m["m5"]["person_id"]

    def v4(doc, m, p):  # a record deleted, a person renamed
        doc["memberships"].remove(m["m6"])
        p["alice"]["name"] = "Alice Archer-Stone"

    def v5(doc, m, p):  # an end withdrawn, a start given where the period gave one
        del m["m2"]["end_date"]
        m["m4"]["start_date"] = "2019-02-01"

    def v6(doc, m, p):  # the rejected record mended, a record moved to another person and unit
        m["m7"]["end_date"] = "2021-05-01"
        m["m3"]["person_id"] = "dan"
        m["m3"]["organization_id"] = "council"

    for change in (v2, v3, v4, v5, v6):
        nxt(change)
    return versions


def county_register() -> dict:
    """A second source that also has an ``alice``: another person altogether."""
    return {"persons": [{"id": "alice", "name": "Alicia Alvarez"}],
            "organizations": [{"id": "finance", "name": "Finance Committee"}],
            "memberships": [{"id": "x1", "person_id": "alice", "organization_id": "finance",
                             "start_date": "2020-01-01"}]}


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request, tmp_path):
    close_stores()
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_settings")
    else:
        yield request.getfixturevalue("pg_settings")
    close_stores()


def answers(db, days, known_at=None) -> dict:
    with db.read() as c:
        return {(u, d): sorted((e["person"], e["name"], e["role"]) for e in queries.members(c, ORG, [u], d, known_at))
                for u in UNITS for d in days}


def expected(docs: dict[str, dict], days) -> dict:
    return {(u, d): sorted({e for source, doc in docs.items() for e in reading.roster(doc, source, u, d)})
            for u in UNITS for d in days}


def written_since(app, head: int) -> list[dict]:
    return [{"id": e.id, **e.fields} for e in app.read(head, 10_000) if e.id and e.type != "org_registered"]


def test_versions_in_order_answer_as_each_version_reads(settings):
    app, db = stores_for(settings).app, stores_for(settings).db
    versions = council_versions()
    steps = [("riverton", v) for v in versions[:4]] + [("county-register", county_register())] + \
            [("riverton", v) for v in versions[4:]]
    days = reading.days(*versions, county_register())
    current: dict[str, dict] = {}
    moments = []  # (known_at, the documents then)
    for source, doc in steps:
        head = app.head_position()
        dry = app.sync(ORG, imports.read("popolo", doc), source=source, dry_run=True)
        assert app.head_position() == head, "a dry run stores nothing"
        report = app.sync(ORG, imports.read("popolo", doc), source=source)
        assert report["stored"]
        planned = [e for r in dry["diff"]["records"] for e in r["events"]]
        assert written_since(app, head) == planned, "the dry run's diff is what the import wrote"
        assert report["summary"] == dry["summary"]
        again = app.sync(ORG, imports.read("popolo", copy.deepcopy(doc)), source=source)
        assert not again["stored"] and again["same_document"]
        assert app.head_position() == report["position"], "importing the same document again stores nothing"
        assert again["summary"]["memberships"]["unchanged"] == len(doc["memberships"]) - \
            again["summary"]["memberships"]["rejected"]
        current[source] = doc
        catch_up(stores_for(settings))
        assert answers(db, days) == expected(current, days)
        moments.append((stamp(datetime.fromisoformat(report["recorded_at"])), dict(current)))
    for known_at, docs in moments:
        assert answers(db, days, known_at) == expected(docs, days), known_at


def test_what_each_sync_recorded(settings):
    """The summaries count each kind of change, the events are the ones that mean it, and each
    import is listed with its source, digest and summary."""
    app, db = stores_for(settings).app, stores_for(settings).db
    v = council_versions()
    first = app.sync(ORG, imports.read("popolo", v[0]), source="riverton")
    assert first["summary"]["memberships"] == {"added": 6, "ended": 0, "corrected": 0, "retracted": 0,
                                               "unchanged": 0, "rejected": 2}
    assert {(r["record"], r["path"]) for r in first["summary"]["rejected"]} == {("m7", "memberships[6]"),
                                                                              ("m8", "memberships[7]")}
    second = app.sync(ORG, imports.read("popolo", v[1]), source="riverton", dry_run=True)
    by_record = {r["record"]: r for r in second["diff"]["records"]}
    assert by_record["m1"]["change"] == "ended"
    assert [e["type"] for e in by_record["m1"]["events"]] == ["member_left", "member_left"]  # council and party
    assert by_record["m2"]["change"] == "corrected"
    assert [(e["type"], e["changes"]) for e in by_record["m2"]["events"]] == [
        ("corrected", {"effective": "2018-07-01"})]
    app.sync(ORG, imports.read("popolo", v[1]), source="riverton")
    third = app.sync(ORG, imports.read("popolo", v[2]), source="riverton", dry_run=True)
    by_record = {r["record"]: r for r in third["diff"]["records"]}
    assert [e["changes"] for e in by_record["m3"]["events"]] == [{"role": "chairperson", "title": "Chairperson"}]
    dropped = by_record["m5"]
    assert dropped["change"] == "rejected" and dropped["reason"] == "names no person"
    assert [e["type"] for e in dropped["events"]] == ["retracted", "noted"]
    assert dropped["events"][0]["reason"] == "names no person"
    app.sync(ORG, imports.read("popolo", v[2]), source="riverton")
    fourth = app.sync(ORG, imports.read("popolo", v[3]), source="riverton")
    assert fourth["summary"]["memberships"]["retracted"] == 1
    assert fourth["summary"]["people"]["renamed"] == 1
    catch_up(stores_for(settings))
    with db.read() as c:
        listed = queries.list_imports(c, ORG)
        assert [i["id"] for i in listed] == ["riverton-1", "riverton-2", "riverton-3", "riverton-4"]
        assert listed[0]["digest"] == first["digest"] and listed[0]["source"] == "riverton"
        assert listed[3]["summary"]["memberships"]["retracted"] == 1
        # filtered to one import: the facts it recorded or corrected that still count (m6's leave
        # was retracted with m6 by the fourth)
        facts = queries.timeline(c, ORG, None, import_id="riverton-2")
        assert {f["origin"]["record"] for f in facts} == {"m1", "m2"}
        changed = queries.changes(c, ORG, datetime(2000, 1, 1).date(), datetime(2030, 1, 1).date(), None,
                                  "riverton-2")
        assert {(ch["change"], ch["person"], ch["unit"]) for ch in changed} == {
            ("left", "riverton-alice", "council"), ("left", "riverton-alice", "greens"),
            ("joined", "riverton-bob", "council")}
        # every fact keeps its source and its record id there
        assert all(f["origin"]["source"] == "riverton" for f in queries.timeline(c, ORG, None))


def test_same_person_id_in_two_sources_is_two_people(sqlite_settings):
    app = stores_for(sqlite_settings).app
    app.sync(ORG, imports.read("popolo", council_versions()[0]), source="riverton")
    report = app.sync(ORG, imports.read("popolo", county_register()), source="county-register")
    assert report["summary"]["people"]["added"] == 1 and not report["summary"]["notices"]
    assert app.find_person("riverton-alice").name == "Alice Archer"
    assert app.find_person("county-register-alice").name == "Alicia Alvarez"
    # the finance committee both sources name is one unit: the second source adopts it
    assert report["summary"]["organizations"] == {"added": 0, "corrected": 0, "unchanged": 1}


# --- bad records, bad documents, crashes ---------------------------------------------------------

def test_bad_records_are_reported_and_noted_never_tenures(settings):
    app, db = stores_for(settings).app, stores_for(settings).db
    doc = {"persons": [{"id": "ann", "name": "Ann"}],
           "organizations": [{"id": "council", "name": "Council"}],
           "events": [{"id": "t1", "start_date": "2015-01-01", "end_date": "2016-12-31"}],
           "memberships": [
               {"id": "given", "person_id": "ann", "organization_id": "council", "start_date": "2020-01-01",
                "end_date": "2019-12-31"},
               {"id": "inherited", "person_id": "ann", "organization_id": "council", "start_date": "2018-01-01",
                "legislative_period_id": "t1"},
               {"id": "elsewhere", "person_id": "ann", "organization_id": "senate", "start_date": "2020"},
               {"id": "no-such-day", "person_id": "ann", "organization_id": "council", "start_date": "2020-02-30"},
               {"id": "no-date", "person_id": "ann", "organization_id": "council", "start_date": "last spring"},
               {"id": "ok", "person_id": "ann", "organization_id": "council", "start_date": "2015-06-01",
                "end_date": "2015-12-31"}]}
    report = app.sync("town", imports.read("popolo", doc))
    rejected = {r["record"]: r for r in report["summary"]["rejected"]}
    assert set(rejected) == {"given", "inherited", "elsewhere", "no-such-day", "no-date"}
    assert rejected["given"]["reason"] == "ends (2019-12-31) before it starts (2020-01-01)"
    assert "inherited from its legislative period" in rejected["inherited"]["reason"]
    assert rejected["elsewhere"]["reason"] == "names organization 'senate', which the document does not list"
    assert "has no day 30" in rejected["no-such-day"]["reason"] and "start_date" in rejected["no-such-day"]["reason"]
    assert rejected["no-date"]["path"] == "memberships[4]"
    assert report["summary"]["memberships"]["added"] == 1
    catch_up(stores_for(settings))
    with db.read() as c:
        notes = {f["origin"]["record"]: f for f in queries.timeline(c, "town", None) if f["type"] == "noted"}
        assert set(notes) == set(rejected)
        assert rejected["given"]["reason"] in notes["given"]["title"]
        assert '"end_date": "2019-12-31"' in notes["given"]["summary"]  # the record as given
        for d in reading.days(doc):
            held = queries.members(c, "town", ["council"], d, None)
            assert [m.get("tenure") for m in held] == (["ok"] if datetime(2015, 6, 1).date() <= d
                                                      <= datetime(2015, 12, 31).date() else []), d
    # mended in the next version: the note is retracted, the tenure added
    doc["memberships"][0]["end_date"] = "2020-12-31"
    mended = app.sync("town", imports.read("popolo", doc), dry_run=True)
    change = next(r for r in mended["diff"]["records"] if r["record"] == "given")
    assert change["change"] == "added" and [e["type"] for e in change["events"]] == [
        "retracted", "member_joined", "member_left"]


def big_council(n: int) -> dict:
    return {"persons": [{"id": f"p{i}", "name": f"Member {i}"} for i in range(200)],
            "organizations": [{"id": "council", "name": "Council"}],
            "memberships": [{"id": f"m{i}", "person_id": f"p{i % 200}", "organization_id": "council",
                             "start_date": f"{2000 + i % 20}-01-01", "end_date": f"{2001 + i % 20}-06-30",
                             "sources": [{"url": f"https://council.example/{i}"}]} for i in range(n)]}


def test_a_malformed_document_stores_nothing_and_names_the_path(settings, tmp_path):
    from events.errors import InvalidFact

    from ..conftest import BIN, service_env

    doc = big_council(2000)
    doc["memberships"][1500]["sources"][0]["url"] = "ftp://council.example/1500"
    with pytest.raises(InvalidFact) as e:
        imports.read("popolo", doc)
    assert e.value.field == "memberships[1500].sources[0].url"
    app = stores_for(settings).app
    head = app.head_position()
    path = tmp_path / "council.json"
    path.write_text(json.dumps(doc))
    out = subprocess.run([str(BIN / "orghistory"), "import", "popolo", str(path), "--org", "council"],
                         env=service_env(settings, None), capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "memberships[1500].sources[0].url" in out.stderr
    assert app.head_position() == head and app.find_org("council") is None


def test_a_killed_import_leaves_nothing_half_applied(settings, tmp_path):
    """kill -9 at moments spread over an import's run: each time the store holds none of it or
    all of it; run again, it finishes the job; once more, it stores nothing."""
    from ..conftest import BIN, service_env, spawn

    doc = big_council(3000)
    path = tmp_path / "council.json"
    path.write_text(json.dumps(doc))
    env = service_env(settings, None)
    cmd = [str(BIN / "orghistory"), "import", "popolo", str(path), "--org", "council"]
    started = time.monotonic()  # how long a whole run takes here (into another organization)
    subprocess.run(cmd[:-1] + ["timing"], env=env, capture_output=True, check=True, timeout=600)
    whole = time.monotonic() - started
    app = stores_for(settings).app
    outcomes = set()
    for fraction in (0.6, 0.8, 0.9, 0.97):
        proc = spawn(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(whole * fraction)  # deliberate: the kill lands at this fraction of an import's duration
        proc.kill()
        proc.wait()
        close_stores()
        app = stores_for(settings).app
        org = app.find_org("council")
        facts = org.version - 1 if org else 0
        assert facts in (0, 1 + 6000), f"killed at {fraction:.0%}: {facts} facts stored"
        outcomes.add(facts)
        if facts:
            break
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    report = json.loads(done.stdout)
    assert report["stored"] == (0 in outcomes and len(outcomes) == 1)
    close_stores()
    app = stores_for(settings).app
    assert app.find_org("council").version == 1 + 1 + 6000  # registration, the unit, 3000 joins and leaves
    again = json.loads(subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600).stdout)
    assert not again["stored"] and again["summary"]["memberships"]["unchanged"] == 3000


def test_the_readme_nights_are_the_first_two_versions():
    """The README's nightly sync imports tests/fixtures/riverton/night-*.json: these versions."""
    from pathlib import Path

    here = Path(__file__).resolve().parents[1] / "fixtures" / "riverton"
    versions = council_versions()
    for i in (0, 1):
        assert json.loads((here / f"night-{i + 1}.json").read_text()) == versions[i]


def test_an_organization_loaded_by_the_old_importer_is_warned_about(sqlite_settings):
    """Facts the importer from before syncs wrote match no source record: the first sync says so
    (in the dry run too) instead of silently doubling every tenure."""
    app = stores_for(sqlite_settings).app
    app.register_org("town", "Town")
    app.register_person("ann", "Ann")
    app.append("town", [{"type": "unit_formed", "unit": "council", "name": "Council", "kind": "team",
                         "effective": "unknown"},
                        {"type": "member_joined", "unit": "council", "person": "ann", "effective": "2019-01-01"}],
               writer="popolo-import")
    doc = {"persons": [{"id": "ann", "name": "Ann"}], "organizations": [{"id": "council", "name": "Council"}],
           "memberships": [{"id": "m1", "person_id": "ann", "organization_id": "council", "start_date": "2019-01-01"}]}
    dry = app.sync("town", imports.read("popolo", doc), dry_run=True)
    assert any("holds 2 facts loaded by an import from before" in n["notice"] for n in dry["summary"]["notices"])
