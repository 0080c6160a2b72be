"""Processes end with what started them: a worker killed with SIGKILL leaves nothing of itself
running: not rq's scheduler (a forked process that outlived it, polling Redis and the database for
ever, on the Redis database the next test run uses), not the work horse of the job it was running
(which went on answering to nobody)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import redis

from ..conftest import BIN, service_env, spawn


def session_members(sid: int) -> list[int]:
    """Live processes of a session (zombies have ended; only their exit status waits)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def test_a_killed_worker_leaves_nothing_running(pg_settings, redis_url):
    env = service_env(pg_settings, redis_url)
    worker = spawn([str(BIN / "orghistory"), "worker", "--name", "doomed"], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    r = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 30
        while not r.exists("rq:worker:doomed") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert r.exists("rq:worker:doomed"), "the worker never started"
        # a long job, run in a work horse rq forks for it
        from rq import Queue

        Queue("orghistory", connection=r).enqueue("time.sleep", 120, job_id="long-job")
        deadline = time.monotonic() + 30
        while len(session_members(worker.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(session_members(worker.pid)) >= 2, "no work horse started"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        deadline = time.monotonic() + 10
        while session_members(worker.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert session_members(worker.pid) == [], "something the worker started outlived it"
    finally:
        worker.kill()
