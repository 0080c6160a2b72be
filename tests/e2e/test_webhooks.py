"""Webhooks: signed deliveries in position order, retried with backoff through rq's scheduler,
surviving a receiver that fails and a worker killed mid-delivery."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import subprocess
import threading
import time

import pytest

from ..conftest import ADMIN, BIN, consistently, eventually, free_port, production, service_env, spawn

SECRET = "a-long-enough-webhook-secret"
FAST = {"ORGHISTORY_WEBHOOK_BACKOFF": "1,1,1,1,1", "ORGHISTORY_WEBHOOK_ALLOW": "127.0.0.1,localhost"}


class Receiver:
    """A real local HTTP endpoint that fails its first ``fail_first`` deliveries."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0):
        self.received: list[dict] = []
        self.bad_signatures = 0
        self.calls = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls += 1
                if receiver.calls <= fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                time.sleep(delay)  # deliberate: a slow receiver is what this simulates
                sig = dict(part.split("=", 1) for part in self.headers["Orghistory-Signature"].split(","))
                expected = hmac.new(SECRET.encode(), f"{sig['t']}.".encode() + body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, sig["v1"]):
                    receiver.bad_signatures += 1
                receiver.received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def titles(self):
        return [e.get("title") for e in self.received]

    def close(self):
        self.server.shutdown()


def wait_until(condition, timeout=60.0, what="the deliveries"):
    return eventually(condition, timeout, what, interval=0.2)


@pytest.fixture
def prod(pg_settings, redis_url, tmp_path):
    procs: list = []
    gen = production(pg_settings, redis_url, tmp_path, FAST, procs)
    client = next(gen)
    client.procs = procs
    client.env = {**service_env(pg_settings, redis_url), **FAST}
    yield client
    gen.close()


def _notes(client, titles):
    for t in titles:
        client.ok(client.post("/v1/orgs/acme/events", {"type": "noted", "title": t, "effective": "2020"}))


def test_a_failing_receiver_ends_up_with_every_event_in_order_signed(prod):
    client = prod
    receiver = Receiver(fail_first=3)
    try:
        client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
        sub = client.ok(client.post("/v1/subscriptions", {"url": receiver.url, "secret": SECRET,
                                                          "filter": {"org": "acme", "types": ["noted"]}}))
        assert "secret" not in sub and sub["status"] == "active"
        titles = [f"n{i}" for i in range(6)]
        _notes(client, titles)
        assert wait_until(lambda: receiver.titles() == titles), receiver.titles()
        assert receiver.bad_signatures == 0 and receiver.calls >= 3 + 6
        positions = [e["position"] for e in receiver.received]
        assert positions == sorted(positions)
        listed = client.ok(client.s.get(client.base + f"/v1/subscriptions/{sub['id']}",
                                        headers={"Authorization": f"Bearer {ADMIN}"}))
        assert listed["status"] == "active" and listed["delivered_up_to"] == positions[-1]
        # the stream never shows subscriptions (their secrets)
        page = client.ok(client.get("/v1/streams/all", limit=1000))
        assert not any(e["type"].startswith("subscription") for e in page["events"])
    finally:
        receiver.close()


def test_killing_the_worker_mid_delivery_loses_nothing(prod):
    client = prod
    receiver = Receiver(delay=0.3)  # slow enough to kill the worker in the middle
    try:
        client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
        client.ok(client.post("/v1/subscriptions", {"url": receiver.url, "secret": SECRET,
                                                    "filter": {"org": "acme", "types": ["noted"]}}))
        titles = [f"k{i}" for i in range(12)]
        _notes(client, titles)
        assert wait_until(lambda: len(receiver.received) >= 3, 30)
        worker = client.procs[1]
        worker.kill()  # SIGKILL, mid-delivery
        worker.wait(10)
        client.procs[1] = spawn([str(BIN / "orghistory"), "worker"], env=client.env,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(lambda: set(titles) <= set(receiver.titles()), 120), receiver.titles()
        got = receiver.titles()
        # at least once, in order: an event in flight at the kill may arrive twice, nothing is lost
        assert [t for i, t in enumerate(got) if t not in got[:i]] == titles
        assert receiver.bad_signatures == 0
    finally:
        receiver.close()


def test_a_receiver_that_never_recovers_marks_the_subscription_failing(prod):
    client = prod
    receiver = Receiver(fail_first=10**6)
    auth = {"Authorization": f"Bearer {ADMIN}"}
    try:
        client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
        sub = client.ok(client.post("/v1/subscriptions", {"url": receiver.url, "secret": SECRET}))
        _notes(client, ["doomed"])
        view = lambda: client.ok(client.s.get(client.base + f"/v1/subscriptions/{sub['id']}", headers=auth))
        assert wait_until(lambda: view()["status"] == "failing", 60)
        failures = view()["failures"]
        assert failures and "HTTP 500" in failures[0]["error"]
        assert receiver.calls == 6  # the first try and 5 retries
        paused = client.ok(client.post(f"/v1/subscriptions/{sub['id']}/pause", {}))
        assert paused["status"] == "paused"
        assert client.s.delete(client.base + f"/v1/subscriptions/{sub['id']}", headers=auth).status_code == 204
        assert client.s.get(client.base + f"/v1/subscriptions/{sub['id']}", headers=auth).status_code == 404
    finally:
        receiver.close()


def test_a_receiver_that_is_not_there_marks_the_subscription_failing_too(prod):
    """Not only an HTTP error: any error of a delivery (here the connection refused) counts as a
    failed attempt, and after the last one the subscription says failing, with the error."""
    client = prod
    auth = {"Authorization": f"Bearer {ADMIN}"}
    client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
    sub = client.ok(client.post("/v1/subscriptions", {"url": f"http://127.0.0.1:{free_port()}/nobody",
                                                      "secret": SECRET}))
    _notes(client, ["into the void"])
    view = lambda: client.ok(client.s.get(client.base + f"/v1/subscriptions/{sub['id']}", headers=auth))
    assert wait_until(lambda: view()["status"] == "failing", 60), view()
    assert "Connection refused" in view()["failures"][0]["error"] or "refused" in view()["last_error"]


def test_subscription_input_is_checked(prod, monkeypatch):
    client = prod
    cases = [({"url": "ftp://x.example", "secret": SECRET}, "url"),
             ({"url": "http://example.org/h", "secret": "short"}, "secret"),
             ({"url": "http://example.org/h", "secret": SECRET, "filter": {"types": ["coronation"]}}, "filter.types"),
             ({"url": "http://example.org/h", "secret": SECRET, "filter": {"colour": 1}}, "filter.colour"),
             ({"url": "http://10.1.2.3/h", "secret": SECRET}, "url"),  # private, not allowed
             ({"secret": SECRET}, "url")]
    for body, field in cases:
        resp = client.post("/v1/subscriptions", body)
        assert resp.status_code == 422 and resp.json()["field"] == field, (body, resp.text)
    assert client.post("/v1/subscriptions/nope/pause", {}).status_code == 404


def test_redeliver_from_a_position_and_resume_after_failing(prod):
    client = prod
    receiver = Receiver()
    try:
        client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
        sub = client.ok(client.post("/v1/subscriptions", {"url": receiver.url, "secret": SECRET,
                                                          "filter": {"types": ["noted"]}}))
        _notes(client, ["r0", "r1", "r2"])
        assert wait_until(lambda: receiver.titles() == ["r0", "r1", "r2"])
        second = receiver.received[1]["position"]
        again = client.ok(client.post(f"/v1/subscriptions/{sub['id']}/redeliver", {"from_position": second}))
        assert again["status"] == "active"
        assert wait_until(lambda: receiver.titles() == ["r0", "r1", "r2", "r1", "r2"]), receiver.titles()
        paused = client.ok(client.post(f"/v1/subscriptions/{sub['id']}/pause", {}))
        assert paused["status"] == "paused"
        _notes(client, ["while paused"])
        consistently(lambda: receiver.titles()[-1] == "r2", 3, "nothing delivered while paused")
        client.ok(client.post(f"/v1/subscriptions/{sub['id']}/resume", {}))
        assert wait_until(lambda: receiver.titles()[-1:] == ["while paused"]), receiver.titles()
        # a resume continues where delivery stopped: no second redelivery
        consistently(lambda: receiver.titles() == ["r0", "r1", "r2", "r1", "r2", "while paused"], 2,
                     "no second redelivery after the resume")
        bad = client.post(f"/v1/subscriptions/{sub['id']}/redeliver", {"from_position": 0})
        assert bad.status_code == 422 and bad.json()["field"] == "from_position"
    finally:
        receiver.close()
