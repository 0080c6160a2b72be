"""FollowTheMoney in and out: a made-up file of people, positions and occupancies with partial
dates answers as-of queries as a direct reading of it does; its export is valid FtM (the
``followthemoney`` package takes every entity back whole), gives the same answers imported into
a fresh organization, and changes nothing imported back as the same source."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta

import pytest

from events import imports
from events.errors import InvalidFact
from projections import queries
from projections.ftm import export
from workers.catchup import catch_up

from .. import reading
from ..conftest import close_stores, stores_for


@pytest.fixture(autouse=True)
def followthemoney():
    try:
        import followthemoney  # noqa: F401
    except ImportError:
        if os.environ.get("ORGHISTORY_REQUIRE_SERVICES"):
            pytest.fail("followthemoney is not installed and ORGHISTORY_REQUIRE_SERVICES is set")
        pytest.skip("followthemoney is not installed (pip install -e '.[ftm]')")


def E(eid: str, schema: str, **props) -> dict:
    return {"id": eid, "schema": schema, "properties": {k: v if isinstance(v, list) else [v] for k, v in props.items()}}


def utopia() -> list[dict]:
    """A made-up registry of politically exposed persons: offices of no organization (as most
    OpenSanctions positions are), seats in a parliament, dates to the year, month or day."""
    return [
        E("p-ann", "Person", name="Ann Lee", wikidataId="Q100001", sourceUrl="https://peps.example/ann"),
        E("p-bo", "Person", name="Bo Chan"),
        E("p-cy", "Person", name="Cy Diaz", birthDate="1970"),
        E("org-parl", "PublicBody", name="Parliament of Utopia", classification="legislature"),
        E("pos-pm", "Position", name="Prime Minister of Utopia", country="ut"),
        E("pos-mp", "Position", name="Member of Parliament", organization="org-parl"),
        E("occ-1", "Occupancy", holder="p-ann", post="pos-pm", startDate="2019-05", endDate="2021",
          status="ended"),
        E("occ-2", "Occupancy", holder="p-bo", post="pos-pm", startDate="2022-01-10", status="current"),
        E("occ-3", "Occupancy", holder="p-ann", post="pos-mp", startDate="2015", endDate="2019-04-30"),
        E("occ-4", "Occupancy", holder="p-cy", post="pos-mp", startDate="2016-02", endDate="2020-11-05"),
        E("mem-1", "Membership", member="p-bo", organization="org-parl", role="Speaker", startDate="2020-01-01",
          endDate="2020-12-31"),
        E("occ-bad", "Occupancy", holder="p-cy", post="pos-pm", startDate="2020-06-01", endDate="2019-01-01"),
        E("san-1", "Sanction", entity="p-cy", program="Made-up sanctions"),
    ]


def direct_reading(entities: list[dict], unit: str, day: date) -> set[str]:
    """Who held a seat in ``unit`` on ``day`` by the file's own dates (start <= day <= end, both
    read as the widest span their precision allows)."""
    by_id = {e["id"]: e for e in entities}
    out = set()
    for e in entities:
        p = e["properties"]
        if e["schema"] == "Occupancy":
            post = by_id[p["post"][0]]
            where = (post["properties"].get("organization") or [post["id"]])[0]
            who = p["holder"][0]
        elif e["schema"] == "Membership":
            where, who = p["organization"][0], p["member"][0]
        else:
            continue
        first = reading._day(p.get("startDate", [None])[0])
        last = reading._day(p.get("endDate", [None])[0], last=True)
        if first and last and last < first:
            continue
        if reading.slug(where) == unit and (first is None or first <= day) and (last is None or day <= last):
            out.add(reading.slug(f"utopia-{who}"))
    return out


def _days(entities) -> list[date]:
    out = set()
    for e in entities:
        for key in ("startDate", "endDate"):
            for v in e["properties"].get(key, []):
                d, l = reading._day(v), reading._day(v, last=True)
                out |= {d - timedelta(days=1), d, l, l + timedelta(days=1)}
    return sorted(out)


def _answers(db, org, days) -> dict:
    with db.read() as c:
        return {(u, d): sorted((e["person"], e["role"], e["since"], e["until"], e["certain"])
                               for e in queries.members(c, org, [u], d, None))
                for u in ("org-parl", "pos-pm") for d in days}


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request):
    close_stores()
    yield request.getfixturevalue("sqlite_settings" if request.param == "sqlite" else "pg_settings")
    close_stores()


def test_ftm_occupancies_answer_as_the_file_reads_and_round_trip(settings):
    from followthemoney import model

    entities = utopia()
    ndjson = "\n".join(json.dumps(e) for e in entities) + "\n"
    app, db = stores_for(settings).app, stores_for(settings).db
    report = app.sync("utopia", imports.read("ftm", ndjson))
    summary = report["summary"]
    assert summary["memberships"]["added"] == 5 and summary["memberships"]["rejected"] == 1
    assert summary["rejected"][0]["record"] == "occ-bad" and "before it starts" in summary["rejected"][0]["reason"]
    assert summary["ignored"] == {"Sanction": 1}
    catch_up(stores_for(settings))
    days = _days(entities)
    answers = _answers(db, "utopia", days)
    for (unit, d), got in answers.items():
        assert {g[0] for g in got} == direct_reading(entities, unit, d), (unit, d)
    with db.read() as c:
        pm = queries.members(c, "utopia", ["pos-pm"], date(2020, 6, 1), None)
        assert [(m["person"], m["name"], m["role"], m["since"], m["until"]) for m in pm] == [
            ("utopia-p-ann", "Ann Lee", "prime-minister-of-utopia", "2019-05", "2021-01-02/2022-01-01")]
        assert queries.get_person(c, "utopia-p-ann")["identifiers"] == [{"scheme": "wikidata",
                                                                          "identifier": "Q100001"}]
        exported = list(export(c, "utopia"))
    # valid FtM: the package takes every entity back whole, every edge names an exported entity
    ids = {e["id"] for e in exported}
    for e in exported:
        proxy = model.get_proxy(e, cleaned=False)
        assert proxy.to_dict()["properties"] == e["properties"], e  # nothing dropped as invalid
        for prop in proxy.iterprops():
            if prop.type.name == "entity":
                assert set(proxy.get(prop)) <= ids, (e["id"], prop.name)
    assert {e["schema"] for e in exported} >= {"Person", "Position", "Occupancy", "Membership", "PublicBody"}
    # into a fresh organization: the same answers
    copy = app.sync("utopia-copy", imports.read("ftm", exported), source="copy")
    assert copy["stored"]
    catch_up(stores_for(settings))
    assert _answers(db, "utopia-copy", days) == answers
    # back into its own, as the same source: nothing changes but the rejected record, which FtM
    # has no place for in an export (the Popolo export keeps it), so its note is retracted
    back = app.sync("utopia", imports.read("ftm", exported), dry_run=True)
    assert [(r["record"], r["change"]) for r in back["diff"]["records"]] == [("occ-bad", "retracted")]


def test_malformed_entities_are_refused_with_their_place():
    entities = utopia()
    entities[6]["properties"]["startDate"] = [2019]
    with pytest.raises(InvalidFact) as e:
        imports.read("ftm", entities)
    assert e.value.field == "entities[6].properties.startDate[0]"
    with pytest.raises(InvalidFact) as e:
        imports.read("ftm", [E("x", "Person", name="X", hairColour="red")])
    assert e.value.field == "entities[0].properties.hairColour"
    with pytest.raises(InvalidFact) as e:
        imports.read("ftm", '{"id": "x", "schema": "Persona", "properties": {}}\n')
    assert e.value.field == "entities[0].schema"
    with pytest.raises(InvalidFact) as e:
        imports.read("ftm", '{"id": "x", "schema": "Person"}\nnot json\n')
    assert e.value.field == "entities[1]"


def test_ftm_over_http(inprocess_service):
    client = inprocess_service
    body = "\n".join(json.dumps(e) for e in utopia())
    dry = client.post("/v1/orgs/utopia/ftm?dry_run=true", data=body.encode(),
                      headers={"Content-Type": "application/x-ndjson"})
    assert dry.status_code == 200 and dry.json()["summary"]["memberships"]["added"] == 5
    done = client.post("/v1/orgs/utopia/ftm", data=body.encode(), headers={"Content-Type": "application/x-ndjson"})
    assert done.status_code == 201, done.text
    out = client.s.get(client.base + "/v1/orgs/utopia/ftm", headers={"Authorization": "Bearer test-admin-token"})
    assert out.headers["Content-Type"].startswith("application/x-ndjson")
    assert len(out.text.splitlines()) >= 10
    bad = client.post("/v1/orgs/utopia/ftm", data=b'{"id": "x", "schema": "Nope"}',
                      headers={"Content-Type": "application/x-ndjson"})
    assert bad.status_code == 422 and bad.json()["field"] == "entities[0].schema"
