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
