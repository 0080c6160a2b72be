"""The aggregates (``events/domain.py``), in memory: what an organization refuses to record (naming
the field), what a person's merges and renames leave, and what a dataset remembers of a sync.
No store: events are triggered and read back from the aggregate itself."""

from __future__ import annotations

import pytest

from events.bookkeeping import Dataset
from events.domain import Organization, Person, fact_fields, org_id, person_id
from events.errors import AlreadyExists, UnknownReference
from events.vocabulary import parse_fact


def acme() -> Organization:
    org = Organization(slug="acme", name="Acme", writer="test")
    org.record(parse_fact({"type": "unit_formed", "unit": "board", "name": "Board", "kind": "board",
                           "effective": "2010"}), "test", "")
    return org


def test_a_recorded_fact_is_an_event_of_the_organization_with_its_id():
    org = acme()
    event = org.record(parse_fact({"type": "member_joined", "unit": "board", "person": "ann", "role": "director",
                                   "effective": "2020-01-15"}), "editor", "")
    assert (type(event), event.originator_id, event.originator_version, org.version) == (
        Organization.MemberJoined, org_id("acme"), 3, 3)
    assert org.event_id(event.originator_version) == "acme@3"
    assert (event.org, event.writer) == ("acme", "editor")
    assert fact_fields(event) == {
        "type": "member_joined", "effective": "2020-01-15", "announced": None, "sources": [],
        "confidence": "reported", "note": None, "origin": None, "unit": "board", "person": "ann",
        "role": "director", "tenure": None, "title": None, "post": None}
    assert org.units == {"board": "board"}


def test_a_unit_formed_is_known_from_then_on():
    org = acme()
    org.record(parse_fact({"type": "unit_formed", "unit": "lab", "name": "Lab", "kind": "team",
                           "effective": "2015"}), None, "")
    assert org.units == {"board": "board", "lab": "team"}


@pytest.mark.parametrize("fact,field", [
    ({"type": "member_joined", "unit": "lab", "person": "ann", "effective": "2020"}, "events[4].unit"),
    ({"type": "unit_dissolved", "unit": "lab", "effective": "2020"}, "events[4].unit"),
    ({"type": "leader_ousted", "person": "ann", "seats": ["board", "lab"], "effective": "2020"}, "events[4].seats[1]"),
    ({"type": "leader_ousted", "person": "ann", "by": "lab", "effective": "2020"}, "events[4].by"),
    ({"type": "lead_replaced", "unit": "lab", "outgoing": "a", "incoming": "b", "effective": "2020"},
     "events[4].unit"),
])
def test_a_fact_naming_an_unknown_unit_is_refused_naming_the_field(fact, field):
    org = acme()
    with pytest.raises(UnknownReference) as e:
        org.record(parse_fact(fact), None, "events[4]")
    assert e.value.field == field and "'lab'" in e.value.message
    assert org.version == 2 and not org.pending_events[2:]  # nothing recorded


def test_a_unit_formed_twice_is_refused():
    org = acme()
    with pytest.raises(AlreadyExists) as e:
        org.record(parse_fact({"type": "unit_formed", "unit": "board", "name": "Board again", "kind": "board",
                               "effective": "2011"}), None, "events[0]")
    assert e.value.field == "events[0].unit"
    assert org.version == 2


@pytest.mark.parametrize("target", ["acme@1", "acme@3", "acme@99", "other@2"])
def test_a_correction_or_retraction_must_target_a_fact_of_this_version(target):
    """acme@1 is the registration, not a fact; acme@3 would be the correction itself."""
    org = acme()
    for fact in ({"type": "corrected", "target": target, "changes": {"effective": "2011"}},
                 {"type": "retracted", "target": target, "reason": "wrong"}):
        with pytest.raises(UnknownReference) as e:
            org.record(parse_fact(fact), None, "events[0]")
        assert e.value.field == "events[0].target"
    assert org.version == 2


def test_a_correction_of_a_recorded_fact_is_recorded():
    org = acme()
    event = org.record(parse_fact({"type": "corrected", "target": "acme@2", "changes": {"effective": "2009"}}),
                       None, "")
    assert (event.target, event.changes, org.version) == ("acme@2", {"effective": "2009"}, 3)


def test_a_person_renamed_merged_and_unmerged():
    ann = Person(slug="ann", name="Ann Lee", writer=None)
    assert (ann.id, ann.merged_into) == (person_id("ann"), None)
    ann.rename("Ann Lee-Chan", "2021-06-01", "editor")
    ann.merge_into("ann-2", "same person, two sources", "editor")
    assert (ann.name, ann.merged_into) == ("Ann Lee-Chan", "ann-2")
    ann.retract_merge("two people after all", "editor")
    assert (ann.name, ann.merged_into, ann.version) == ("Ann Lee-Chan", None, 4)
    events = ann.collect_events()
    assert [type(e) for e in events] == [Person.Registered, Person.Renamed, Person.Merged, Person.MergeRetracted]
    assert (events[1].name, events[1].effective, events[2].into, events[3].reason) == (
        "Ann Lee-Chan", "2021-06-01", "ann-2", "two people after all")


def test_a_person_read_back_from_its_events_is_the_same_person():
    ann = Person(slug="ann", name="Ann", writer=None)
    ann.merge_into("bo", None, None)
    events = ann.collect_events()
    again = None
    for e in events:
        again = e.mutate(again)
    assert (again.slug, again.name, again.merged_into, again.version) == ("ann", "Ann", "bo", 2)


def test_a_sync_updates_what_the_dataset_remembers():
    data = Dataset(org="town", source="records", writer=None)
    assert data.import_id == "records-0"
    data.synced("popolo", "sha256:one", {"memberships": {"m1": {"id": "town@2"}, "m2": {"id": "town@3"}},
                                         "people": {"ann": {"person": "records-ann"}}},
                {"added": 2}, "town@2", "town@3", "editor")
    data.synced("popolo", "sha256:two", {"memberships": {"m1": None, "m3": {"id": "town@5"}},
                                         "groups": {"g": {"id": "town@6"}}},
                {"added": 1, "retracted": 1}, "town@4", "town@6", "editor")
    assert (data.digest, data.imports, data.import_id) == ("sha256:two", 2, "records-2")
    assert data.state == {"memberships": {"m2": {"id": "town@3"}, "m3": {"id": "town@5"}}, "units": {},
                          "people": {"ann": {"person": "records-ann"}}, "person_ids": {}, "unit_ids": {},
                          "groups": {"g": {"id": "town@6"}}}
    synced = data.collect_events()[-1]
    assert (type(synced), synced.format, synced.first, synced.last, synced.summary) == (
        Dataset.Synced, "popolo", "town@4", "town@6", {"added": 1, "retracted": 1})


def test_removing_a_record_the_dataset_never_had_is_no_error():
    data = Dataset(org="town", source="records", writer=None)
    data.synced("popolo", "sha256:x", {"memberships": {"gone": None}}, {}, None, None, None)
    assert data.state["memberships"] == {} and data.imports == 1


def test_events_of_aggregates_that_moved_module_still_resolve_from_old_logs():
    """Logs written before the bookkeeping aggregates left events.domain name them there."""
    from eventsourcing.utils import resolve_topic

    from events import bookkeeping

    assert resolve_topic("events.domain:Dataset.Synced") is bookkeeping.Dataset.Synced
    assert resolve_topic("events.domain:Subscription.Changed") is bookkeeping.Subscription.Changed
    assert resolve_topic("events.domain:IdempotentAppend.Created") is bookkeeping.IdempotentAppend.Created
    assert resolve_topic("events.domain:PersonRecord.Created") is bookkeeping.PersonRecord.Created
    assert resolve_topic("events.domain:PersonIdentifier") is bookkeeping.PersonIdentifier
