"""Many workers against one Redis and PostgreSQL: every event is applied exactly once."""

from __future__ import annotations

import json
import subprocess
import time

import redis
from rq import Worker

from workers.catchup import lag
from workers.dispatch import enqueue_catch_up
from workers.runtime import open_store

from .conftest import BIN, service_env, stop


def test_two_orghistory_workers_and_an_rq_pool_apply_each_event_once(pg_settings, redis_url, tmp_path):
    env = {**service_env(pg_settings, redis_url), "ORGHISTORY_LOG_LEVEL": "INFO"}
    logs = []
    procs = []
    for i in range(2):
        logs.append(tmp_path / f"worker{i}.err")
        procs.append(subprocess.Popen([str(BIN / "orghistory"), "worker", "--name", f"w{i}-{time.time_ns()}"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=open(logs[-1], "w")))
    logs.append(tmp_path / "pool.err")
    procs.append(subprocess.Popen([str(BIN / "rq"), "worker-pool", "-n", "2", "--url", redis_url, "orghistory"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=open(logs[-1], "w")))
    try:
        # all four listening before the first append, so that a slow start (a loaded machine) does
        # not leave one of them with nothing to do
        conn = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 60
        while len(Worker.all(connection=conn)) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(Worker.all(connection=conn)) >= 4, [w.name for w in Worker.all(connection=conn)]
        app, _ = open_store(pg_settings)
        app.register_org("acme", "Acme")
        app.append("acme", [{"type": "unit_formed", "unit": "team", "name": "Team", "kind": "team", "effective": "2000"}])
        for batch in range(30):  # appends while the workers run, each followed by a wake-up
            people = [f"p{batch}-{i}" for i in range(10)]
            for p in people:
                app.register_person(p, p)
            app.append("acme", [{"type": "member_joined", "unit": "team", "person": p, "effective": f"20{10 + batch % 10}"}
                                for p in people])
            enqueue_catch_up(conn)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            head, position = lag(pg_settings)
            if position >= head:
                break
            time.sleep(0.2)
        assert position >= head, (head, position)
        events = sum(1 for _ in app.read_all())
        # A runner logs "caught up" just after its last commit: give a loaded machine a moment.
        deadline = time.monotonic() + 20
        while _applied(logs)[0] < events and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop(*procs)
    applied, runners = _applied(logs)
    assert applied == events  # each event applied exactly once, across all the workers
    assert len(runners) >= 2, runners  # and the work really was shared
    out = subprocess.run([str(BIN / "orghistory"), "verify"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _applied(logs) -> tuple[int, set[str]]:
    """Events the runners say they applied, and which runners applied any."""
    applied = 0
    runners = set()
    for path in logs:
        for line in path.read_text().splitlines():
            if line.startswith("{") and '"caught up"' in line:
                applied += json.loads(line)["applied"]
                runners.add(path.name)
    return applied, runners
