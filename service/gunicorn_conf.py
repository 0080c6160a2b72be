"""What gunicorn needs to know of this app beyond its command line: ``orghistory serve`` uses these
hooks, and the gunicorn command (the Dockerfile's, docker-compose's) loads them with
``-c python:service.gunicorn_conf``."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from workers.processes import end_with_parent


def post_fork(server: Any, worker: Any) -> None:
    """Killed outright (SIGKILL, an OOM kill), the server must not leave its worker serving on."""
    end_with_parent(server.pid)


def post_worker_init(worker: Any) -> None:
    """On a graceful stop (SIGTERM), live SSE streams end at once, before gunicorn waits for its
    requests to finish: a stream otherwise runs on until its next heartbeat finds the client
    gone, or its client leaves, so every stop took the whole graceful timeout while one was open
    (10 s for ``orghistory serve``). EventSource clients reconnect with Last-Event-ID and miss
    nothing."""
    services = worker.wsgi.extensions.get("orghistory")
    wakeup = getattr(services, "wakeup", None)
    previous = signal.getsignal(signal.SIGTERM)
    if wakeup is None or not callable(previous):
        return

    def stopping(signum: int, frame: FrameType | None) -> None:
        wakeup.end_streams()
        previous(signum, frame)

    signal.signal(signal.SIGTERM, stopping)
