"""The ``orghistory`` command line."""

from __future__ import annotations

import json
import os
import sys

import click
from rich.console import Console

from events.settings import Settings

err = Console(stderr=True)


@click.group()
def main() -> None:
    """orghistory: who held which seat, team and role on any date, and on what evidence."""


def _services(start_background: bool = False):
    from .bootstrap import bootstrap

    return bootstrap(Settings.from_env(), start_background=start_background)


def _local_admin_token(s) -> str | None:
    """On the embedded default with no admin token configured, make one and keep it in the data dir."""
    from . import tokens

    if s.settings.admin_token or s.settings.is_postgres:
        return None
    path = s.settings.data_dir / "admin-token"
    if path.exists():
        return path.read_text().strip()
    token = tokens.create(s.db, "local-admin", list(tokens.SCOPES))
    path.write_text(token + "\n")
    os.chmod(path, 0o600)
    return token


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-seed", is_flag=True, help="do not load the seed history on first start")
def serve(host: str, port: int, no_seed: bool) -> None:
    """Run the HTTP service (development server; use gunicorn in production)."""
    from events.seed import load_seed

    from .app import create_app

    s = _services(start_background=True)
    if not no_seed and not s.settings.is_postgres:
        report = load_seed(s.app)
        s.dispatcher.nudge()
        if any(o["appended"] for o in report["orgs"].values()):
            err.print(f"[green]loaded the seed history[/] ({sum(o['appended'] for o in report['orgs'].values())} events)")
    token = _local_admin_token(s)
    if token:
        err.print(f"write token (also in {s.settings.data_dir / 'admin-token'}): [bold]{token}[/]")
    err.print(f"serving on http://{host}:{port}/  (store: {'postgresql' if s.settings.is_postgres else s.settings.sqlite_path})")
    app = create_app(services=s)
    import logging

    from werkzeug.serving import run_simple

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # quiet by default: no per-request lines

    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.command()
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
@click.option("--name", default=None, help="worker name (default: host and pid)")
def worker(burst: bool, name: str | None) -> None:
    """Run an rq worker (needs ORGHISTORY_REDIS_URL)."""
    from workers.worker import run_worker

    settings = Settings.from_env()
    from workers.runtime import open_store

    open_store(settings)
    run_worker(settings, burst=burst, name=name)


@main.command()
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="a seed document (default: the bundled OpenAI 2023-2024 history)")
def seed(path: str | None) -> None:
    """Load the seed history. Idempotent: a second run stores nothing."""
    from events.seed import load_seed

    s = _services()
    report = load_seed(s.app, path)
    s.dispatcher.nudge()
    click.echo(json.dumps(report, indent=2))


@main.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Head of the log and the projection's position."""
    from workers.catchup import lag

    settings = Settings.from_env()
    head, pos = lag(settings)
    info = {"head": head, "projections": {"history": {"position": pos, "lag_events": head - pos}}}
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        err.print(f"head position {head}; history at {pos} (lag {head - pos} events)")


@main.group("import")
def import_() -> None:
    """Load data from other formats."""


@import_.command("popolo")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--org", required=True, help="the organization (slug) to import into; registered if new")
def import_popolo(path: str, org: str) -> None:
    """Import a Popolo JSON file (persons, organizations, posts, memberships, events)."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from events.popolo import load_popolo

    s = _services()
    doc = json.loads(open(path, encoding="utf-8").read())
    with Progress(TextColumn("import"), BarColumn(), TaskProgressColumn(), TextColumn("{task.completed}/{task.total} facts"),
                  TimeRemainingColumn(), console=err) as bar:
        task = bar.add_task("import", total=None)
        report = load_popolo(s.app, org, doc, progress=lambda done, total: bar.update(task, completed=done, total=total))
    s.dispatcher.nudge()
    click.echo(json.dumps(report))


@main.group("export")
def export_() -> None:
    """Write data out in other formats."""


@export_.command("popolo")
@click.option("--org", required=True)
def export_popolo(org: str) -> None:
    """Print an organization as Popolo JSON (what we currently believe)."""
    from projections.popolo import export
    from workers.catchup import catch_up

    s = _services()
    catch_up(s.settings)
    with s.read() as c:
        click.echo(json.dumps(export(c, org), indent=2, ensure_ascii=False))


@main.group()
def tokens() -> None:
    """Manage bearer tokens (stored hashed; shown once)."""


@tokens.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["read", "write", "operate"]), required=True)
def tokens_create(name: str, scopes: tuple[str, ...]) -> None:
    from . import tokens as t

    click.echo(t.create(_services().db, name, list(scopes)))


@tokens.command("list")
def tokens_list() -> None:
    from . import tokens as t

    click.echo(json.dumps(t.listing(_services().db), indent=2))


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id: str) -> None:
    from . import tokens as t

    if not t.revoke(_services().db, token_id):
        err.print(f"no active token {token_id}")
        sys.exit(1)


if __name__ == "__main__":
    main()
