"""What gunicorn needs to know of this app whatever its command line says of sizes and
addresses: ``orghistory serve`` uses these settings and hooks, and every gunicorn command (the
Dockerfile's, docker-compose's, the tests' and benchmarks') loads them with
``-c python:service.gunicorn_conf``, giving only workers, threads and the address itself."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from workers.processes import end_with_parent

# gthread, not gunicorn's default sync worker: each SSE stream (GET /v1/streams/all/live) holds
# one thread for as long as its client stays connected, so a sync worker (one request at a time)
# would be blocked by a single tail. Size it with --workers and --threads.
worker_class = "gthread"
# No silent-worker timeout: streams are long-lived by design.
timeout = 0


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
