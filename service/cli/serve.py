"""The long-running processes: ``orghistory serve`` (gunicorn) and ``orghistory worker`` (rq).

Their machinery (the seed loader, the fold, gunicorn, Flask, rq: 0.1-0.25 s each to import) is
imported inside the commands, so ``orghistory --help`` and the other commands do not load it.
"""

from __future__ import annotations

import click

from events.settings import Settings
from workers.logs import configure_logging

from .access import local_admin_token
from .shared import err, services


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=32, show_default=True, type=click.IntRange(1, 1024),
              help="requests (and live streams) served at once")
@click.option("--no-seed", is_flag=True, help="do not load the seed history on first start")
def serve(host: str, port: int, threads: int, no_seed: bool) -> None:
    """Run the HTTP service under gunicorn (one gthread worker), on any store."""
    # lazy (see the module docstring): the seed loader and the store's runtime
    from events.seed import load_seed

    s = services(start_background=False)
    if not no_seed and not s.settings.is_postgres:
        report = load_seed(s.app)
        if any(o["appended"] for o in report["orgs"].values()):
            from workers.catchup import catch_up  # lazy: the fold, only when the seed stored something

            catch_up(s.stores)  # folded before the first request, so the first answers are whole
            err.print(f"[green]loaded the seed history[/] ({sum(o['appended'] for o in report['orgs'].values())} events)")
    token = local_admin_token(s)
    if token:
        err.print(f"write token (also in {s.settings.data_dir / 'admin-token'}): [bold]{token}[/]")
    err.print(f"serving on http://{host}:{port}/  (store: {'postgresql' if s.settings.is_postgres else s.settings.sqlite_path})")
    s.close()  # nothing opened here may cross gunicorn's fork: the worker opens its own
    from ..server import run  # lazy: gunicorn

    run(host, port, threads, _worker_app)


def _worker_app():
    """The app, built in gunicorn's worker process: its stores, its background fold, and the
    rebuild an older projection needs."""
    # lazy (see the module docstring): rq's jobs and the Flask app
    from workers.jobs import rebuild_if_stale

    from ..app import create_app

    s = services(start_background=True)
    if rebuild_if_stale(s.stores, s.dispatcher):
        err.print("[yellow]the projection was folded by an older version of orghistory: rebuilding it in the "
                  "background (GET /v1/ops/jobs); answers come from the old one until then[/]")
    return create_app(services=s)


@click.command()
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
@click.option("--name", default=None, help="worker name (default: host and pid)")
def worker(burst: bool, name: str | None) -> None:
    """Run an rq worker (needs ORGHISTORY_REDIS_URL)."""
    from workers.worker import run_worker  # lazy (see the module docstring): the store's runtime and rq

    configure_logging()
    run_worker(Settings.from_env(), burst=burst, name=name)
