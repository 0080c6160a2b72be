"""rq job functions. Each builds its own Application inside the job's process (rq forks per job)."""

from __future__ import annotations

from events.settings import Settings

from .catchup import catch_up


def catch_up_job(name: str = "history") -> int:
    from .logs import configure_logging  # jobs may also run under plain `rq worker` or `rq worker-pool`

    configure_logging()
    return catch_up(Settings.from_env(), name)
