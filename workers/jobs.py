"""rq job functions. Each builds its own Application inside the job's process (rq forks per job)."""

from __future__ import annotations

from events.settings import Settings

from .catchup import catch_up


def catch_up_job(name: str = "history") -> int:
    from .logs import configure_logging  # jobs may also run under plain `rq worker` or `rq worker-pool`

    configure_logging()
    return catch_up(Settings.from_env(), name)


def deliver_job(sub: str) -> int:
    from rq import get_current_job

    from .logs import configure_logging
    from .webhooks import deliver

    configure_logging()
    job = get_current_job()
    last = job is None or not job.retries_left  # rq counts down the retries it has left
    return deliver(Settings.from_env(), sub, last_attempt=last)


def webhooks_dispatch_job() -> int:
    """Enqueue a delivery for every subscription that has events waiting."""
    from .dispatch import enqueue_delivery
    from .webhooks import pending

    settings = Settings.from_env()
    from .dispatch import redis_for_clients

    conn = redis_for_clients(settings.redis_url)
    subs = pending(settings)
    for sub in subs:
        enqueue_delivery(conn, sub)
    return len(subs)


def rebuild_job(name: str, job_id: str) -> dict:
    """A blue/green rebuild (see ``workers.rebuild``); progress goes to the jobs table."""
    from .logs import configure_logging
    from .rebuild import rebuild

    configure_logging()
    return rebuild(Settings.from_env(), name, job_id=job_id).as_json()


def replay_job(name: str, job_id: str, until_position: int | None, until_recorded: str | None) -> dict:
    from datetime import datetime

    from .logs import configure_logging
    from .rebuild import replay

    configure_logging()
    until = datetime.fromisoformat(until_recorded) if until_recorded else None
    return replay(Settings.from_env(), name, until_position, until, job_id=job_id).as_json()


def rebuild_if_stale(settings: Settings, dispatcher) -> str | None:
    """Start a rebuild when the live version was folded by older code (after an upgrade), unless
    one is already under way. Returns the job's id, if one was started."""
    import logging

    from projections import versions
    from projections.projector import NAME

    from . import joblog
    from .runtime import open_store

    _, db = open_store(settings)
    with db.read(bind=False) as conn:
        stale = versions.stale(conn, NAME)
    if not stale or joblog.active(db, NAME, "rebuild") is not None:
        return None
    job_id = joblog.create(db, "rebuild", NAME)
    dispatcher.start_job("workers.jobs.rebuild_job", job_id, NAME, job_id)
    logging.getLogger("orghistory.upgrade").warning(
        "the projection was folded by older code: rebuilding it beside the live one", extra={"job": job_id})
    return job_id
