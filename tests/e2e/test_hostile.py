"""Hostile input, as an outside probe sent it (issue 11): each request gets a 4xx problem+json
naming the field, and the log is unchanged. Text is held in one form (NFC, no NUL, no lone
surrogates), numbers are ASCII digits within 64 bits, dates are within what UTC can say, bodies are
bounded in size and nesting, and the token is checked before the body is read."""

from __future__ import annotations

import json

import pytest

from ..conftest import ADMIN, GOOD

DEEP = "[" * 5000 + "]" * 5000


def _post_raw(c, path, data: bytes, headers=None, auth=True):
    h = {"Content-Type": "application/json", **(headers or {})}
    if auth:
        h["Authorization"] = f"Bearer {ADMIN}"
    return c.s.post(c.base + path, data=data, headers=h, timeout=30)


HOSTILE_WRITES = [
    # (path, raw JSON text, headers, status, field)
    ("/v1/orgs", json.dumps({"slug": "acme2\n", "name": "X"}), {}, 422, "slug"),
    ("/v1/orgs/acme/events", json.dumps({**GOOD, "person": "alice\n"}), {}, 422, "person"),
    ("/v1/orgs", '{"slug": "bad", "name": "a\\ud800b"}', {}, 422, "name"),  # a lone surrogate
    ("/v1/orgs", json.dumps({"slug": "nul", "name": "a\u0000b"}), {}, 422, "name"),
    ("/v1/orgs", json.dumps({"slug": "lst", "name": ["a", "b"]}), {}, 422, "name"),
    ("/v1/orgs", json.dumps({"slug": "obj", "name": {"a": 1}}), {}, 422, "name"),
    ("/v1/orgs/acme/events", json.dumps({**GOOD, "note": "a\u0000b"}), {}, 422, "note"),
    ("/v1/orgs/acme/events", '{"type": "noted", "title": "x\\udfff", "effective": "2020"}', {}, 422, "title"),
    ("/v1/orgs/acme/events", json.dumps({**GOOD, "role": ["director"]}), {}, 422, "role"),
    ("/v1/orgs/acme/events", json.dumps({"type": {}, "expected_version": None}), {}, 422, "type"),  # found by schemathesis
    ("/v1/orgs/acme/events", json.dumps({"events": [{"type": ["noted"]}]}), {}, 422, "events[0].type"),
    ("/v1/orgs/acme/events", json.dumps({"type": "retracted", "target": "acme@\u00b2", "reason": "x"}), {}, 422,
     "target"),  # a superscript two: str.isdigit says yes, int says no
    ("/v1/orgs/acme/events", json.dumps({"type": "retracted", "target": "acme@\u0663", "reason": "x"}), {}, 422,
     "target"),  # an Arabic-Indic three
    ("/v1/orgs/acme/events", json.dumps({"type": "retracted", "target": "acme@1_0", "reason": "x"}), {}, 422,
     "target"),
    ("/v1/orgs/acme/events", json.dumps({"type": "retracted", "target": "acme@" + "9" * 25, "reason": "x"}), {},
     422, "target"),
    ("/v1/orgs/acme/events", json.dumps({"events": [GOOD], "expected_version": 2**70}), {}, 422,
     "expected_version"),
    ("/v1/orgs/acme/events", json.dumps({"events": [GOOD], "expected_version": 2.5}), {}, 422, "expected_version"),
    ("/v1/orgs/acme/events", json.dumps(GOOD), {"If-Match": '"\u00b9"'}, 422, "If-Match"),
    ("/v1/orgs/acme/events", json.dumps(GOOD), {"If-Match": '"\u0661"'.encode()}, 422, "If-Match"),
    ("/v1/orgs/acme/events", json.dumps(GOOD), {"If-Match": '"1_0"'}, 422, "If-Match"),
    ("/v1/orgs/acme/events", json.dumps({**GOOD, "effective": "\u0662\u0660\u0662\u0660"}), {}, 422, "effective"),
    ("/v1/orgs/acme/events", json.dumps({**GOOD, "effective": "2020\n"}), {}, 201, None),  # surrounding space is trimmed
    ("/v1/orgs/acme/events", json.dumps({**GOOD, "sources": [{"title": "t"}] * 101}), {}, 422, "sources"),
    ("/v1/orgs/acme/events", json.dumps({**GOOD, "sources": [{"url": "https://x.example/\nHost: evil"}]}), {}, 422,
     "sources[0].url"),
    ("/v1/orgs/acme/events", json.dumps({**GOOD, "note": "x" * 10_001}), {}, 422, "note"),
    ("/v1/orgs/acme/events", DEEP, {}, 422, "body"),
    ("/v1/orgs/acme/events", '{"events": ' + "[" * 100 + "]" * 100 + "}", {}, 422, "events" + "[0]" * 31),  # the first place deeper than 32 levels
    ("/v1/orgs/acme/events", '{"type": "noted"', {}, 400, "body"),
    ("/v1/orgs/acme/popolo", DEEP, {}, 422, "body"),
    ("/v1/orgs", "[" * 5000 + "]" * 5000, {}, 422, "body"),  # through flask-smorest's own parser
    ("/v1/orgs/acme/events", json.dumps(GOOD), {"Idempotency-Key": "k\u00e9y"}, 422, "Idempotency-Key"),
    ("/v1/orgs/acme/events", json.dumps({"type": "corrected", "target": "acme@3", "changes": {"note": "\u0000"}}), {},
     422, "changes.note"),
]


INJECTIONS = ["'; DROP TABLE stored_events; --", "1' OR '1'='1", "acme'); DELETE FROM facts_v1; --",
              "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{7*7}}", "${jndi:ldap://x}",
              "../../etc/passwd", "%00", "\u202eevil"]
HOSTILE_WRITES += [("/v1/orgs", json.dumps({"slug": bad, "name": "X"}), {}, 422, "slug") for bad in INJECTIONS]
HOSTILE_WRITES += [("/v1/orgs/acme/events", json.dumps({**GOOD, "person": bad}), {}, 422, "person") for bad in INJECTIONS]
HOSTILE_WRITES += [
    ("/v1/orgs/acme/events", json.dumps({"type": "retracted", "target": INJECTIONS[0], "reason": "x"}), {}, 422,
     "target"),
    # duplicate keys: JSON parsers keep the last one; the fact is then checked as any other
    ("/v1/orgs/acme/events", '{"type": "noted", "title": "t", "effective": "2020", "type": "coronation"}', {}, 422,
     "type"),
    ("/v1/orgs/acme/events", '{"type": "noted", "title": "t", "effective": "2020", "effective": "2020-13"}', {}, 422,
     "effective"),
    ("/v1/orgs/acme/events", '{"type": "noted", "title": "t", "effective": "20', {}, 400, "body"),  # truncated
    ("/v1/orgs/acme/events", '', {}, 400, "body"),
    ("/v1/orgs/acme/events", json.dumps(GOOD), {"Content-Type": "text/plain"}, 415, "Content-Type"),
    ("/v1/orgs/acme/events", json.dumps(GOOD), {"Content-Type": "application/x-www-form-urlencoded"}, 415,
     "Content-Type"),
    ("/v1/orgs", json.dumps({"slug": "ct", "name": "X"}), {"Content-Type": "text/plain"}, 415, "Content-Type"),
    ("/v1/orgs/acme/popolo", json.dumps({"persons": []}), {"Content-Type": "text/csv"}, 415, "Content-Type"),
]


def _run_corpus(c, cases) -> list[str]:
    """Send each case; every refusal must be problem+json naming the field, and change nothing."""
    failures = []
    for path, raw, headers, status, field in cases:
        head = c.ok(c.get("/healthz"))["head"]
        resp = _post_raw(c, path, raw.encode("utf-8", "surrogatepass"), headers)
        where = f"{path} {raw[:60]!r} {headers}"
        if resp.status_code != status:
            failures.append(f"{where}: {resp.status_code} {resp.text[:200]}")
            continue
        if status >= 400:
            if resp.headers["Content-Type"] != "application/problem+json" or resp.json().get("field") != field:
                failures.append(f"{where}: {resp.headers['Content-Type']} {resp.text[:200]}")
            elif c.ok(c.get("/healthz"))["head"] != head:
                failures.append(f"{where}: the log changed")
    return failures


def test_hostile_writes_on_both_stores(service):
    """The whole corpus, on the embedded default and on the production shape (PostgreSQL)."""
    c = service
    c.ok(c.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
    c.ok(c.post("/v1/people", {"slug": "alice", "name": "Alice"}))
    unit = c.ok(c.post("/v1/orgs/acme/units", {"slug": "board", "name": "Board", "kind": "board", "effective": "2010"}))
    c.ok(c.post("/v1/orgs/acme/events", GOOD))
    c.ok(c.get("/v1/orgs/acme/board", min_position=unit["events"][0]["position"]))
    failures = _run_corpus(c, HOSTILE_WRITES)
    assert not failures, "\n".join(failures)


def test_the_token_is_checked_before_the_body(acme):
    """Every route that takes a body answers 401 to a request without a token, whatever the body."""
    for path in ("/v1/orgs", "/v1/people", "/v1/orgs/acme/units", "/v1/orgs/acme/events", "/v1/orgs/acme/popolo",
                 "/v1/orgs/acme/ftm", "/v1/subscriptions", "/v1/ops/projections/history/replays",
                 "/v1/people/alice/merge", "/v1/people/alice/merge/retract", "/v1/subscriptions/x/redeliver"):
        for body in (DEEP, '{"broken', json.dumps({"slug": 1})):
            resp = _post_raw(acme, path, body.encode(), auth=False)
            assert resp.status_code == 401, (path, body[:10], resp.status_code, resp.text[:200])


def test_bodies_over_the_limit_are_refused_unread(acme):
    head = acme.ok(acme.get("/healthz"))["head"]
    big = json.dumps({**GOOD, "note": "x" * 6_000_000})
    resp = _post_raw(acme, "/v1/orgs/acme/events", big.encode())
    assert resp.status_code == 413 and resp.headers["Content-Type"] == "application/problem+json"
    assert acme.ok(acme.get("/healthz"))["head"] == head


HOSTILE_READS = [
    ("/v1/orgs/acme/board", {"known_at": "9999-12-31T23:00:00-05:00"}, {}, "known_at"),
    ("/v1/orgs/acme/board", {"as_of": "\u0662\u0660\u0662\u0664-\u0660\u0661-\u0660\u0661"}, {}, "as_of"),
    ("/v1/orgs/acme/board", {"as_of": "20240101"}, {}, "as_of"),
    ("/v1/orgs/acme/board", {"min_position": "1_0"}, {}, "min_position"),
    ("/v1/orgs/acme/board", {"min_position": str(2**70)}, {}, "min_position"),
    ("/v1/orgs/acme/board", {"version": "9" * 30}, {}, "version"),
    ("/v1/orgs/acme/events", {"after": "\u00b9"}, {}, "after"),
    ("/v1/streams/all", {"after": "1_0"}, {}, "after"),
    ("/v1/streams/all", {"org": "acme\n"}, {}, "org"),
    ("/v1/orgs/acme/timeline", {"from": "2024-05-01", "to": "2024-01-01"}, {}, "to"),
    ("/v1/streams/all/live", {}, {"Last-Event-ID": "\u00b2"}, "Last-Event-ID"),
    ("/v1/streams/all/live", {}, {"Last-Event-ID": "1_0"}, "Last-Event-ID"),
    ("/v1/streams/all/live", {}, {"Last-Event-ID": "9" * 25}, "Last-Event-ID"),
]


@pytest.mark.parametrize("path,params,headers,field", HOSTILE_READS, ids=[f"{i}-{r[3]}" for i, r in enumerate(HOSTILE_READS)])
def test_hostile_reads(acme, path, params, headers, field):
    resp = acme.s.get(acme.base + path, params=params, headers=headers, timeout=30)
    assert resp.status_code == 422, resp.text
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.json()["field"] == field


def test_security_headers(acme):
    api = acme.get("/v1/orgs")
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert api.headers["Cache-Control"] == "no-store"
    assert api.headers["Referrer-Policy"] == "no-referrer"
    page = acme.s.get(acme.base + "/")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in page.text  # the page's script is a file, so CSP can forbid inline ones


def test_postgresql_refuses_what_sqlite_refuses(production_service):
    """PostgreSQL text cannot hold NUL and its positions are 64-bit: such input used to pass the
    API and park the event its projection could not store. Refused at the edge, on both stores."""
    c = production_service
    c.ok(c.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
    head = c.ok(c.get("/healthz"))["head"]
    for raw, field in ((json.dumps({"slug": "nul", "name": "a\u0000b"}), "name"),
                       ('{"slug": "sur", "name": "a\\ud800b"}', "name")):
        resp = _post_raw(c, "/v1/orgs", raw.encode("utf-8", "surrogatepass"))
        assert resp.status_code == 422 and resp.json()["field"] == field, resp.text
    for raw, field in ((json.dumps({"type": "noted", "title": "a\u0000b", "effective": "2020"}), "title"),
                       (json.dumps({"events": [{"type": "noted", "title": "x", "effective": "2020"}],
                                    "expected_version": 2**64}), "expected_version")):
        resp = _post_raw(c, "/v1/orgs/acme/events", raw.encode())
        assert resp.status_code == 422 and resp.json()["field"] == field, resp.text
    resp = c.get("/v1/orgs/acme/board", min_position=str(2**64))
    assert resp.status_code == 422 and resp.json()["field"] == "min_position"
    assert c.ok(c.get("/healthz"))["head"] == head
    parked = c.ok(c.get("/v1/ops/parked"))["parked"]
    assert parked == []
