"""Faults, each ending with `orghistory verify` passing and every acknowledged append present:
concurrent writers racing for one version (exactly one wins each), and PostgreSQL restarted under
load (clients get 503 with Retry-After, never a half-written batch, and the service recovers by
itself). Redis stopped during appends and a worker killed mid-batch are in test_redis_outage and
test_rebuild."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from ..conftest import BIN, eventually, service_env


def _verify(settings) -> None:
    """`orghistory verify` (the projection equals a fresh fold of the log) and `--chain`."""
    for args in (["verify"], ["verify", "--chain"]):
        out = subprocess.run([str(BIN / "orghistory"), *args], env=service_env(settings, None), capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr


def test_writers_racing_for_a_version_have_exactly_one_winner(service, request):
    client = service
    position = client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))["position"]
    expected = 1
    for round_ in range(4):

        def write(i: int, round_: int = round_, expected: int = expected) -> int:
            return client.post("/v1/orgs/acme/events", {"events": [
                {"type": "noted", "title": f"round {round_} writer {i}", "effective": "2020"}],
                "expected_version": expected}).status_code

        with ThreadPoolExecutor(6) as pool:
            codes = Counter(pool.map(write, range(6)))
        assert codes == {201: 1, 409: 5}, codes
        expected += 1
    log = client.ok(client.get("/v1/orgs/acme/events", limit=1000, min_position=position))["events"]
    assert [int(e["id"].rpartition("@")[2]) for e in log] == list(range(1, 6))  # one fact per version
    client.ok(client.get("/v1/orgs/acme/timeline", min_position=client.ok(client.get("/healthz"))["head"]))
    settings = client.services.settings if hasattr(client, "services") else request.getfixturevalue("pg_settings")
    _verify(settings)


def _restart_postgres() -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
                   check=True, capture_output=True, timeout=120)


def test_postgres_restarted_under_load(production_service, pg_settings):
    if not Path("/etc/postgresql").exists():
        pytest.fail("this test restarts the machine's PostgreSQL cluster (pg_ctlcluster)")
    client = production_service
    client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
    acknowledged: dict[str, list[str]] = {}
    statuses: Counter = Counter()
    retry_after: set[str | None] = set()
    stop = threading.Event()

    def writer(w: int) -> None:
        session = requests.Session()
        n = 0
        while not stop.is_set():
            key = f"w{w}-{n}"
            titles = [f"{key}-{i}" for i in range(5)]
            try:
                resp = session.post(client.base + "/v1/orgs/acme/events", timeout=30,
                                    headers={"Authorization": f"Bearer {client.token}", "Idempotency-Key": key},
                                    json={"events": [{"type": "noted", "title": t, "effective": "2020"}
                                                     for t in titles]})
            except requests.RequestException:
                statuses["no answer"] += 1
                time.sleep(0.2)  # deliberate: a client's pause before it retries
                continue
            statuses[resp.status_code] += 1
            if resp.status_code == 201 or (resp.status_code == 200 and resp.json().get("replayed")):
                acknowledged[key] = titles
                n += 1
            elif resp.status_code == 503:
                retry_after.add(resp.headers.get("Retry-After"))
                time.sleep(0.2)  # then the same batch again, under the same key
            else:
                n += 1  # anything else is a failure of this test, counted in statuses

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    eventually(lambda: len(acknowledged) >= 8, 60, "writes acknowledged before the restart")
    _restart_postgres()
    before_end = len(acknowledged)
    # recovered by itself: acknowledgements continue without anyone restarting anything
    eventually(lambda: len(acknowledged) >= before_end + 8, 60, "writes acknowledged again after the restart")
    stop.set()
    for t in threads:
        t.join(60)
    assert len(acknowledged) > before_end, statuses
    assert set(statuses) <= {200, 201, 503, "no answer"}, statuses  # never a 500
    assert retry_after <= {"1", "2", "5"}, retry_after
    # every acknowledged batch is in the log, whole; no batch is there in part
    head = client.ok(client.get("/healthz"))["head"]
    log = []
    after = 0
    while True:
        page = client.ok(client.get("/v1/orgs/acme/events", after=after, limit=1000))
        log += [e["title"] for e in page["events"] if e["type"] == "noted"]
        if page["next"] == after or not page["events"]:
            break
        after = page["next"]
    batches = Counter(t.rsplit("-", 1)[0] for t in log)
    assert all(count == 5 for count in batches.values()), "a batch stored in part"
    assert set(acknowledged) <= set(batches)
    assert len(log) == len(set(log)), "a batch stored twice"
    client.ok(client.get("/v1/orgs/acme/timeline", min_position=head, limit=10))  # folded, too
    _verify(pg_settings)
