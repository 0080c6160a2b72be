"""Processes end with what started them: a worker killed with SIGKILL leaves nothing of itself
running: not rq's scheduler (a forked process that outlived it, polling Redis and the database for
ever, on the Redis database the next test run uses), not the work horse of the job it was running
(which went on answering to nobody)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import redis

from ..conftest import BIN, eventually, service_env, spawn, stores_for


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
        eventually(lambda: r.exists("rq:worker:doomed"), 30, "the worker to register with rq")
        # a long job, run in a work horse rq forks for it
        from rq import Queue

        from workers.dispatch import queue_for

        Queue(queue_for(stores_for(pg_settings)), connection=r).enqueue("time.sleep", 120, job_id="long-job")
        eventually(lambda: len(session_members(worker.pid)) >= 2, 30, "a work horse to start for the long job")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        eventually(lambda: session_members(worker.pid) == [], 10,
                   "everything the killed worker started to end with it")
    finally:
        worker.kill()
