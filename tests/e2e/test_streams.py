"""The global stream: pages by position with filters, and the live SSE tail with resume."""

from __future__ import annotations

import select
import threading
import time

import requests

from ..conftest import eventually
from ..seedload import post_seed


def read_sse(url, headers=None, stop_after=None, timeout=10.0, into: list | None = None):
    """Collect (id, event, data) from an SSE stream until ``stop_after`` events or the timeout
    (into ``into`` as they arrive, if given, so another thread can see how far it got)."""
    import json

    out = [] if into is None else into
    with requests.get(url, headers=headers or {}, stream=True, timeout=timeout) as resp:
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
        event = {}
        deadline = time.monotonic() + timeout
        for line in resp.iter_lines(decode_unicode=True):
            if line == "":
                if "data" in event:
                    out.append((int(event["id"]), event.get("event"), json.loads(event["data"])))
                    if stop_after and len(out) >= stop_after:
                        return out
                event = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                event[key] = value
            if time.monotonic() > deadline:
                break
    return out


def test_pages_cover_the_log_in_order_with_filters(service):
    client = service
    post_seed(client)
    seen, after = [], 0
    while True:
        page = client.ok(client.get("/v1/streams/all", after=after, limit=17))
        if not page["events"]:
            break
        seen += page["events"]
        after = page["next"]
    positions = [e["position"] for e in seen]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert positions[-1] == page["head"] or page["head"] > positions[-1]
    assert {"org_registered", "person_registered", "member_joined", "leader_ousted"} <= {e["type"] for e in seen}
    only = client.ok(client.get("/v1/streams/all", org="anthropic", type="member_joined,unit_formed", limit=1000))
    assert only["events"] and all(e["org"] == "anthropic" and e["type"] in ("member_joined", "unit_formed")
                                  for e in only["events"])
    bad = client.get("/v1/streams/all", type="coronation")
    assert bad.status_code == 422 and bad.json()["field"].startswith("type")


def test_live_tail_catches_up_then_follows_and_resumes(service):
    client = service
    client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
    first = client.ok(client.post("/v1/orgs/acme/events", {"events": [
        {"type": "noted", "title": f"before {i}", "effective": "2020"} for i in range(3)]}))
    received = []

    def listen():
        read_sse(client.base + "/v1/streams/all/live?org=acme", stop_after=6, timeout=20, into=received)

    t = threading.Thread(target=listen)
    t.start()
    eventually(lambda: len(received) >= 4, 10, "the live tail to send what was appended before it")
    started = time.monotonic()
    later = client.ok(client.post("/v1/orgs/acme/events", {"events": [
        {"type": "noted", "title": f"live {i}", "effective": "2021"} for i in range(2)]}))
    t.join(25)
    assert time.monotonic() - started < 10
    titles = [d.get("title", d.get("name")) for _, _, d in received]
    assert titles == ["Acme", "before 0", "before 1", "before 2", "live 0", "live 1"]
    ids = [i for i, _, _ in received]
    assert ids == sorted(ids) and ids[-1] == later["events"][-1]["position"]
    # Resume: with Last-Event-ID the stream starts right after it, no duplicate, no gap.
    resumed = read_sse(client.base + "/v1/streams/all/live?org=acme",
                       headers={"Last-Event-ID": str(first["events"][-1]["position"])}, stop_after=2, timeout=10)
    assert [d["title"] for _, _, d in resumed] == ["live 0", "live 1"]
    bad = client.s.get(client.base + "/v1/streams/all/live", headers={"Last-Event-ID": "yesterday"}, timeout=5)
    assert bad.status_code == 422 and bad.json()["field"] == "Last-Event-ID"


def test_tail_command_follows_the_stream(inprocess_service, tmp_path):
    import json
    import subprocess

    from ..conftest import BIN, spawn

    client = inprocess_service
    client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
    proc = spawn([str(BIN / "orghistory"), "tail", "--url", client.base, "--org", "acme", "--count", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the first line is the catch-up (the organization's registration): from then on it follows
    assert select.select([proc.stdout], [], [], 20)[0], "the tail command printed nothing within 20s"
    first = proc.stdout.readline()
    client.ok(client.post("/v1/orgs/acme/events", {"events": [
        {"type": "noted", "title": f"n{i}", "effective": "2020"} for i in range(2)]}))
    out, errs = proc.communicate(timeout=20)
    lines = [json.loads(line) for line in [first, *out.splitlines()]]
    assert [e.get("title", e.get("name")) for e in lines] == ["Acme", "n0", "n1"], errs


def test_a_stopped_server_ends_its_live_streams_at_once(pg_settings, redis_url, tmp_path):
    """gunicorn stopped (SIGTERM, as at every deploy) with a live tail open: the stream ends at
    once and the server exits, where it used to run on until gunicorn's graceful timeout (30 s by
    default, 10 s for ``orghistory serve``) was spent. The client then reconnects elsewhere."""
    import os
    import signal

    from ..conftest import production

    procs: list = []
    shape = production(pg_settings, redis_url, tmp_path, procs=procs)
    client = next(shape)
    try:
        client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
        received: list = []
        listener = threading.Thread(target=read_sse, args=(client.base + "/v1/streams/all/live",),
                                    kwargs={"timeout": 60, "into": received}, daemon=True)
        listener.start()
        eventually(lambda: received, 10, "the live tail to send the registration")
        api = procs[0]
        stopped = time.monotonic()
        os.killpg(api.pid, signal.SIGTERM)
        api.wait(20)
        assert time.monotonic() - stopped < 5
        listener.join(5)
        assert not listener.is_alive()  # the stream ended with the server
    finally:
        shape.close()
