"""``orghistory serve``: the app under gunicorn, started in process, on any store.

One gthread worker: threads serve requests and live streams (an SSE stream holds a thread while
its client stays), and the one process keeps the embedded default's single SQLite writer and its
background fold together. The app is built in the worker, after the fork, so no connection
crosses it. Quiet by default: no access log, warnings and errors only.
"""

from __future__ import annotations

from typing import Any, Callable

from gunicorn.app.base import BaseApplication

from . import gunicorn_conf


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any], build: Callable[[], Any]):
        self.options, self.build = options, build
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.build()


def run(host: str, port: int, threads: int, build: Callable[[], Any]) -> None:
    _Gunicorn({
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": 1,
        "worker_class": gunicorn_conf.worker_class,
        "threads": threads,
        "timeout": gunicorn_conf.timeout,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "orghistory",
        "post_fork": gunicorn_conf.post_fork,
        "post_worker_init": gunicorn_conf.post_worker_init,
    }, build).run()
