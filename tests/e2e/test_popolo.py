"""Popolo in and out: the imported answers equal a closed-interval reading of the file, computed
here independently; export then import into an empty store gives identical answers, and importing
the export back into its own organization stores nothing."""

from __future__ import annotations

import json
import random
import subprocess
from datetime import date, timedelta

import pytest

from events.settings import Settings
from projections import queries
from workers.catchup import catch_up

from ..conftest import ADMIN, BIN, close_stores, service_env, stores_for


def popolo_fixture(seed: int = 7, n: int = 300) -> dict:
    """A legislature, two parties and a committee; day-precise dates, legislative periods that
    supply missing dates, memberships without a person, duplicate ids, overlapping tenures."""
    rnd = random.Random(seed)
    persons = [{"id": f"person/{i}", "name": f"Member {i}"} for i in range(120)]
    orgs = [{"id": "legislature", "name": "The Assembly", "classification": "legislature"},
            {"id": "party/red", "name": "Red Party", "classification": "party"},
            {"id": "party/blue", "name": "Blue Party", "classification": "party"},
            {"id": "committee/budget", "name": "Budget Committee", "classification": "committee"}]
    periods = [{"id": "term/1", "start_date": "2010-05-01", "end_date": "2014-04-30"},
               {"id": "term/2", "start_date": "2014-05-01", "end_date": "2018-04-30"}]
    memberships = []
    for i in range(n):
        p = rnd.choice(persons)["id"]
        m = {"id": f"m{i}", "person_id": p, "organization_id": rnd.choice(["legislature", "legislature", "committee/budget"]),
             "role": rnd.choice(["member", "member", "chair"]),
             "sources": [{"url": f"https://example.org/record/{i}", "note": "register"}]}
        if rnd.random() < 0.3:
            m["legislative_period_id"] = rnd.choice(periods)["id"]
            if rnd.random() < 0.5:
                m["start_date"] = "2015-01-10" if m["legislative_period_id"] == "term/2" else "2011-03-03"
        else:
            start = date(2008, 1, 1) + timedelta(days=rnd.randrange(4000))
            m["start_date"] = start.isoformat()
            if rnd.random() < 0.8:
                m["end_date"] = (start + timedelta(days=rnd.randrange(1, 2000))).isoformat()
        if m["organization_id"] == "legislature" and rnd.random() < 0.5:
            m["on_behalf_of_id"] = rnd.choice(["party/red", "party/blue"])
        memberships.append(m)
    posts = [{"id": "post/speaker", "organization_id": "legislature", "role": "Speaker"}]
    memberships.append({"id": "speaker-1", "person_id": "person/1", "post_id": "post/speaker",
                        "start_date": "2011-06-01", "end_date": "2013-06-01"})
    memberships.append({"id": "vacant-1", "organization_id": "legislature", "role": "member", "start_date": "2012-01-01"})
    memberships.append(dict(memberships[3]))  # a duplicate id
    memberships.append({**memberships[5], "id": "overlap-5", "start_date": "2013-02-02"})  # same person, role, unit
    return {"persons": persons, "organizations": orgs, "events": periods, "posts": posts, "memberships": memberships}


def closed_interval_reading(doc: dict, unit: str, d: date) -> set[str]:
    """Who is in ``unit`` on ``d`` by Popolo's own reading: start <= d <= end, dates inherited."""
    periods = {e["id"]: e for e in doc["events"]}
    out = set()
    for m in doc["memberships"]:
        if not m.get("person_id"):
            continue
        org_id = m.get("organization_id") or {p["id"]: p for p in doc["posts"]}[m["post_id"]]["organization_id"]
        units = [org_id] + ([m["on_behalf_of_id"]] if m.get("on_behalf_of_id") else [])
        if unit not in units:
            continue
        period = periods.get(m.get("legislative_period_id"), {})
        start = m.get("start_date") or period.get("start_date")
        end = m.get("end_date") or period.get("end_date")
        if (start is None or date.fromisoformat(start) <= d) and (end is None or d <= date.fromisoformat(end)):
            out.add("assembly-" + m["person_id"].replace("/", "-"))  # people are <source>-<id>
    return out


def boundary_dates(doc: dict) -> list[date]:
    out = set()
    for m in doc["memberships"] + doc["events"]:
        for key in ("start_date", "end_date"):
            if m.get(key):
                d = date.fromisoformat(m[key])
                out |= {d - timedelta(days=1), d, d + timedelta(days=1)}
    return sorted(out)


UNITS = {"legislature": "legislature", "party/red": "party-red", "party/blue": "party-blue",
         "committee/budget": "committee-budget"}


def _run(env, *args, input_=None):
    out = subprocess.run([str(BIN / "orghistory"), *args], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _answers(settings: Settings, org: str, dates: list[date]) -> dict:
    close_stores()
    db = stores_for(settings).db
    catch_up(stores_for(settings))
    with db.read() as c:
        return {(u, d): sorted((e["person"], e["role"], e["since"], e["until"], e["certain"])
                               for e in queries.members(c, org, [u], d, None))
                for u in UNITS.values() for d in dates}


def test_import_matches_closed_interval_reading_and_round_trips(tmp_path):
    doc = popolo_fixture()
    assert len(doc["memberships"]) > 300
    path = tmp_path / "assembly.json"
    path.write_text(json.dumps(doc))
    first = Settings(data_dir=tmp_path / "first", admin_token=ADMIN)
    env = service_env(first, None)
    report = json.loads(_run(env, "import", "popolo", str(path), "--org", "assembly"))
    assert report["stored"] and report["source"] == "assembly"
    assert report["summary"]["memberships"]["added"] > 300
    assert report["summary"]["memberships"]["rejected"] == 1  # vacant-1 names no person
    dates = boundary_dates(doc)
    answers = _answers(first, "assembly", dates)
    for popolo_id, unit in UNITS.items():
        for d in dates:
            got = {e[0] for e in answers[(unit, d)]}
            assert got == closed_interval_reading(doc, popolo_id, d), (unit, d)
    speaker = [e for e in answers[("legislature", date(2012, 1, 1))] if e[1] == "speaker"]
    assert [e[0] for e in speaker] == ["assembly-person-1"]  # a post gives the unit and the role
    # nothing lost: the membership without a person is on the timeline, with its reason
    db = stores_for(first).db
    with db.read() as c:
        noted = [f for f in queries.timeline(c, "assembly", None) if f["type"] == "noted"]
        assert any("vacant-1" in f["title"] and "names no person" in f["title"] for f in noted)
        # overlapping tenures of one person in one role are two tenures; a duplicate id is a record of its own
        person = "assembly-" + doc["memberships"][5]["person_id"].replace("/", "-")
        history = [h for h in queries.person_history(c, person, None) if h.get("tenure") in ("m5", "overlap-5")]
        assert len(history) >= 2
    again = json.loads(_run(env, "import", "popolo", str(path), "--org", "assembly"))
    assert not again["stored"] and again["same_document"]

    exported = tmp_path / "export.json"
    exported.write_text(_run(env, "export", "popolo", "--org", "assembly"))
    out = json.loads(exported.read_text())
    ids = [m["id"] for m in out["memberships"]]
    assert len(ids) == len(set(ids)), "one membership per record, its party as on_behalf_of"
    assert any(m.get("on_behalf_of_id") for m in out["memberships"])
    assert {o["id"]: o["classification"] for o in out["organizations"]}["party/red"] == "party"  # the source's id
    assert all(m.get("sources") for m in out["memberships"] if not m["id"].startswith("speaker"))
    assert out["x_orghistory_rejected"][0]["id"] == "vacant-1"
    second = Settings(data_dir=tmp_path / "second", admin_token=ADMIN)
    _run(service_env(second, None), "import", "popolo", str(exported), "--org", "assembly", "--source", "copy")
    assert _answers(second, "assembly", dates) == answers
    # ... and imported back into its own organization, as the same source, it changes nothing
    back = json.loads(_run(env, "import", "popolo", str(exported), "--org", "assembly"))
    assert not back["stored"], back["summary"]
    assert back["summary"]["memberships"]["unchanged"] == report["summary"]["memberships"]["added"]


@pytest.mark.parametrize("end,day,member,certain", [
    ("2020-03", "2020-02-29", True, True),
    ("2020-03", "2020-03-15", True, False),   # ended some day in March: possibly still a member
    ("2020-03", "2020-03-31", True, False),
    ("2020-03", "2020-04-01", False, None),
    ("2020", "2020-12-31", True, False),
    ("2020", "2021-01-01", False, None),
    ("2020-03-10", "2020-03-10", True, True),  # the last day held
    ("2020-03-10", "2020-03-11", False, None),
])
def test_popolo_end_date_precision(tmp_path, end, day, member, certain):
    doc = {"persons": [{"id": "ann", "name": "Ann"}], "organizations": [{"id": "council", "name": "Council"}],
           "memberships": [{"id": "m1", "person_id": "ann", "organization_id": "council", "start_date": "2019-01-01",
                            "end_date": end}]}
    settings = Settings(data_dir=tmp_path / "d", admin_token=ADMIN)
    from events import imports

    close_stores()
    app, db = stores_for(settings).app, stores_for(settings).db
    app.sync("town", imports.read("popolo", doc))
    catch_up(stores_for(settings))
    with db.read() as c:
        got = queries.members(c, "town", ["council"], date.fromisoformat(day), None)
    assert bool(got) == member
    if member:
        assert got[0]["certain"] == certain


def test_popolo_over_http_for_operators(inprocess_service):
    client = inprocess_service
    doc = {"persons": [{"id": "ann", "name": "Ann"}], "organizations": [{"id": "council", "name": "Council"}],
           "memberships": [{"id": "m1", "person_id": "ann", "organization_id": "council", "start_date": "2019-01-01"}]}
    from projections import tokens

    writer = tokens.create(client.services.db, "writer", ["write"])
    refused = client.post("/v1/orgs/town/popolo", doc, headers={"Authorization": f"Bearer {writer}"})
    assert refused.status_code == 403
    bad = client.post("/v1/orgs/town/popolo", {"memberships": "all"})
    assert bad.status_code == 422 and bad.json()["field"] == "memberships"
    dry = client.post("/v1/orgs/town/popolo?dry_run=true&source=town-records", doc)
    assert dry.status_code == 200 and not dry.json()["stored"]
    assert [r["change"] for r in dry.json()["diff"]["records"]] == ["added", "added"]  # the council, then m1
    assert client.get("/v1/orgs/town").status_code == 404  # a dry run registers nothing either
    report = client.post("/v1/orgs/town/popolo?source=town-records", doc)
    assert report.status_code == 201 and report.json()["import_id"] == "town-records-1"
    members = client.ok(client.get("/v1/orgs/town/units/council/members", as_of="2020-01-01",
                                   min_position=report.json()["position"]))["members"]
    assert [(m["person"], m["name"]) for m in members] == [("town-records-ann", "Ann")]
    again = client.post("/v1/orgs/town/popolo?source=town-records", doc)
    assert again.status_code == 200 and again.json()["stored"] is False
    listed = client.ok(client.get("/v1/orgs/town/imports"))["imports"]
    assert [(i["id"], i["summary"]["memberships"]["added"]) for i in listed] == [("town-records-1", 1)]
    assert client.ok(client.get("/v1/orgs/town/imports/town-records-1"))["source"] == "town-records"
    assert client.get("/v1/orgs/town/imports/town-records-9").status_code == 404
    recorded = client.ok(client.get("/v1/orgs/town/timeline", **{"import": "town-records-1"}))["events"]
    assert [(e["type"], e["origin"]["record"]) for e in recorded] == [("unit_formed", "council"),
                                                                       ("member_joined", "m1")]
    joined = client.ok(client.get("/v1/orgs/town/changes", **{"from": "2000-01-01", "to": "2030-01-01",
                                                                "import": "town-records-1"}))["changes"]
    assert [(c["change"], c["person"]) for c in joined] == [("joined", "town-records-ann")]
    exported = client.s.get(client.base + "/v1/orgs/town/popolo", headers={"Authorization": f"Bearer {ADMIN}"})
    assert exported.status_code == 200
    assert exported.json()["memberships"][0]["start_date"] == "2019-01-01"
    assert client.get("/v1/orgs/town/popolo", auth=False).status_code == 401
