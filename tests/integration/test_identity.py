"""Who is who across sources: records are keyed by (source, id); an identifier two sources share
makes them one person (said, never silent); an operator's merge makes two people one, with both
histories, until it is retracted. Never a name or an id that merely matches."""

from __future__ import annotations

from datetime import date

import pytest

from events import imports
from events.errors import AlreadyExists, InvalidFact
from projections import queries
from projections.clock import stamp
from projections.verify import verify
from workers.catchup import catch_up
from workers.rebuild import rebuild

from ..conftest import close_stores, stores_for

ORG = "riverton"


def source_a() -> dict:
    return {"persons": [{"id": "alice", "name": "Alice Archer",
                         "identifiers": [{"scheme": "wikidata", "identifier": "Q1"}]},
                        {"id": "bob", "name": "Bob Baker"}],
            "organizations": [{"id": "council", "name": "Council"}],
            "memberships": [{"id": "a1", "person_id": "alice", "organization_id": "council", "start_date": "2018-01-01"},
                            {"id": "a2", "person_id": "bob", "organization_id": "council", "start_date": "2018-01-01",
                             "end_date": "2019-12-31"}]}


def source_b() -> dict:
    return {"persons": [{"id": "p-17", "name": "A. Archer", "identifiers": [{"scheme": "wikidata", "identifier": "Q1"}]},
                        {"id": "p-18", "name": "Bob Baker"}],
            "organizations": [{"id": "finance", "name": "Finance Committee"}],
            "memberships": [{"id": "b1", "person_id": "p-17", "organization_id": "finance", "start_date": "2020-01-01"},
                            {"id": "b2", "person_id": "p-18", "organization_id": "finance", "start_date": "2020-01-01"}]}


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request):
    close_stores()
    yield request.getfixturevalue("sqlite_settings" if request.param == "sqlite" else "pg_settings")
    close_stores()


def members(db, unit: str, day: date, known_at: str | None = None) -> list[tuple[str, str]]:
    with db.read() as c:
        return sorted((e["person"], e["name"]) for e in queries.members(c, ORG, [unit], day, known_at))


def test_a_shared_identifier_is_one_person_and_says_so(settings):
    app, db = stores_for(settings).app, stores_for(settings).db
    app.sync(ORG, imports.read("popolo", source_a()), source="a")
    report = app.sync(ORG, imports.read("popolo", source_b()), source="b")
    people = report["summary"]["people"]
    assert (people["added"], people["matched"]) == (1, 1)  # Bob of b is a new person; p-17 is Alice
    [notice] = report["summary"]["notices"]
    assert notice["person"] == "a-alice" and notice["source_name"] == "A. Archer" and notice["name"] == "Alice Archer"
    catch_up(stores_for(settings))
    assert members(db, "finance", date(2021, 1, 1)) == [("a-alice", "Alice Archer"), ("b-p-18", "Bob Baker")]
    with db.read() as c:
        assert queries.get_person(c, "a-alice")["identifiers"] == [{"scheme": "wikidata", "identifier": "Q1"}]
    # b's spelling never renames her; a's own rename does
    renamed = source_a()
    renamed["persons"][0]["name"] = "Alice Archer-Stone"
    assert app.sync(ORG, imports.read("popolo", source_b()), source="b")["stored"] is False
    assert app.sync(ORG, imports.read("popolo", renamed), source="a")["summary"]["people"]["renamed"] == 1
    assert app.find_person("a-alice").name == "Alice Archer-Stone"


def test_an_identifier_that_names_someone_else_is_reported_not_applied(sqlite_settings):
    app = stores_for(sqlite_settings).app
    app.sync(ORG, imports.read("popolo", source_a()), source="a")
    b = source_b()
    b["persons"][1]["identifiers"] = [{"scheme": "wikidata", "identifier": "Q1"}]  # Bob claims Alice's id
    b["persons"][0]["identifiers"] = []
    report = app.sync(ORG, imports.read("popolo", b), source="b")
    assert report["summary"]["people"]["matched"] == 1 and report["summary"]["people"]["added"] == 1
    b["persons"][0]["identifiers"] = [{"scheme": "wikidata", "identifier": "Q1"}]  # now p-17 claims it too
    later = app.sync(ORG, imports.read("popolo", b), source="b")
    assert any("already names person b-p-18" in n["notice"] or "already names person a-alice" in n["notice"]
               for n in later["summary"]["notices"])


def test_a_merge_shows_one_person_with_both_histories_until_retracted(settings):
    app, db = stores_for(settings).app, stores_for(settings).db
    app.sync(ORG, imports.read("popolo", source_a()), source="a")
    app.sync(ORG, imports.read("popolo", source_b()), source="b")
    catch_up(stores_for(settings))
    # Bob Baker of a and Bob Baker of b: same name, two people, until someone says otherwise
    assert members(db, "finance", date(2021, 1, 1)) == [("a-alice", "Alice Archer"), ("b-p-18", "Bob Baker")]
    with pytest.raises(InvalidFact):
        app.merge_people("a-bob", "a-bob", None, "editor")
    merged = app.merge_people("b-p-18", "a-bob", "the same councillor, per the town clerk", "editor")
    with pytest.raises(AlreadyExists):
        app.merge_people("b-p-18", "a-alice", None, "editor")
    with pytest.raises(InvalidFact):  # a cycle
        app.merge_people("a-bob", "b-p-18", None, "editor")
    catch_up(stores_for(settings))
    assert members(db, "finance", date(2021, 1, 1)) == [("a-alice", "Alice Archer"), ("a-bob", "Bob Baker")]
    assert members(db, "council", date(2019, 1, 1)) == [("a-alice", "Alice Archer"), ("a-bob", "Bob Baker")]
    with db.read() as c:
        history = queries.person_history(c, "a-bob", None)
        assert sorted((h["unit"], h["since"]) for h in history) == [("council", "2018-01-01"), ("finance", "2020-01-01")]
        assert queries.person_history(c, "b-p-18", None) == []
        assert queries.get_person(c, "b-p-18")["merged_into"] == "a-bob"
        assert queries.get_person(c, "a-bob")["merged"] == ["b-p-18"]
    # what we knew before the merge: two people
    known_before = _recorded_before(app, merged["position"])
    assert members(db, "finance", date(2021, 1, 1), known_before) == [("a-alice", "Alice Archer"),
                                                                      ("b-p-18", "Bob Baker")]
    # a later fact about either side lands on the one person
    app.sync(ORG, imports.read("popolo", {**source_b(), "memberships": source_b()["memberships"] + [
        {"id": "b3", "person_id": "p-18", "organization_id": "finance", "start_date": "2022-01-01",
         "role": "Chair"}]}), source="b")
    catch_up(stores_for(settings))
    assert ("a-bob", "Bob Baker") in members(db, "finance", date(2022, 6, 1))
    _same_as_a_fresh_fold(app, db)
    app.retract_merge("b-p-18", "two councillors after all", "editor")
    catch_up(stores_for(settings))
    assert members(db, "finance", date(2021, 1, 1)) == [("a-alice", "Alice Archer"), ("b-p-18", "Bob Baker")]
    assert members(db, "council", date(2019, 1, 1)) == [("a-alice", "Alice Archer"), ("a-bob", "Bob Baker")]
    _same_as_a_fresh_fold(app, db)
    # a rebuild (the bulk fold) gives the same tables as the incremental one
    rebuild(stores_for(settings))
    _same_as_a_fresh_fold(app, db)
    with db.read() as c:  # b's Bob again, with both his seats (b2 and b3), and nobody else's
        seats = queries.members(c, ORG, ["finance"], date(2022, 6, 1), None)
        assert sorted((e["person"], e["role"]) for e in seats) == [
            ("a-alice", "member"), ("b-p-18", "chair"), ("b-p-18", "member")]


def _recorded_before(app, position: int) -> str:
    """A record time just before the event at ``position``."""
    from datetime import timedelta

    event = app.read(position - 1, 1)[0]
    return stamp(event.recorded_at - timedelta(microseconds=1))


def _same_as_a_fresh_fold(app, db) -> None:
    with db.read() as c:
        _, differences = verify(app, c)
    assert differences == {}


def test_merges_over_http(inprocess_service):
    client = inprocess_service
    for slug, name in (("bob-1", "Bob Baker"), ("bob-2", "Bob Baker")):
        client.ok(client.post("/v1/people", {"slug": slug, "name": name}))
    assert client.post("/v1/people/bob-2/merge", {"into": "nobody"}).status_code == 422
    assert client.post("/v1/people/bob-2/merge", {"into": "bob-1"}, auth=False).status_code == 401
    done = client.ok(client.post("/v1/people/bob-2/merge", {"into": "bob-1", "reason": "one Bob"}), 201)
    assert done["into"] == "bob-1"
    assert client.post("/v1/people/bob-2/merge", {"into": "bob-1"}).status_code == 409
    person = client.ok(client.get("/v1/people/bob-2", min_position=done["position"]))
    assert person["merged_into"] == "bob-1"
    assert client.post("/v1/people/bob-2/merge/retract", {}).status_code == 422  # a reason is required
    client.ok(client.post("/v1/people/bob-2/merge/retract", {"reason": "two Bobs"}), 201)
    assert client.post("/v1/people/bob-2/merge/retract", {"reason": "again"}).status_code == 404


def test_a_rename_the_source_dates_holds_from_that_day(settings):
    """A name changed in the source is the name from then on, as known from then on; where the
    source says until when the old name held (``other_names``), the new one holds from the next day."""
    from datetime import datetime

    app, db = stores_for(settings).app, stores_for(settings).db
    doc = {"persons": [{"id": "ann", "name": "Ann Smith"}], "organizations": [{"id": "council", "name": "Council"}],
           "memberships": [{"id": "m1", "person_id": "ann", "organization_id": "council", "start_date": "2010-01-01"}]}
    first = app.sync(ORG, imports.read("popolo", doc))
    doc["persons"][0] = {"id": "ann", "name": "Ann Jones", "other_names": [{"name": "Ann Smith",
                                                                            "end_date": "2015-06-30"}]}
    second = app.sync(ORG, imports.read("popolo", doc))
    assert second["summary"]["people"]["renamed"] == 1
    catch_up(stores_for(settings))
    then = stamp(datetime.fromisoformat(first["recorded_at"]))
    assert members(db, "council", date(2015, 6, 30)) == [("riverton-ann", "Ann Smith")]
    assert members(db, "council", date(2015, 7, 1)) == [("riverton-ann", "Ann Jones")]
    assert members(db, "council", date(2020, 1, 1), then) == [("riverton-ann", "Ann Smith")]
    with db.read() as c:
        assert queries.get_person(c, "riverton-ann")["name"] == "Ann Jones"
