"""What happens after an append: wake the projection up.

- ``RqDispatcher`` (ORGHISTORY_REDIS_URL set): enqueue one deduplicated catch-up job per
  projection on rq. Redis being down never fails an append: the store is the truth, and the
  worker's own ticker catches up by position once it can.
- ``InProcessDispatcher`` (embedded default): run the same job function in this process, right
  away, plus a poller thread for events appended by other processes (``orghistory seed``...).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from events.settings import Settings
from projections.projector import NAME

from .answers import JobArg
from .catchup import catch_up, lag, projected
from .runtime import Stores

log = logging.getLogger("orghistory.dispatch")


def queue_for(stores: Stores) -> str:
    """The rq queue of this store's jobs, named after the store (``projections.identity``): two
    deployments sharing a Redis database each have their own, and a worker, which runs whatever
    it takes against its own store, never takes the other's. Job ids start with it too, since rq
    deduplicates by id across every queue of the database."""
    return f"orghistory-{stores.store_id}"


def redis_for_clients(url: str):
    import redis

    # Set deliberately: short timeouts for request paths, a bounded pool.
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30,
                                max_connections=50)


def catchup_job_id(queue: str, name: str) -> str:
    return f"{queue}-catchup-{name}"


def enqueue_catch_up(conn, queue: str, name: str = NAME) -> str | None:
    """Enqueue the projection's catch-up on ``queue`` unless one is already waiting. Returns the
    job id used."""
    from rq import Queue
    from rq.exceptions import DuplicateJobError

    q = Queue(queue, connection=conn)
    # While one run is in progress a second may wait behind it, so an append made during the
    # first run's final read is never left waiting for the next append.
    for job_id in (catchup_job_id(queue, name), catchup_job_id(queue, name) + "-next"):
        for _ in range(2):
            try:
                q.enqueue("workers.jobs.catch_up_job", name, job_id=job_id, unique=True, result_ttl=0,
                          failure_ttl=7 * 24 * 3600, job_timeout=3600,
                          description=f"catch up projection {name}")
                return job_id
            except DuplicateJobError:
                if not _free_if_abandoned(conn, job_id):
                    break
    return None


def _free_if_abandoned(conn, job_id: str) -> bool:
    """A job id held by a job that will never end (its worker died with it, or it is done and
    vanished meanwhile): delete what is left of it and say the id is free again."""
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(job_id, connection=conn)
        status = job.get_status()
    except Exception:
        return True  # gone between the two calls (result_ttl=0 deletes a finished job at once)
    if status in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        delete_job(job)
        return True
    if status == JobStatus.STARTED and job.worker_name and _worker_gone(conn, job.worker_name):
        # Started by a worker that is gone (its work horse went with it): rq itself would notice
        # only when it next cleans its registries, minutes later. The job is retried from scratch:
        # catch-ups and deliveries resume from their own tracked positions, so nothing is doubled.
        delete_job(job)
        return True
    return False


def delete_job(job) -> None:
    """Delete what is left of ``job``, which its worker may be deleting at the same moment (a
    finished job with result_ttl=0 goes at once): rq's ``delete`` reads the job's status first
    and raises when the hash is gone, which lost the wake-up of the append that found the job."""
    from rq.exceptions import InvalidJobOperation

    try:
        job.delete()
    except InvalidJobOperation:
        job.connection.delete(job.key)  # gone already, or for a heartbeat's stray field


def _worker_gone(conn, name: str) -> bool:
    """rq's worker ``name`` has ended: its record expired, its process on this host is gone, or
    (elsewhere) it has not sent a heartbeat for two minutes."""
    from datetime import datetime, timezone

    from rq.utils import utcparse
    from rq.worker import Worker

    from . import processes

    host, pid, beat = conn.hmget(Worker.redis_worker_namespace_prefix + name, "hostname", "pid", "last_heartbeat")
    if host is None and pid is None:
        return True
    if processes.gone(host.decode() if host else None, pid.decode() if pid else None):
        return True
    if beat is None:
        return False
    return (datetime.now(timezone.utc) - utcparse(beat.decode()).replace(tzinfo=timezone.utc)).total_seconds() > 120


def _enqueue_unique(conn, queue: str, func: str, job_id: str, *args, **kwargs) -> bool:
    """Enqueue unless a job with this id is waiting or running; a finished or failed one with the
    same id is replaced (so a subscription resumed after failing gets a fresh job)."""
    from rq import Queue
    from rq.exceptions import DuplicateJobError

    q = Queue(queue, connection=conn)
    for _ in range(2):
        try:
            q.enqueue(func, *args, job_id=job_id, unique=True, **kwargs)
            return True
        except DuplicateJobError:
            if not _free_if_abandoned(conn, job_id):
                return False
    return False


def enqueue_delivery(conn, queue: str, sub: str) -> bool:
    from rq import Retry

    from .webhooks import backoff

    intervals = backoff()
    return _enqueue_unique(conn, queue, "workers.jobs.deliver_job", f"{queue}-deliver-{sub}", sub,
                           retry=Retry(max=len(intervals), interval=intervals), result_ttl=0, failure_ttl=3600,
                           job_timeout=600, description=f"deliver webhooks of {sub}")


def enqueue_webhooks_dispatch(conn, queue: str) -> bool:
    return _enqueue_unique(conn, queue, "workers.jobs.webhooks_dispatch_job", f"{queue}-webhooks-dispatch",
                           result_ttl=0, failure_ttl=3600, job_timeout=300)


class Dispatcher(Protocol):
    """What follows an append, and who runs operator jobs: in this process, or on rq."""

    mode: str  # "in-process" or "rq", as /healthz reports it

    def after_append(self, position: int | None = None) -> None:
        """Fold ``position`` soon (in process: wait, bounded, until it is folded)."""

    def nudge(self) -> None:
        """A reader waits for a position: make sure a fold is under way."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def start_job(self, kind: str, job_id: str, *args: JobArg) -> None:
        """Run an operator job (``jobs.OPERATOR_JOBS``) whose row ``job_id`` is recorded."""


class InProcessDispatcher:
    mode = "in-process"

    def __init__(self, stores: Stores, poll_seconds: float = 1.0):
        self.stores = stores
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def after_append(self, position: int | None = None) -> None:
        """Wake the folding thread and wait (bounded) until it has folded ``position``, so that on
        the embedded default a writer reads its own writes even without ``min_position``. One
        thread folds: request threads never contend for SQLite's single write lock with it."""
        if self._thread is None:
            catch_up(self.stores)
            return
        self._wake.set()
        if position is not None:
            wait_for_position(lambda: projected(self.stores), position, timeout=5.0)

    def nudge(self) -> None:
        self.after_append()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="orghistory-folder", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)  # also polls, for appends made by other processes
            self._wake.clear()
            try:
                head, pos = lag(self.stores)
                if head > pos:
                    catch_up(self.stores)
            except Exception:  # keep going: a locked database now is fine a moment later
                log.exception("background catch-up failed")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the folding thread and wait for it to finish what it is doing, so that the store
        can be closed after this returns (closing SQLite under a running query can crash)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def start_job(self, kind: str, job_id: str, *args: JobArg) -> None:
        """Run an operator job (rebuild, replay) in a thread of this process, with this process's
        stores; its progress and outcome are in the jobs table, so the caller never waits for it."""
        from .jobs import OPERATOR_JOBS  # the jobs module builds on this one

        _, body = OPERATOR_JOBS[kind]

        def run() -> None:
            try:
                body(self.stores, *args)
            except Exception as e:
                log.exception("job failed", extra={"job": job_id})
                # A job records its own failure once it has begun; one that failed before (a bad
                # argument, a locked database) would otherwise read "queued" for ever.
                from . import joblog

                db = self.stores.db
                job = joblog.get(db, job_id)
                if job is not None and job["state"] in ("queued", "running"):
                    joblog.update(db, job_id, state="failed", error=f"{type(e).__name__}: {e}"[:2000])

        threading.Thread(target=run, name=f"orghistory-job-{job_id[:8]}", daemon=True).start()


class RqDispatcher:
    mode = "rq"

    def __init__(self, settings: Settings, queue: str):
        self.settings = settings
        self.queue = queue
        self.redis = redis_for_clients(settings.required_redis_url())

    def after_append(self, position: int | None = None) -> None:
        # Redis down: the append stands; the workers' ticker catches up within seconds of its return.
        try:
            enqueue_catch_up(self.redis, self.queue)
        except Exception as e:
            log.warning("could not enqueue the catch-up: %s", e)
        try:
            enqueue_webhooks_dispatch(self.redis, self.queue)
        except Exception as e:
            log.warning("could not enqueue webhook deliveries: %s", e)

    nudge = after_append

    def start_job(self, kind: str, job_id: str, *args: JobArg) -> None:
        """Enqueue an operator job under its own id (a worker runs it; rq keeps its outcome)."""
        from rq import Queue

        from .jobs import OPERATOR_JOBS  # the jobs module builds on this one

        func, _ = OPERATOR_JOBS[kind]
        Queue(self.queue, connection=self.redis).enqueue(
            func, *args, job_id=job_id, job_timeout=24 * 3600, result_ttl=7 * 24 * 3600,
            failure_ttl=7 * 24 * 3600, description=f"{func.rsplit('.', 1)[-1]} {args[0]}")

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def dispatcher_for(stores: Stores) -> Dispatcher:
    """rq when Redis is configured, else folding in a thread of this process."""
    return RqDispatcher(stores.settings, queue_for(stores)) if stores.settings.redis_url else InProcessDispatcher(stores)


def wait_for_position(position_of, position: int, timeout: float, nudge=None) -> bool:
    """Poll until the projection reaches ``position`` (read-your-writes); False on timeout."""
    deadline = time.monotonic() + timeout
    nudged = False
    while True:
        if position_of() >= position:
            return True
        if time.monotonic() > deadline:
            return False
        if nudge is not None and not nudged and time.monotonic() > deadline - timeout + 1.0:
            nudged = True
            try:
                nudge()
            except Exception:
                log.exception("nudge failed")
        time.sleep(0.02)
