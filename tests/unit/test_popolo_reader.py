"""The Popolo reader (``events/imports/popolo.py``), without a store: a small document becomes the
import model (people, units, memberships with our valid times), records that cannot be memberships
become rejections with their reason, and a malformed document is refused naming its path."""

from __future__ import annotations

import copy

import pytest

from events.errors import InvalidFact
from events.imports import read
from events.imports.model import MembershipRecord, PersonRecord, Rejection, UnitRecord

DOC = {
    "persons": [
        {"id": "ann", "name": "Ann", "identifiers": [{"scheme": "Wikidata", "identifier": "Q1"}],
         "other_names": [{"name": "Ann Old", "end_date": "2018-12-31"}]},
        {"id": "bo"},  # no name: rejected, and with it the memberships naming bo
    ],
    "organizations": [
        {"id": "council", "name": "Council", "classification": "board", "founding_date": "1990"},
        {"id": "party/red", "name": "Red", "classification": "party"},
    ],
    "posts": [{"id": "chair", "organization_id": "council", "role": "Chair", "label": "Chair of Council"}],
    "events": [{"id": "term-7", "start_date": "2016-05-01", "end_date": "2020-04-30"}],
    "memberships": [
        {"id": "m1", "person_id": "ann", "organization_id": "council", "on_behalf_of_id": "party/red",
         "start_date": "2019-01-01", "end_date": "2020-03", "sources": [{"url": "https://e.org/m1", "note": "minutes"}]},
        {"id": "m2", "person_id": "ann", "post_id": "chair", "start_date": "2019"},
        {"id": "m3", "person_id": "bo", "organization_id": "council"},
        {"id": "m4", "person_id": "ann", "organization_id": "council", "start_date": "2020-05-01",
         "end_date": "2020-04-01"},
        {"id": "m5", "person_id": "ann", "organization_id": "council", "legislative_period_id": "term-7"},
        {"id": "m5", "person_id": "ann", "organization_id": "council", "start_date": "2021",
         "x_orghistory_end": "unknown", "x_orghistory_cause": "died"},
        {"id": "m6", "person_id": "ann", "post_id": "treasurer"},
    ],
}


def test_a_document_reads_into_people_units_and_memberships():
    data = read("popolo", copy.deepcopy(DOC))
    assert data.format == "popolo" and data.digest.startswith("sha256:")
    assert data.people == {"ann": PersonRecord("ann", "persons[0]", "Ann", (("wikidata", "Q1"),),
                                               (("Ann Old", "2018-12-31"),))}
    assert data.units == {
        "council": UnitRecord("council", "organizations[0]", "Council", "board", "board", "1990"),
        "party/red": UnitRecord("party/red", "organizations[1]", "Red", "team", "party")}
    assert data.memberships == {
        # the last day of March held: the leave is the day after it, some day from March 2 to April 1
        "m1": MembershipRecord("m1", "memberships[0]", "ann", "council", "member", group="party/red",
                               start="2019-01-01", leave="2020-03-02/2020-04-01",
                               sources=({"title": "minutes", "url": "https://e.org/m1"},)),
        # a post gives the unit, the role and the seat's name
        "m2": MembershipRecord("m2", "memberships[1]", "ann", "council", "chair", title="Chair",
                               post="Chair of Council", start="2019"),
        # dates from its legislative period; a term that ends is a term-ended
        "m5": MembershipRecord("m5", "memberships[4]", "ann", "council", "member", start="2016-05-01",
                               leave="2020-05-01", cause="term-ended"),
        # a duplicate id is a record of its own, told apart by its order
        "m5#2": MembershipRecord("m5#2", "memberships[5]", "ann", "council", "member", start="2021",
                                 leave="unknown", cause="died"),
    }


def test_records_that_cannot_be_memberships_are_rejected_with_their_reason():
    data = read("popolo", copy.deepcopy(DOC))
    assert data.other_rejections == [Rejection("person", "bo", "persons[1]", "has no name")]
    assert {k: (r.path, r.reason, r.effective) for k, r in data.rejected.items()} == {
        "m3": ("memberships[2]", "names person 'bo', which was rejected", None),
        "m4": ("memberships[3]", "ends (2020-04-01) before it starts (2020-05-01)", "2020-05-01"),
        "m6": ("memberships[6]", "names post 'treasurer', which the document does not list", None),
    }
    assert data.rejected["m4"].raw == DOC["memberships"][3]  # kept as the source gave it


def test_the_same_document_has_the_same_digest_whatever_its_key_order():
    shuffled = {k: DOC[k] for k in reversed(list(DOC))}
    assert read("popolo", shuffled).digest == read("popolo", copy.deepcopy(DOC)).digest
    other = copy.deepcopy(DOC)
    other["persons"][0]["name"] = "Ann B"
    assert read("popolo", other).digest != read("popolo", copy.deepcopy(DOC)).digest


def test_an_undated_or_misdated_membership_is_rejected_not_guessed():
    doc = {"persons": [{"id": "ann", "name": "Ann"}], "organizations": [{"id": "c", "name": "C"}],
           "memberships": [{"id": "a", "person_id": "ann", "organization_id": "c", "start_date": "2020-02-30"},
                           {"id": "b", "person_id": "ann", "organization_id": "c", "end_date": "２０２０"},
                           {"id": "c", "organization_id": "c", "start_date": "2020"},
                           {"id": "d", "person_id": "ann", "organization_id": "c", "legislative_period_id": "t9"}]}
    data = read("popolo", doc)
    assert data.memberships == {}
    assert {k: r.reason.split(":")[0] for k, r in data.rejected.items()} == {
        "a": "start_date", "b": "end_date", "c": "names no person",
        "d": "names legislative period 't9', which the document does not list"}


@pytest.mark.parametrize("change,path", [
    (lambda d: d.update(persons={"ann": {}}), "persons"),
    (lambda d: d["persons"].append("ann"), "persons[2]"),
    (lambda d: d["persons"].append({"id": "ann", "name": "Ann again"}), "persons[2].id"),
    (lambda d: d["persons"][0].update(id=None), "persons[0].id"),
    (lambda d: d["persons"][0].update(id=True), "persons[0].id"),
    (lambda d: d["persons"][0]["identifiers"].append({"scheme": "orghistory", "identifier": "Ann\n"}),
     "persons[0].identifiers[1].identifier"),
    (lambda d: d["organizations"].append({"id": "council"}), "organizations[2].id"),
    (lambda d: d["organizations"][0].update(x_orghistory_kind="club"), "organizations[0].x_orghistory_kind"),
    (lambda d: d["memberships"][0].update(start_date=2019), "memberships[0].start_date"),
    (lambda d: d["memberships"][0]["sources"].append({"url": "ftp://e.org"}), "memberships[0].sources[1].url"),
    (lambda d: d["memberships"][0].update(x_orghistory_cause="vanished"), "memberships[0].x_orghistory_cause"),
    (lambda d: d["memberships"][1].update(role=["chair"]), "memberships[1].role"),
    (lambda d: d["memberships"][1].update(person_id={"id": "ann"}), "memberships[1].person_id"),
])
def test_a_malformed_document_is_refused_naming_the_path(change, path):
    doc = copy.deepcopy(DOC)
    change(doc)
    with pytest.raises(InvalidFact) as e:
        read("popolo", doc)
    assert e.value.field == path


def test_text_that_is_not_json_is_refused_whole():
    with pytest.raises(InvalidFact, match="not JSON") as e:
        read("popolo", '{"persons": [')
    assert e.value.field == ""
    with pytest.raises(InvalidFact) as e:
        read("popolo", ["persons"])
    assert e.value.field == ""
