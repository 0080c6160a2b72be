"""``orghistory worker``: rq workers for the catch-up (and later webhook) jobs, plus a ticker that
enqueues a catch-up whenever the projection is behind the log, so a lost wake-up (Redis down
during an append) costs seconds, never an event."""

from __future__ import annotations

import logging
import threading

from events.settings import Settings

from .catchup import lag
from .dispatch import QUEUE, enqueue_catch_up, redis_for_clients

log = logging.getLogger("orghistory.worker")


def ticker(settings: Settings, stop: threading.Event, every: float = 2.0) -> None:
    conn = redis_for_clients(settings.redis_url)
    while not stop.wait(every):
        try:
            head, pos = lag(settings)
            if head > pos:
                enqueue_catch_up(conn)
        except Exception as e:
            log.warning("ticker: %s", e)


def run_worker(settings: Settings, burst: bool = False, name: str | None = None) -> None:
    import redis
    from rq import Queue, Worker

    if not settings.redis_url:
        raise SystemExit("orghistory worker needs ORGHISTORY_REDIS_URL")
    # A worker blocks on Redis for its next job: no socket timeout on this connection, or a quiet
    # queue would fail the read after redis-py's default 5 seconds.
    conn = redis.Redis.from_url(settings.redis_url, socket_timeout=None, socket_connect_timeout=5,
                                health_check_interval=30)
    stop = threading.Event()
    if not burst:
        threading.Thread(target=ticker, args=(settings, stop), daemon=True, name="orghistory-ticker").start()
    try:
        worker = Worker([Queue(QUEUE, connection=conn)], connection=conn, name=name)
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        stop.set()
