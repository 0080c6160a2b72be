"""rq job functions: the composition root of a job. A job run in a forked work horse opens its own
``Stores`` (nothing built before the fork may be used in it) and closes them when it ends; one
that ``orghistory worker`` runs in its own process (the catch-up) takes the worker's, kept open
between jobs. The work itself takes the stores it is given, so the in-process dispatcher runs the
same bodies with the service's own stores."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable, TypeVar

from events.settings import Settings
from projections import versions
from projections.projector import NAME

from . import joblog
from .answers import ReportJSON
from .catchup import catch_up
from .dispatch import Dispatcher
from .logs import configure_logging  # jobs may also run under plain `rq worker` or `rq worker-pool`
from .rebuild import rebuild, replay
from .runtime import Stores, current_worker_stores, open_stores
from .webhooks import deliver, pending

T = TypeVar("T")


def _run(body: Callable[[Stores], T]) -> T:
    warm = current_worker_stores()
    if warm is not None:  # run by ``orghistory worker`` in its own process: its stores, kept open
        return body(warm)
    configure_logging()
    with open_stores(Settings.from_env()) as stores:
        return body(stores)


def catch_up_job(name: str = "history") -> int:
    return _run(lambda stores: catch_up(stores, name))


def deliver_job(sub: str) -> int:
    from rq import get_current_job

    job = get_current_job()
    last = job is None or not job.retries_left  # rq counts down the retries it has left
    return _run(lambda stores: deliver(stores, sub, last_attempt=last))


def webhooks_dispatch_job() -> int:
    """Enqueue a delivery for every subscription that has events waiting."""
    from .dispatch import enqueue_delivery, queue_for, redis_for_clients

    def body(stores: Stores) -> int:
        conn = redis_for_clients(stores.settings.required_redis_url())
        subs = pending(stores)
        for sub in subs:
            enqueue_delivery(conn, queue_for(stores), sub)
        return len(subs)

    return _run(body)


# Operator jobs: their bodies (run by either dispatcher) and the rq entry points that open stores.

def run_rebuild(stores: Stores, name: str, job_id: str) -> ReportJSON:
    """A blue/green rebuild (see ``workers.rebuild``); progress goes to the jobs table."""
    return rebuild(stores, name, job_id=job_id).as_json()


def run_replay(stores: Stores, name: str, job_id: str, until_position: int | None,
               until_recorded: str | None) -> ReportJSON:
    until = datetime.fromisoformat(until_recorded) if until_recorded else None
    return replay(stores, name, until_position, until, job_id=job_id).as_json()


def rebuild_job(name: str, job_id: str) -> ReportJSON:
    return _run(lambda stores: run_rebuild(stores, name, job_id))


def replay_job(name: str, job_id: str, until_position: int | None, until_recorded: str | None) -> ReportJSON:
    return _run(lambda stores: run_replay(stores, name, job_id, until_position, until_recorded))


# kind -> (the rq entry point, by name; the body, for the in-process dispatcher)
OPERATOR_JOBS: dict[str, tuple[str, Callable[..., ReportJSON]]] = {
    "rebuild": ("workers.jobs.rebuild_job", run_rebuild),
    "replay": ("workers.jobs.replay_job", run_replay),
}


def rebuild_if_stale(stores: Stores, dispatcher: Dispatcher) -> str | None:
    """Start a rebuild when the live version was folded by older code (after an upgrade), unless
    one is already under way. Returns the job's id, if one was started."""
    db = stores.db
    with db.read(bind=False) as conn:
        stale = versions.stale(conn, NAME)
    if not stale or joblog.active(db, NAME, "rebuild") is not None:
        return None
    job_id = joblog.create(db, "rebuild", NAME)
    dispatcher.start_job("rebuild", job_id, NAME, job_id)
    logging.getLogger("orghistory.upgrade").warning(
        "the projection was folded by older code: rebuilding it beside the live one", extra={"job": job_id})
    return job_id
