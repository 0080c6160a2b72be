"""As-of scenarios through HTTP, on SQLite in-process and on PostgreSQL + Redis + a worker process."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from ..seedload import post_seed


def names(entries):
    return {e["person"] for e in entries}


@pytest.fixture
def seeded(service):
    top = post_seed(service)
    return service, top


def test_board_of_the_crisis(seeded):
    client, top = seeded
    before = client.ok(client.get("/v1/orgs/openai/board", as_of="2023-11-16", min_position=top))
    assert names(before["directors"]) == {"greg-brockman", "sam-altman", "ilya-sutskever", "adam-dangelo",
                                          "tasha-mccauley", "helen-toner"}
    assert [e["person"] for e in before["directors"] if e["role"] == "chair"] == ["greg-brockman"]

    after = client.ok(client.get("/v1/orgs/openai/board", as_of="2023-11-18", min_position=top))
    assert names(after["directors"]) == {"ilya-sutskever", "adam-dangelo", "tasha-mccauley", "helen-toner"}
    assert after["observers"] == []

    march = client.ok(client.get("/v1/orgs/openai/board", as_of="2024-03-10", min_position=top))
    assert names(march["directors"]) == {"bret-taylor", "larry-summers", "adam-dangelo", "sam-altman",
                                         "sue-desmond-hellmann", "nicole-seligman", "fidji-simo"}
    assert names(march["observers"]) == {"dee-templeton"}

    for answer in (before, after, march):
        for entry in answer["directors"] + answer["observers"]:
            assert entry["since"] and isinstance(entry["certain"], bool) and entry["evidence"]
            for event_id in entry["evidence"]:
                assert answer["evidence"][event_id]["sources"], event_id


def test_uncertain_dates_say_so(seeded):
    client, top = seeded
    # Templeton's start is only known to lie between 2023-11-29 and 2024-01-05.
    december = client.ok(client.get("/v1/orgs/openai/board", as_of="2023-12-15", min_position=top))
    templeton = next(e for e in december["observers"] if e["person"] == "dee-templeton")
    assert templeton["certain"] is False
    march = client.ok(client.get("/v1/orgs/openai/board", as_of="2024-03-10"))
    assert all(e["certain"] for e in march["directors"] + march["observers"])
    # Fired "2024-04" (month only): possibly still on the team on 2024-04-15, certainly not on 2024-05-01.
    mid_april = client.ok(client.get("/v1/orgs/openai/units/superalignment/members", as_of="2024-04-15"))
    aschenbrenner = next(e for e in mid_april["members"] if e["person"] == "leopold-aschenbrenner")
    assert aschenbrenner["certain"] is False and aschenbrenner["until"] == "2024-04"
    may = client.ok(client.get("/v1/orgs/openai/units/superalignment/members", as_of="2024-05-01"))
    assert "leopold-aschenbrenner" not in names(may["members"])


def test_superalignment_before_and_after_may_2024(seeded):
    client, top = seeded
    formed = client.ok(client.get("/v1/orgs/openai/units/superalignment/members", as_of="2023-07-05",
                                  min_position=top))
    leads = {e["person"] for e in formed["members"] if e["role"] == "co-lead"}
    assert leads == {"ilya-sutskever", "jan-leike"}
    units = client.ok(client.get("/v1/orgs/openai/units"))["units"]
    team = next(u for u in units if u["slug"] == "superalignment")
    assert team["formed"] == "2023-07-05" and team["dissolved"] == "2024-05-17"
    assert any("20%" in c for c in team["commitments"])
    april = client.ok(client.get("/v1/orgs/openai/units/superalignment/members", as_of="2024-04-01"))
    assert {"ilya-sutskever", "jan-leike", "leopold-aschenbrenner"} <= names(april["members"])
    assert "william-saunders" not in names(april["members"])  # resigned 2024-02-15
    after = client.ok(client.get("/v1/orgs/openai/units/superalignment/members", as_of="2024-05-20"))
    assert after["members"] == []
    changes = client.ok(client.get("/v1/orgs/openai/changes", **{"from": "2024-05-01", "to": "2024-06-01"}))
    left = {(c["person"], c["cause"]) for c in changes["changes"] if c["change"] == "left" and c["unit"] == "superalignment"}
    assert ("ilya-sutskever", "resigned") in left and ("jan-leike", "resigned") in left


def test_roles_through_the_crisis(seeded):
    client, top = seeded

    def holders(day, role):
        roles = client.ok(client.get("/v1/orgs/openai/roles", as_of=day, min_position=top))["roles"]
        return {e["person"] for e in roles if e["role"] == role}

    assert holders("2023-11-16", "ceo") == {"sam-altman"}
    assert holders("2023-11-18", "ceo") == set()
    assert holders("2023-11-18", "interim-ceo") == {"mira-murati"}
    assert holders("2023-11-20", "interim-ceo") == {"emmett-shear"}
    assert holders("2023-12-01", "ceo") == {"sam-altman"}
    assert holders("2024-05-20", "chief-scientist") == {"jakub-pachocki"}
    history = client.ok(client.get("/v1/people/ilya-sutskever/history"))["history"]
    assert {(h["role"], h.get("unit")) for h in history} >= {("director", "board"), ("co-lead", "superalignment"),
                                                             ("chief-scientist", None)}


def _acme(client):
    client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
    for p in ("alice", "bob", "dave", "erin"):
        client.ok(client.post("/v1/people", {"slug": p, "name": p.title()}))
    answer = client.ok(client.post("/v1/orgs/acme/units", {"slug": "board", "name": "Board", "kind": "board",
                                                           "effective": "2010"}))
    return answer["events"][0]["position"]


def _append(client, *events, **kw):
    return client.ok(client.post("/v1/orgs/acme/events", {"events": list(events)}, **kw))


def _board(client, as_of, known_at=None, min_position=None):
    params = {"as_of": as_of}
    if known_at:
        params["known_at"] = known_at
    if min_position:
        params["min_position"] = min_position
    return names(client.ok(client.get("/v1/orgs/acme/board", **params))["directors"])


def test_facts_out_of_record_order(service):
    """A 2018 appointment learned today, a resignation whose date is corrected, a retracted firing."""
    client = service
    _acme(client)
    joined = _append(client,
                     {"type": "member_joined", "unit": "board", "person": "alice", "role": "director", "effective": "2015"},
                     {"type": "member_joined", "unit": "board", "person": "bob", "role": "director", "effective": "2016-03-01"},
                     {"type": "member_joined", "unit": "board", "person": "dave", "role": "director", "effective": "2017-01-01"})
    resignation = _append(client, {"type": "member_left", "unit": "board", "person": "bob", "cause": "resigned",
                                   "effective": "2022-06-01"})
    firing = _append(client, {"type": "member_left", "unit": "board", "person": "dave", "cause": "fired",
                              "effective": "2021-03-01"})
    k_fired = firing["events"][0]["recorded_at"]
    correction = _append(client, {"type": "corrected", "target": resignation["events"][0]["id"],
                                  "changes": {"effective": "2022-09-01"}})
    k_corrected = correction["events"][0]["recorded_at"]
    retraction = _append(client, {"type": "retracted", "target": firing["events"][0]["id"],
                                  "reason": "the firing was misreported"})
    k_retracted = retraction["events"][0]["recorded_at"]
    late = _append(client, {"type": "member_joined", "unit": "board", "person": "erin", "role": "director",
                            "effective": "2018-05-01"})
    top = late["events"][0]["position"]

    # As we know it now.
    assert _board(client, "2019-01-01", min_position=top) == {"alice", "bob", "dave", "erin"}
    assert _board(client, "2022-07-01") == {"alice", "bob", "dave", "erin"}  # resignation moved to September
    assert _board(client, "2022-10-01") == {"alice", "dave", "erin"}
    assert _board(client, "2021-06-01") == {"alice", "bob", "dave", "erin"}  # the firing was retracted

    # As we knew it before each fact was recorded.
    assert _board(client, "2019-01-01", known_at=k_retracted) == {"alice", "bob", "dave"}  # erin not yet known
    assert _board(client, "2022-07-01", known_at=k_fired) == {"alice"}  # bob resigned June; dave fired
    assert _board(client, "2022-07-01", known_at=k_corrected) == {"alice", "bob"}  # corrected; dave still fired
    assert _board(client, "2021-06-01", known_at=k_corrected) == {"alice", "bob"}
    assert _board(client, "2021-06-01", known_at=k_retracted) == {"alice", "bob", "dave"}
    assert _board(client, "2016-06-01", known_at=joined["events"][0]["recorded_at"]) == {"alice"}

    # Evidence names the correction that changed bob's tenure.
    now = client.ok(client.get("/v1/orgs/acme/board", as_of="2022-07-01"))
    bob = next(e for e in now["directors"] if e["person"] == "bob")
    assert correction["events"][0]["id"] in bob["evidence"] and bob["until"] == "2022-09-01"


def test_reinstatement_lead_replacement_and_dissolution(service):
    client = service
    _acme(client)
    client.ok(client.post("/v1/orgs/acme/units", {"slug": "lab", "name": "Lab", "kind": "team", "effective": "2010"}))
    answer = _append(
        client,
        {"type": "role_assigned", "person": "alice", "role": "ceo", "effective": "2012"},
        {"type": "member_joined", "unit": "board", "person": "alice", "role": "director", "effective": "2012"},
        {"type": "member_joined", "unit": "lab", "person": "bob", "role": "lead", "effective": "2013"},
        {"type": "member_joined", "unit": "lab", "person": "dave", "effective": "2013"},
        {"type": "leader_ousted", "person": "alice", "roles": ["ceo"], "seats": ["board"], "by": "board",
         "effective": "2020-01-10"},
        {"type": "reinstated", "person": "alice", "roles": ["ceo"], "seats": ["board"], "effective": "2020-01-20"},
        {"type": "lead_replaced", "unit": "lab", "outgoing": "bob", "incoming": "erin", "effective": "2021-01-01"},
        {"type": "unit_dissolved", "unit": "lab", "effective": "2022-01-01"},
        {"type": "resigned", "person": "alice", "effective": "2023-01-01"},
    )
    top = answer["events"][-1]["position"]
    roles = lambda d: {(e["person"], e["role"]) for e in client.ok(client.get("/v1/orgs/acme/roles", as_of=d, min_position=top))["roles"]}
    assert roles("2020-01-15") == set()
    assert roles("2020-01-25") == {("alice", "ceo")}
    assert _board(client, "2020-01-15") == set() and _board(client, "2020-01-25") == {"alice"}
    lab = lambda d: {(e["person"], e["role"]) for e in client.ok(client.get("/v1/orgs/acme/units/lab/members", as_of=d))["members"]}
    assert lab("2020-06-01") == {("bob", "lead"), ("dave", "member")}
    assert lab("2021-06-01") == {("erin", "lead"), ("dave", "member")}
    assert lab("2022-06-01") == set()
    changes = client.ok(client.get("/v1/orgs/acme/changes", **{"from": "2021-12-31", "to": "2023-02-01"}))["changes"]
    causes = {(c["person"], c["role"], c["cause"]) for c in changes if c["change"] == "left"}
    assert causes == {("erin", "lead", "unit-dissolved"), ("dave", "member", "unit-dissolved"),
                      ("alice", "director", "resigned"), ("alice", "ceo", "resigned")}


def test_idempotency_and_expected_version(service):
    client = service
    top = _acme(client)
    before = client.ok(client.get("/v1/orgs/acme/events", min_position=top))["events"]
    fact = {"type": "noted", "title": "Annual meeting", "effective": "2020-05-05"}
    first = client.post("/v1/orgs/acme/events", fact, headers={"Idempotency-Key": "k-1"})
    again = client.post("/v1/orgs/acme/events", fact, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["events"] == again.json()["events"]
    other = client.post("/v1/orgs/acme/events", {**fact, "title": "Other"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    version = first.json()["version"]
    stale = client.post("/v1/orgs/acme/events", {"events": [fact], "expected_version": version - 1})
    assert stale.status_code == 409 and stale.json()["actual_version"] == version
    fresh = client.post("/v1/orgs/acme/events", {"events": [fact], "expected_version": version})
    assert fresh.status_code == 201 and fresh.json()["version"] == version + 1
    stale_header = client.post("/v1/orgs/acme/events", fact, headers={"If-Match": f'"{version}"'})
    assert stale_header.status_code == 409
    after = client.ok(client.get("/v1/orgs/acme/events", min_position=fresh.json()["events"][0]["position"]))["events"]
    assert len(after) == len(before) + 2


def test_concurrent_writers_lose_nothing(service):
    """Many writers at once on one organization: every acknowledged fact is stored exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    client = service
    top = _acme(client)

    def write(i):
        resp = client.post("/v1/orgs/acme/events", {"type": "noted", "title": f"note {i}", "effective": "2020"},
                           headers={"Idempotency-Key": f"c-{i}"})
        assert resp.status_code == 201, resp.text
        return resp.json()["events"][0]

    with ThreadPoolExecutor(8) as pool:
        written = list(pool.map(write, range(40)))
    assert len({e["id"] for e in written}) == 40 and len({e["position"] for e in written}) == 40
    top = max(e["position"] for e in written)
    log = client.ok(client.get("/v1/orgs/acme/events", limit=1000, min_position=top))["events"]
    titles = sorted(e["title"] for e in log if e["type"] == "noted")
    assert titles == sorted(f"note {i}" for i in range(40))


def test_why_is_someone_on_the_board(seeded):
    client, top = seeded
    for person, day in (("adam-dangelo", "2023-11-18"), ("helen-toner", "2023-11-18"), ("sam-altman", "2024-03-10"),
                        ("dee-templeton", "2024-03-10")):
        why = client.ok(client.get(f"/v1/orgs/openai/units/board/members/{person}/why", as_of=day, min_position=top))
        assert why["holds"] is True and why["tenures"] and why["chain"]
        for event in why["chain"]:
            assert event["sources"] and event["confidence"] in ("confirmed", "reported", "disputed")
            assert event["recorded_at"]
    gone = client.ok(client.get("/v1/orgs/openai/units/board/members/greg-brockman/why", as_of="2023-11-18"))
    assert gone["holds"] is False and gone["tenures"] == []
    chair = client.ok(client.get("/v1/orgs/openai/units/board/members/greg-brockman/why", as_of="2023-11-16"))
    assert chair["disputed"] is True  # his exit (stepped down or removed) is disputed
    ceo = client.ok(client.get("/v1/orgs/openai/roles/sam-altman/why", as_of="2023-12-01"))
    assert {e["type"] for e in ceo["chain"]} == {"reinstated"}


def test_why_shows_corrections_and_what_we_knew(service):
    client = service
    _acme(client)
    joined = _append(client, {"type": "member_joined", "unit": "board", "person": "bob", "role": "director",
                              "effective": "2016-03-01", "sources": [{"publisher": "Gazette"}]})
    left = _append(client, {"type": "member_left", "unit": "board", "person": "bob", "cause": "resigned",
                            "effective": "2022-06-01", "sources": [{"publisher": "Gazette"}]})
    fix = _append(client, {"type": "corrected", "target": left["events"][0]["id"], "changes": {"effective": "2022-09-01"},
                           "sources": [{"publisher": "Registry", "title": "Filing"}]})
    why = client.ok(client.get("/v1/orgs/acme/units/board/members/bob/why", as_of="2022-07-01",
                               min_position=fix["events"][0]["position"]))
    assert why["holds"] is True
    leave = next(e for e in why["chain"] if e["id"] == left["events"][0]["id"])
    assert leave["effective"] == "2022-09-01"
    assert [c["id"] for c in leave["corrections"]] == [fix["events"][0]["id"]]
    assert leave["corrections"][0]["changes"] == {"effective": "2022-09-01"}
    assert leave["corrections"][0]["sources"] == [{"publisher": "Registry", "title": "Filing"}]
    # What we believed about that day over record time: on the board with no known end (only the
    # join recorded), then not at all (left in June; a version not alive that day), then on the
    # board until September (the correction).
    assert [k["until"] for k in why["knowledge"]] == [None, "2022-09-01"]
    assert why["knowledge"][0]["recorded_to"] is not None and why["knowledge"][1]["recorded_to"] is None
    before = client.ok(client.get("/v1/orgs/acme/units/board/members/bob/why", as_of="2022-07-01",
                                  known_at=left["events"][0]["recorded_at"]))
    assert before["holds"] is False
    assert joined["events"][0]["id"] in why["tenures"][0]["evidence"]


def test_a_persons_history_spans_organizations(seeded):
    client, top = seeded
    history = client.ok(client.get("/v1/people/jan-leike/history", min_position=top))["history"]
    assert [h["org"] for h in history] == ["openai", "anthropic"]  # valid-time order across organizations
    assert history[0]["unit"] == "superalignment" and history[0]["cause"] == "resigned"


def test_the_timeline_as_known_before_a_correction_moved_a_fact(service):
    """A correction moved a note from June to July: the June timeline no longer lists it, and
    the June timeline as known before the correction does, with its June date (it used to filter
    on the corrected dates and lose it)."""
    client = service
    _acme(client)
    note = _append(client, {"type": "noted", "title": "Annual report", "effective": "2024-06"})["events"][0]
    client.ok(client.get("/v1/orgs/acme/timeline", min_position=note["position"]))
    # deliberate: record times strictly before and after ``before``, not a wait for anything
    time.sleep(0.01)
    before = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    time.sleep(0.01)
    fix = _append(client, {"type": "corrected", "target": note["id"], "changes": {"effective": "2024-07"}})["events"][0]

    def titles(**params):
        answer = client.ok(client.get("/v1/orgs/acme/timeline", min_position=fix["position"], **params))
        return [(e["title"], e["effective"]) for e in answer["events"] if e["type"] == "noted"]

    assert titles(**{"from": "2024-06-01", "to": "2024-07-01"}) == []
    assert titles(**{"from": "2024-07-01", "to": "2024-08-01"}) == [("Annual report", "2024-07")]
    assert titles(**{"from": "2024-06-01", "to": "2024-07-01", "known_at": before}) == [("Annual report", "2024-06")]
    assert titles(**{"from": "2024-07-01", "to": "2024-08-01", "known_at": before}) == []
    assert titles(known_at=before, limit=2) == [("Annual report", "2024-06")]  # the unit, then the note
