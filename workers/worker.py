"""``orghistory worker``: rq workers for the catch-up (and later webhook) jobs, plus a ticker that
enqueues a catch-up whenever the projection is behind the log, so a lost wake-up (Redis down
during an append) costs seconds, never an event.

The catch-up runs in the worker's own process, with stores opened once (``FoldingWorker``); every
other job runs, as rq does by default, in a work horse forked for it. A forked catch-up paid for
its fork, its imports and a cold store (0.3-0.5 s) on every wake-up: under a steady stream of
appends that was most of what the fold could do (bench/load.py)."""

from __future__ import annotations

import inspect
import itertools
import logging
import os
import threading
import time

from redis.client import PubSubWorkerThread

from events.settings import Settings

from .catchup import lag, transient
from .dispatch import dispatcher_for, enqueue_catch_up, enqueue_delivery, queue_for, redis_for_clients
from .jobs import rebuild_if_stale
from .processes import end_with_parent
from .runtime import Stores, open_stores, worker_stores
from .webhooks import pending

log = logging.getLogger("orghistory.worker")
# redis-py 8's PubSubWorkerThread.stop waits for the thread, up to ``timeout`` (see ``unsubscribe``).
_STOP_TAKES_TIMEOUT = "timeout" in inspect.signature(PubSubWorkerThread.stop).parameters


def scheduler(conn, queue: str, stop: threading.Event, interval: int = 1) -> None:
    """rq's scheduler (it enqueues the retries that rq schedules with their backoff), run in a
    thread of this worker instead of the process rq forks for it: a process outlived a worker
    killed with SIGKILL and went on polling Redis for ever; a thread ends with the worker, however
    it ends. Its lock in Redis expires a minute later and another worker's scheduler takes over."""
    from rq.scheduler import RQScheduler

    # a whole number of seconds: rq sets its keys' TTLs from it, and Redis takes integers only
    sched = RQScheduler([queue], connection=conn, interval=interval, logging_level="WARNING")
    try:
        while not stop.wait(interval):
            try:
                sched.register_birth()  # idempotent; again after Redis was away and lost it
                if sched.should_reacquire_locks:
                    sched.acquire_locks()
                sched.heartbeat()
                sched.enqueue_scheduled_jobs()
            except Exception as e:  # Redis down: the worker's own loop reconnects; try again later
                log.warning("scheduler: %s", e)
    finally:
        try:
            sched.stop()  # releases its locks at once, so a restarted worker need not wait
        except Exception:
            pass


def ticker(stores: Stores, stop: threading.Event, every: float = 2.0) -> None:
    """``stores``: the worker's, shared with its in-process jobs (their pools are thread-safe; a
    second set of stores held 8 more PostgreSQL connections per worker for a query every 2 s)."""
    conn = redis_for_clients(stores.settings.required_redis_url())
    queue = queue_for(stores)
    while not stop.wait(every):
        try:
            head, pos = lag(stores)
            if head > pos:
                enqueue_catch_up(conn, queue)
            for sub in pending(stores):  # deliveries lost to a crash or a Redis outage resume here
                enqueue_delivery(conn, queue, sub)
        except Exception as e:
            log.warning("ticker: %s", e)


# Jobs run in the worker's process with its stores: the catch-up, short and frequent. Everything
# else (deliveries, rebuilds, anything enqueued by hand) runs in a forked work horse, so a job that
# dies or leaks takes only its horse with it.
IN_PROCESS_JOBS = frozenset({"workers.jobs.catch_up_job"})


def folding_worker(stores: Stores) -> type:
    """rq's forking ``Worker``, except that the jobs in ``IN_PROCESS_JOBS`` run in this process
    (as rq's ``SimpleWorker`` runs every job) with ``stores``, opened once for the worker's life."""
    from rq import Worker
    from rq.worker import WorkerStatus

    class FoldingWorker(Worker):
        def execute_job(self, job, queue):
            if job.func_name not in IN_PROCESS_JOBS:
                return super().execute_job(job, queue)
            self.prepare_execution(job)
            # rq's forking worker keeps the heartbeats going while its horse works; here the work
            # is in this thread, so a thread does it (a long catch-up must not look abandoned).
            done = threading.Event()
            pulse = threading.Thread(target=self._pulse, args=(job, done), daemon=True, name="orghistory-pulse")
            pulse.start()
            try:
                with worker_stores(stores):
                    self.perform_job(job, queue)
            finally:
                done.set()
                pulse.join()
            self.set_state(WorkerStatus.IDLE)

        def unsubscribe(self) -> None:
            """rq's, with the wait for its pubsub thread bounded. rq unsubscribes, then stops the
            thread; if the thread read the unsubscribe first it sleeps up to rq's 60 s awaiting a
            subscription, and redis-py 8's stop() waits for it: a worker sent SIGTERM took that
            long to exit. Stopped, the thread ends when it wakes; it is a daemon, so it never
            holds up the process's exit."""
            thread = self.pubsub_thread
            if not thread:
                return
            self.pubsub.unsubscribe()
            if _STOP_TAKES_TIMEOUT:
                thread.stop(timeout=1)
            else:
                thread.stop()  # redis-py before 8 does not wait for the thread
            self.pubsub.close()

        def _pulse(self, job, done: threading.Event) -> None:
            while not done.wait(self.job_monitoring_interval):
                try:
                    self.maintain_heartbeats(job)
                except Exception as e:  # Redis away: the job goes on; rq's own checks decide later
                    log.warning("heartbeat: %s", e)

    return FoldingWorker


def open_stores_when_reachable(settings: Settings, who: str = "worker") -> Stores:
    """The stores, once the database answers: a process started before its database (a machine
    booting, a failover, a restart) waits for it, as a worker waits for Redis, instead of
    exiting. ``who`` names the process in the warning it logs while it waits."""
    wait = 1.0
    while True:
        try:
            return open_stores(settings)
        except Exception as e:
            if not transient(e):
                raise
            log.warning("%s cannot reach its database (%s); trying again in %.0f s", who, e, wait)
            time.sleep(wait)
            wait = min(wait * 2, 30.0)


def run_worker(settings: Settings, burst: bool = False, name: str | None = None) -> None:
    import redis
    from rq import Queue

    if not settings.redis_url:
        raise SystemExit("orghistory worker needs ORGHISTORY_REDIS_URL")
    # A worker blocks on Redis for its next job: no socket timeout on this connection, or a quiet
    # queue would fail the read after redis-py's default 5 seconds.
    conn = redis.Redis.from_url(settings.redis_url, socket_timeout=None, socket_connect_timeout=5,
                                health_check_interval=30)
    me = os.getpid()
    os.register_at_fork(after_in_child=lambda: end_with_parent(me))
    stop = threading.Event()
    # the worker's, for its whole life: its in-process jobs and the ticker (opening them creates the
    # tables); then, after an upgrade, a rebuild if the live version was folded by older code
    stores = open_stores_when_reachable(settings)
    rebuild_if_stale(stores, dispatcher_for(stores))
    if not burst:
        threading.Thread(target=ticker, args=(stores, stop), daemon=True, name="orghistory-ticker").start()
        threading.Thread(target=scheduler, args=(conn, queue_for(stores), stop), daemon=True, name="orghistory-scheduler").start()
    wait = 1.0
    worker_class = folding_worker(stores)
    try:
        for attempt in itertools.count():
            try:
                # A fresh rq Worker after each failure: rq quits when Redis drops in the middle of
                # a heartbeat. Keep serving once Redis is back rather than leave the queue unworked.
                worker = worker_class([Queue(queue_for(stores), connection=conn)], connection=conn,
                                name=None if name is None else (name if attempt == 0 else f"{name}-{attempt}"))
                worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
                return  # a requested shutdown (or the end of a burst)
            except redis.exceptions.ConnectionError as e:
                if burst:
                    raise
                log.warning("worker lost Redis (%s); starting again in %.0f s", e, wait)
                time.sleep(wait)
                wait = min(wait * 2, 30.0)
    finally:
        stop.set()
        stores.close()
