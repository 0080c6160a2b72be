"""Deployments that share one Redis database keep to their own jobs. A worker runs whatever job it
takes against its own store, so before queues were named after their store, one deployment's
worker took the other's catch-ups (and folded its own store instead), and the two deployments'
catch-ups, under one job id, stood in for each other (seen in CI: a run's leftover worker took
the next run's jobs)."""

from __future__ import annotations

import dataclasses
import os

import redis
from rq import Queue

from events.settings import Settings
from workers.catchup import lag
from workers.dispatch import catchup_job_id, enqueue_catch_up, queue_for
from workers.runtime import open_stores
from workers.worker import folding_worker

from ..conftest import stores_for


def _founded(stores) -> None:
    stores.app.register_org("acme", "Acme")
    stores.app.append("acme", [{"type": "unit_formed", "unit": "team", "name": "Team", "kind": "team",
                                "effective": "2000"}])


def test_two_deployments_on_one_redis_database_each_fold_only_their_own(pg_settings, sqlite_settings, redis_url):
    conn = redis.Redis.from_url(redis_url)
    a, b = stores_for(pg_settings), stores_for(sqlite_settings)
    assert queue_for(a) != queue_for(b)
    for stores in (a, b):
        _founded(stores)
        # what each deployment's API does after an append
        assert enqueue_catch_up(conn, queue_for(stores)) == catchup_job_id(queue_for(stores), "history")

    # only A's worker runs: it folds A's store and leaves B's job waiting for B's workers
    folding_worker(a)([Queue(queue_for(a), connection=conn)], connection=conn).work(
        burst=True, with_scheduler=False, logging_level="WARNING")
    head, pos = lag(a)
    assert head == pos > 0
    head, pos = lag(b)
    assert pos < head, "B's store was folded by A's worker"
    assert Queue(queue_for(b), connection=conn).job_ids == [catchup_job_id(queue_for(b), "history")]

    folding_worker(b)([Queue(queue_for(b), connection=conn)], connection=conn).work(
        burst=True, with_scheduler=False, logging_level="WARNING")
    head, pos = lag(b)
    assert head == pos > 0
    assert Queue(queue_for(b), connection=conn).count == 0


def test_one_store_has_one_queue_however_its_address_is_spelled(pg_settings, tmp_path, monkeypatch):
    """The web service and its workers may spell the store differently (``localhost`` or
    ``127.0.0.1``; a relative or an absolute data directory): they must still meet on one queue."""
    first = stores_for(pg_settings)
    other_spelling = dataclasses.replace(pg_settings, database_url=pg_settings.database_url.replace("127.0.0.1", "localhost"))
    assert other_spelling.database_url != pg_settings.database_url
    with open_stores(other_spelling) as second:
        assert queue_for(second) == queue_for(first)

    monkeypatch.chdir(tmp_path)
    relative = Settings(data_dir=tmp_path.joinpath("var").relative_to(tmp_path))
    with open_stores(relative) as one:
        queue = queue_for(one)
    with open_stores(Settings(data_dir=tmp_path / "var")) as two:
        assert queue_for(two) == queue
    with open_stores(Settings(data_dir=tmp_path / "elsewhere")) as three:
        assert queue_for(three) != queue
    assert os.listdir(tmp_path / "var")
