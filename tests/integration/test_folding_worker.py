"""``orghistory worker`` runs the catch-up in its own process with stores it opened once, and every
other job in a work horse forked for it (bench/load.py: a forked catch-up paid 0.3-0.5 s of fork,
imports and cold stores on every wake-up, most of what the fold could do under steady appends)."""

from __future__ import annotations

import os

import redis
from rq import Queue

from workers.catchup import lag
from workers.dispatch import enqueue_catch_up, queue_for
from workers.runtime import open_stores
from workers.worker import folding_worker

from ..conftest import stores_for


def test_the_catch_up_runs_in_the_workers_process_and_other_jobs_in_a_horse(pg_settings, redis_url, monkeypatch):
    for key, value in {"ORGHISTORY_DATABASE_URL": pg_settings.database_url,
                       "ORGHISTORY_DATABASE_SCHEMA": pg_settings.database_schema,
                       "ORGHISTORY_REDIS_URL": redis_url}.items():
        monkeypatch.setenv(key, value)  # what a forked job reads to open its own stores
    conn = redis.Redis.from_url(redis_url)
    app = stores_for(pg_settings).app
    app.register_org("acme", "Acme")
    app.append("acme", [{"type": "unit_formed", "unit": "team", "name": "Team", "kind": "team", "effective": "2000"}])
    forks: list[int] = []
    os.register_at_fork(before=lambda: forks.append(os.getpid()))
    with open_stores(pg_settings) as stores:
        queue = queue_for(stores)
        worker = folding_worker(stores)([Queue(queue, connection=conn)], connection=conn)
        enqueue_catch_up(conn, queue)
        worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
        assert forks == [], "the catch-up forked a work horse"
        head, pos = lag(stores)
        assert head == pos > 0, "the catch-up ran and folded everything"

        # the worker's stores stay open for the next one
        app.register_person("ada", "Ada")
        app.append("acme", [{"type": "member_joined", "person": "ada", "unit": "team", "effective": "2001"}])
        enqueue_catch_up(conn, queue)
        worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
        assert forks == []
        head, pos = lag(stores)
        assert head == pos

        # any other job still runs in a horse of its own
        job = Queue(queue, connection=conn).enqueue("os.getpid")
        worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
        assert forks == [os.getpid()]
        assert job.return_value() not in (None, os.getpid())


def test_a_finished_job_deleted_by_its_worker_meanwhile_still_frees_its_id(sqlite_settings, redis_url):
    """A finished catch-up (result_ttl=0) is deleted by its worker at the moment an append finds it
    and deletes it too: rq's delete then raised ("Failed to retrieve status"), the append's
    enqueue failed and the fold waited for the ticker (bench/load.py: lag p99 of 5 and 54 s)."""
    from rq.job import Job

    from workers.dispatch import catchup_job_id, delete_job

    conn = redis.Redis.from_url(redis_url)
    queue = queue_for(stores_for(sqlite_settings))
    job = Queue(queue, connection=conn).enqueue("os.getpid", job_id=catchup_job_id(queue, "race"))
    found = Job.fetch(job.id, connection=conn)  # the append found it
    conn.delete(job.key)  # and its worker deleted it, finished, in between
    delete_job(found)
    assert not conn.exists(job.key)
    assert enqueue_catch_up(conn, queue, "race") == catchup_job_id(queue, "race")


def test_a_stopping_worker_ends_its_pubsub_thread_without_waiting_for_its_sleep(sqlite_settings, redis_url):
    """rq unsubscribes its command channel, then stops the thread that listens on it; redis-py 8's
    stop waits for that thread, which, having read the unsubscribe first, sleeps up to rq's 60 s
    for a subscription that will not come. Then an idle worker sent SIGTERM took over 30 s to exit
    (bench/load.py, 3 runs in 8; more likely past 30 s idle, when a health check's PING widens
    the window). Here the thread is made to read the unsubscribe before the worker stops it."""
    import time

    from ..conftest import eventually

    conn = redis.Redis.from_url(redis_url)
    stores = stores_for(sqlite_settings)
    worker = folding_worker(stores)([Queue(queue_for(stores), connection=conn)], connection=conn)
    worker.subscribe()
    worker.pubsub.unsubscribe()
    eventually(lambda: not worker.pubsub.subscribed, 5, "the pubsub thread to read the unsubscribe")
    started = time.monotonic()
    worker.unsubscribe()
    assert time.monotonic() - started < 5
