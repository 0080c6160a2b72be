"""Every kind of malformed request gets a 4xx problem+json naming the field, and changes nothing."""

from __future__ import annotations

import pytest

from ..conftest import ADMIN, GOOD

BAD_WRITES = [
    # (path, body, headers, status, field)
    ("/v1/orgs/acme/events", {**GOOD, "effective": "2024-02-30"}, {}, 422, "effective"),
    ("/v1/orgs/acme/events", {**GOOD, "effective": "2024-13"}, {}, 422, "effective"),
    ("/v1/orgs/acme/events", {**GOOD, "effective": "yesterday"}, {}, 422, "effective"),
    ("/v1/orgs/acme/events", {**GOOD, "effective": "2024-05-01/2024-04-01"}, {}, 422, "effective"),
    ("/v1/orgs/acme/events", {k: v for k, v in GOOD.items() if k != "effective"}, {}, 422, "effective"),
    ("/v1/orgs/acme/events", {**GOOD, "effective": 2024}, {}, 422, "effective"),
    ("/v1/orgs/acme/events", {**GOOD, "person": "nobody"}, {}, 422, "person"),
    ("/v1/orgs/acme/events", {**GOOD, "person": "Not A Slug"}, {}, 422, "person"),
    ("/v1/orgs/acme/events", {**GOOD, "unit": "nowhere"}, {}, 422, "unit"),
    ("/v1/orgs/acme/events", {**GOOD, "type": "coronation"}, {}, 422, "type"),
    ("/v1/orgs/acme/events", {k: v for k, v in GOOD.items() if k != "type"}, {}, 422, "type"),
    ("/v1/orgs/acme/events", {**GOOD, "colour": "blue"}, {}, 422, "colour"),
    ("/v1/orgs/acme/events", {**GOOD, "confidence": "certain"}, {}, 422, "confidence"),
    ("/v1/orgs/acme/events", {**GOOD, "announced": "2024-04"}, {}, 422, "announced"),
    ("/v1/orgs/acme/events", {**GOOD, "sources": "the news"}, {}, 422, "sources"),
    ("/v1/orgs/acme/events", {**GOOD, "sources": [{"url": "ftp://x"}]}, {}, 422, "sources[0].url"),
    ("/v1/orgs/acme/events", {**GOOD, "sources": [{"publisher": "X", "rating": 5}]}, {}, 422, "sources[0].rating"),
    ("/v1/orgs/acme/events", {**GOOD, "sources": [{}]}, {}, 422, "sources[0]"),
    ("/v1/orgs/acme/events", {"type": "member_left", "unit": "board", "person": "alice", "cause": "bored",
                              "effective": "2021"}, {}, 422, "cause"),
    ("/v1/orgs/acme/events", {"type": "corrected", "target": "acme@999", "changes": {"effective": "2020"}}, {}, 422, "target"),
    ("/v1/orgs/acme/events", {"type": "corrected", "target": "other@2", "changes": {"effective": "2020"}}, {}, 422, "target"),
    ("/v1/orgs/acme/events", {"type": "corrected", "target": "acme@3", "changes": {"effective": "2020-02-31"}}, {}, 422, "changes.effective"),
    ("/v1/orgs/acme/events", {"type": "corrected", "target": "acme@3", "changes": {"wings": 2}}, {}, 422, "changes.wings"),
    ("/v1/orgs/acme/events", {"type": "corrected", "target": "acme@3", "changes": {"person": "nobody"}}, {}, 422, "changes.person"),
    ("/v1/orgs/acme/events", {"type": "retracted", "target": "nonsense", "reason": "x"}, {}, 422, "target"),
    ("/v1/orgs/acme/events", {"type": "retracted", "target": "acme@3"}, {}, 422, "reason"),
    ("/v1/orgs/acme/events", {"type": "lead_replaced", "unit": "board", "outgoing": "alice", "incoming": "alice",
                              "effective": "2021"}, {}, 422, "incoming"),
    ("/v1/orgs/acme/events", {"events": []}, {}, 422, "events"),
    ("/v1/orgs/acme/events", {"events": "all of them"}, {}, 422, "events"),
    ("/v1/orgs/acme/events", {"events": [GOOD, {**GOOD, "effective": "2021-02-29"}]}, {}, 422, "events[1].effective"),
    ("/v1/orgs/acme/events", {"events": [GOOD, 42]}, {}, 422, "events[1]"),
    ("/v1/orgs/acme/events", {"events": [GOOD], "extra": 1}, {}, 422, "extra"),
    ("/v1/orgs/acme/events", {"events": [GOOD], "expected_version": "three"}, {}, 422, "expected_version"),
    ("/v1/orgs/acme/events", {"events": [GOOD], "expected_version": 1}, {}, 409, "expected_version"),
    ("/v1/orgs/acme/events", GOOD, {"If-Match": "banana"}, 422, "If-Match"),
    ("/v1/orgs/acme/events", GOOD, {"Idempotency-Key": "x" * 300}, 422, "Idempotency-Key"),
    ("/v1/orgs/acme/events", [GOOD], {}, 422, "body"),
    ("/v1/orgs/nowhere/events", GOOD, {}, 404, "org"),
    ("/v1/orgs/acme/units", {"slug": "board", "name": "Board", "kind": "board", "effective": "2010"}, {}, 409, "unit"),
    ("/v1/orgs/acme/units", {"slug": "x", "name": "X", "kind": "guild", "effective": "2010"}, {}, 422, "kind"),
    ("/v1/orgs/acme/units", {"slug": "x", "name": "X", "kind": "team", "effective": "2010-00"}, {}, 422, "effective"),
    ("/v1/orgs/acme/units", {"slug": "x", "name": "X", "kind": "team"}, {}, 422, "effective"),
    ("/v1/orgs", {"slug": "Bad Slug", "name": "X"}, {}, 422, "slug"),
    ("/v1/orgs", {"slug": "x"}, {}, 422, "name"),
    ("/v1/orgs", {"slug": "acme", "name": "Another Acme"}, {}, 409, "name"),
    ("/v1/people", {"slug": "alice", "name": "Alice Other"}, {}, 409, "name"),
    ("/v1/people", {"slug": "-bad-", "name": "X"}, {}, 422, "slug"),
    ("/v1/people", {"slug": "ok", "name": "X", "age": 3}, {}, 422, "age"),
]


@pytest.mark.parametrize("path,body,headers,status,field", BAD_WRITES,
                         ids=[f"{i}-{b[4]}" for i, b in enumerate(BAD_WRITES)])
def test_bad_writes_are_refused_and_change_nothing(acme, path, body, headers, status, field):
    head = acme.ok(acme.get("/healthz"))["head"]
    resp = acme.post(path, body, headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == "application/problem+json"
    problem = resp.json()
    assert problem["status"] == status and problem["field"] == field and problem["title"]
    assert acme.ok(acme.get("/healthz"))["head"] == head  # the log is unchanged


def test_not_json_at_all(acme):
    head = acme.ok(acme.get("/healthz"))["head"]
    for data, ctype in (('{"type": "noted"', "application/json"), ("type=noted", "application/x-www-form-urlencoded"),
                        ("\xff\xfe", "application/json")):
        resp = acme.s.post(acme.base + "/v1/orgs/acme/events", data=data.encode("latin-1"),
                           headers={"Content-Type": ctype, "Authorization": f"Bearer {ADMIN}"})
        assert resp.status_code in (400, 415, 422), resp.text
        assert resp.headers["Content-Type"] == "application/problem+json"
        assert resp.json()["field"] == ("Content-Type" if resp.status_code == 415 else "body")
    assert acme.ok(acme.get("/healthz"))["head"] == head


def test_auth_failures(acme):
    head = acme.ok(acme.get("/healthz"))["head"]
    for headers, status in (({}, 401), ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": "Basic x"}, 401)):
        resp = acme.s.post(acme.base + "/v1/orgs/acme/events", json=GOOD, headers=headers)
        assert resp.status_code == status and resp.json()["field"] == "Authorization"
    from projections import tokens

    services = acme.services.db
    # A read-only token cannot write.
    reader = tokens.create(services, "reader", ["read"])
    resp = acme.s.post(acme.base + "/v1/orgs/acme/events", json=GOOD, headers={"Authorization": f"Bearer {reader}"})
    assert resp.status_code == 403 and resp.json()["field"] == "Authorization"
    writer = tokens.create(services, "writer", ["write"])
    resp = acme.s.post(acme.base + "/v1/orgs/acme/events", json={**GOOD, "effective": "2021"},
                       headers={"Authorization": f"Bearer {writer}"})
    assert resp.status_code == 201
    with services.read() as c:
        stored = c.all("SELECT hash FROM tokens")
    assert all(writer not in r["hash"] and len(r["hash"]) == 64 for r in stored)  # only hashes are kept
    assert acme.ok(acme.get("/healthz"))["head"] == head + 1


BAD_READS = [
    ("/v1/orgs/acme/board", {"as_of": "2023-02-29"}, 422, "as_of"),
    ("/v1/orgs/acme/board", {"as_of": "soon"}, 422, "as_of"),
    ("/v1/orgs/acme/board", {"known_at": "noon"}, 422, "known_at"),
    ("/v1/orgs/acme/board", {"asof": "2023-01-01"}, 422, "asof"),
    ("/v1/orgs/acme/board", {"min_position": "-3"}, 422, "min_position"),
    ("/v1/orgs/acme/board", {"min_position": "999999"}, 422, "min_position"),  # beyond the head: at once
    ("/v1/orgs/nowhere/board", {}, 404, "org"),
    ("/v1/orgs/acme/units/nowhere/members", {}, 404, "unit"),
    ("/v1/orgs/nowhere/units/board/members", {}, 404, "org"),
    ("/v1/orgs/nowhere/roles", {}, 404, "org"),
    ("/v1/orgs/nowhere/units/board/members/someone/why", {}, 404, "org"),
    ("/v1/orgs/acme/roles", {"as_of": "2023-1-1"}, 422, "as_of"),
    ("/v1/orgs/acme/changes", {"from": "2023-01-01"}, 422, "to"),
    ("/v1/orgs/acme/changes", {"from": "2023-05-01", "to": "2023-01-01"}, 422, "to"),
    ("/v1/orgs/acme/events", {"limit": "0"}, 422, "limit"),
    ("/v1/orgs/acme/events", {"after": "x"}, 422, "after"),
    ("/v1/orgs/acme/timeline", {"limit": "100000"}, 422, "limit"),
    ("/v1/people/nobody/history", {}, 404, "person"),
]


@pytest.mark.parametrize("path,params,status,field", BAD_READS, ids=[f"{i}-{b[3]}" for i, b in enumerate(BAD_READS)])
def test_bad_reads(acme, path, params, status, field, monkeypatch):
    if status == 503:  # keep the bounded wait short in tests
        import service.bootstrap as b

        monkeypatch.setattr(b.Services, "wait_for", lambda self, p, timeout=0.2: b.wait_for_position(
            self.projected_position, p, 0.2))
    resp = acme.get(path, **params)
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.json()["field"] == field
