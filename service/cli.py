"""The ``orghistory`` command line."""

from __future__ import annotations

import json
import os
import sys

import click
from rich.console import Console

from events.settings import Settings

err = Console(stderr=True)

# Each command imports what it needs inside its function, on purpose: the command line starts fast
# (``--help`` loads no store, no Flask), and each command loads only its own stack (``worker`` does
# not load the web service).


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
@click.option("--threads", default=32, show_default=True, type=click.IntRange(1, 1024),
              help="requests (and live streams) served at once")
@click.option("--no-seed", is_flag=True, help="do not load the seed history on first start")
def serve(host: str, port: int, threads: int, no_seed: bool) -> None:
    """Run the HTTP service under gunicorn (one gthread worker), on any store."""
    from events.seed import load_seed
    from workers.runtime import forget

    s = _services(start_background=False)
    if not no_seed and not s.settings.is_postgres:
        report = load_seed(s.app)
        if any(o["appended"] for o in report["orgs"].values()):
            from workers.catchup import catch_up

            catch_up(s.settings)  # folded before the first request, so the first answers are whole
            err.print(f"[green]loaded the seed history[/] ({sum(o['appended'] for o in report['orgs'].values())} events)")
    token = _local_admin_token(s)
    if token:
        err.print(f"write token (also in {s.settings.data_dir / 'admin-token'}): [bold]{token}[/]")
    err.print(f"serving on http://{host}:{port}/  (store: {'postgresql' if s.settings.is_postgres else s.settings.sqlite_path})")
    forget()  # nothing opened here may cross gunicorn's fork: the worker opens its own
    from .server import run

    run(host, port, threads, _worker_app)


def _worker_app():
    """The app, built in gunicorn's worker process: its stores, its background fold, and the
    rebuild an older projection needs."""
    from workers.jobs import rebuild_if_stale

    from .app import create_app

    s = _services(start_background=True)
    if rebuild_if_stale(s.settings, s.dispatcher):
        err.print("[yellow]the projection was folded by an older version of orghistory: rebuilding it in the "
                  "background (GET /v1/ops/jobs); answers come from the old one until then[/]")
    return create_app(services=s)


@main.command()
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
@click.option("--name", default=None, help="worker name (default: host and pid)")
def worker(burst: bool, name: str | None) -> None:
    """Run an rq worker (needs ORGHISTORY_REDIS_URL)."""
    from workers.logs import configure_logging
    from workers.runtime import open_store
    from workers.worker import run_worker

    configure_logging()
    settings = Settings.from_env()
    open_store(settings)
    from workers.dispatch import dispatcher_for
    from workers.jobs import rebuild_if_stale

    rebuild_if_stale(settings, dispatcher_for(settings))
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
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(as_json: bool) -> None:
    """Head of the log, projection positions and lag, rq queue, failed jobs, live workers."""
    from rich.table import Table

    from workers.status import status as read_status

    info = read_status(Settings.from_env())
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    out = Console()
    table = Table("projection", "position", "version", "lag (events)", "lag (s)", title=f"head position {info['head']}")
    for name, p in info["projections"].items():
        table.add_row(name, str(p["position"]), str(p["version"]), str(p["lag_events"]), str(p["lag_seconds"]))
        for v in p.get("other_versions", []):
            state = f"{v['state']} (abandoned)" if v.get("abandoned") else v["state"]
            table.add_row(f"  {state}", str(v["position"]), str(v["version"]), "", "")
    out.print(table)
    for name, p in info["projections"].items():
        if p["parked"]:
            out.print(f"[yellow]{name}: {p['parked']} parked event(s)[/] (orghistory parked)")
    rq = info.get("rq")
    if rq and "error" not in rq:
        out.print(f"rq queue {rq['queue']}: {rq['queued']} queued, {rq['started']} running, {rq['failed']} failed, "
                  f"{len(rq['workers'])} workers")
    elif rq:
        out.print(f"[red]{rq['error']}[/]")
    else:
        out.print("dispatch: in-process (no Redis configured)")


@main.command()
@click.argument("name", default="history")
@click.option("--version", "version", type=int, default=None, help="a version other than the live one")
@click.option("--chain", is_flag=True, help="check the log against its hash chain instead: an edited, deleted, "
                                            "inserted or reordered event row is named by its position")
def verify(name: str, version: int | None, chain: bool) -> None:
    """Fold the whole log afresh and compare with the stored projection; exit 1 if they differ.
    With --chain, check the log itself against its hash chain; exit 1 at the first break."""
    from projections.verify import verify as run_verify

    s = _services()
    if chain:
        with _bar("chain", s.app.head_position()) as (bar, task):
            n, head, broken = s.app.verify_chain(progress=lambda pos: bar.update(task, completed=pos))
        click.echo(json.dumps({"events": n, "head": head, "break": str(broken) if broken else None,
                               "position": broken.position if broken else None}))
        if broken:
            err.print(f"[red]the log does not match its hash chain: {broken}[/]")
            sys.exit(1)
        err.print(f"[green]{n} events match their hash chain[/]; keep the head hash elsewhere to prove it later: {head}")
        return
    with _version_errors(), _bar("verify", s.app.head_position()) as (bar, task), \
            s.read(version=version, name=name) as conn:
        position, diff = run_verify(s.app, conn, progress=lambda n: bar.update(task, completed=n))
        version = conn.version
    if not diff:
        err.print(f"[green]{name} (version {version}) matches a fresh fold of the log[/] (up to position {position})")
        return
    click.echo(json.dumps({"position": position, "differences": diff}, indent=2, default=str))
    err.print(f"[red]{name} differs from a fresh fold of the log[/]: " +
              ", ".join(f"{t} ({d['counts']['missing']} missing, {d['counts']['unexpected']} unexpected)"
                        for t, d in diff.items()))
    sys.exit(1)


@main.command()
@click.option("--after", type=int, default=0, show_default=True, help="start after this position")
@click.option("--org", default=None, help="only this organization's events")
@click.option("--type", "types", multiple=True, help="only these event types (repeatable)")
@click.option("--url", default=None, help="follow a server's SSE stream (e.g. http://127.0.0.1:8000) "
              "instead of reading the store directly")
@click.option("--count", type=int, default=None, help="exit after this many events")
def tail(after: int, org: str | None, types: tuple[str, ...], url: str | None, count: int | None) -> None:
    """Print the live event stream, one JSON object a line; resumes by position after a disconnect."""
    printed = 0
    for event in (_tail_http(url, after, org, types) if url else _tail_store(after, org, types)):
        click.echo(json.dumps(event, ensure_ascii=False))
        printed += 1
        if count is not None and printed >= count:
            return


def _tail_store(after, org, types):
    from service.streams import sse
    from workers.wakeup import Wakeup

    s = _services()
    for chunk in sse(s.app, Wakeup(s.settings), after, org, set(types) or None):
        if chunk.startswith("id: "):
            yield json.loads(chunk.split("data: ", 1)[1])


def _tail_http(url, after, org, types):
    """A reference SSE client: reconnects with Last-Event-ID, so nothing is missed or repeated."""
    import time
    import urllib.parse
    import urllib.request

    query = urllib.parse.urlencode({k: v for k, v in (("org", org), ("type", ",".join(types))) if v})
    last = after
    while True:
        req = urllib.request.Request(f"{url.rstrip('/')}/v1/streams/all/live?{query}",
                                     headers={"Last-Event-ID": str(last), "Accept": "text/event-stream"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                data = None
                for raw in resp:
                    line = raw.decode("utf-8").rstrip("\n")
                    if line.startswith("data: "):
                        data = line[6:]
                    elif line == "" and data is not None:
                        event = json.loads(data)
                        last = event["position"]
                        data = None
                        yield event
        except OSError as e:
            err.print(f"[yellow]stream interrupted ({e}); resuming after {last}[/]")
            time.sleep(1)


@main.group(invoke_without_command=True)
@click.pass_context
def parked(ctx) -> None:
    """Events whose fold raised: list them (default), retry one after a fix, or skip one."""
    if ctx.invoked_subcommand is None:
        from workers.catchup import parked as list_parked

        click.echo(json.dumps(list_parked(Settings.from_env()), indent=2, default=str))


@parked.command("retry")
@click.argument("position", type=int)
def parked_retry(position: int) -> None:
    from workers.catchup import retry_parked

    try:
        row = retry_parked(Settings.from_env(), position)
    except LookupError as e:
        err.print(f"[red]{e}[/]")
        sys.exit(2)
    click.echo(json.dumps(row, indent=2, default=str))
    if row["resolved_at"] is None:
        sys.exit(1)


@parked.command("skip")
@click.argument("position", type=int)
def parked_skip(position: int) -> None:
    from workers.catchup import skip_parked

    try:
        click.echo(json.dumps(skip_parked(Settings.from_env(), position), indent=2, default=str))
    except LookupError as e:
        err.print(f"[red]{e}[/]")
        sys.exit(2)


class DefaultGroup(click.Group):
    """A group whose unknown first argument goes to its default command (``orghistory import FILE``)."""

    default = "log"

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = [self.default, *args]
        elif not args or args[0].startswith("-") and args[0] not in ("--help", "-h"):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


@main.group("import", cls=DefaultGroup)
def import_() -> None:
    """Load the whole log from NDJSON (`orghistory import FILE`), or sync an organization with a
    dataset (`import popolo FILE --org ORG`, `import ftm FILE --org ORG`)."""


@import_.command("log")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_log_command(path: str) -> None:
    """Load an NDJSON log written by `orghistory export` into an empty store."""
    from events.backup import NotEmpty, import_log

    s = _services()
    with _bar("import", None) as (bar, task), open(path, encoding="utf-8") as fh:
        try:
            n = import_log(s.app, fh, progress=lambda done: bar.update(task, completed=done))
        except (NotEmpty, ValueError) as e:
            err.print(f"[red]{e}[/]")
            sys.exit(2)
    s.dispatcher.nudge()
    from workers.catchup import catch_up

    catch_up(s.settings)
    err.print(f"imported {n} events")


def _import_command(fmt: str, label: str):
    @import_.command(fmt, help=f"Sync an organization with a {label} file: record only what changed since this "
                               "source's last import, as one atomic change.")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--org", required=True, help="the organization (slug) to keep in sync; registered if new")
    @click.option("--source", default=None,
                  help="the dataset's name, kept on every fact it gives (default: the organization's slug); "
                       "records are keyed by it, so use the same name every time")
    @click.option("--name", "org_name", default=None, help="the organization's name, if it is new")
    @click.option("--dry-run", is_flag=True, help="show what would change, store nothing")
    def command(path: str, org: str, source: str | None, org_name: str | None, dry_run: bool) -> None:
        from events import imports
        from events.errors import DomainError

        s = _services()
        try:
            with err.status(f"reading {path}"), open(path, encoding="utf-8") as fh:
                data = imports.read_file(fmt, fh)
            with err.status("comparing with the last import" + ("" if dry_run else " and saving")):
                report = s.app.sync(org, data, source=source, dry_run=dry_run, org_name=org_name)
        except DomainError as e:
            err.print(f"[red]{path}: {e.field + ': ' if e.field else ''}{e.message}[/]")
            sys.exit(2)
        if report["stored"]:
            _fold_with_progress(s, report["events"]["count"])
        _print_import(report)
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))

    return command


def _fold_with_progress(s, count: int) -> None:
    """After an import: with rq, enqueue the fold; on the embedded default, fold it now (so its
    answers are there when the command returns), with a progress bar."""
    if s.dispatcher.mode != "in-process":
        s.dispatcher.after_append(None)
        return
    from workers.catchup import catch_up

    with _bar("fold", count) as (bar, task):
        catch_up(s.settings, progress=lambda applied, _: bar.update(task, completed=applied))


def _print_import(report: dict) -> None:
    from rich.table import Table

    m = report["summary"]["memberships"]
    table = Table(*m.keys(), title=f"memberships from {report['source']}"
                  + (" (dry run: nothing stored)" if report["dry_run"] else ""))
    table.add_row(*(str(v) for v in m.values()))
    err.print(table)
    for r in report["summary"]["rejected"][:20]:
        err.print(f"[yellow]rejected {r['kind']} {r['record']} ({r['path']}): {r['reason']}[/]")
    for n in report["summary"]["notices"][:20]:
        err.print(f"[cyan]{n['notice']}[/]")
    if report["stored"]:
        err.print(f"[green]import {report['import_id']}: {report['events']['count']} events stored[/]")
    elif not report["dry_run"]:
        err.print("nothing changed since this source's last import: nothing stored")


import_popolo = _import_command("popolo", "Popolo JSON")
import_ftm = _import_command("ftm", "FollowTheMoney NDJSON")


@main.command("imports")
@click.option("--org", required=True)
@click.option("--source", default=None, help="only this source's imports")
def imports_command(org: str, source: str | None) -> None:
    """The imports that stored something into an organization: source, digest, summary."""
    from projections import queries
    from workers.catchup import catch_up

    s = _services()
    catch_up(s.settings)
    with s.read() as c:
        click.echo(json.dumps(queries.list_imports(c, org, source), indent=2, ensure_ascii=False))


@main.group("export", cls=DefaultGroup)
def export_() -> None:
    """Write the whole log as NDJSON (`orghistory export [--out FILE]`), or Popolo (`export popolo`)."""


@export_.command("log")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="file to write (default: standard output)")
def export_log_command(out_path: str | None) -> None:
    """Every stored event, one JSON object a line, in position order."""
    from events.backup import export_log

    s = _services()
    head = s.app.head_position()
    with _bar("export", head) as (bar, task):
        fh = open(out_path, "w", encoding="utf-8") if out_path else sys.stdout
        try:
            n = export_log(s.app, fh, progress=lambda pos, _: bar.update(task, completed=pos))
        finally:
            if out_path:
                fh.close()
    err.print(f"exported {n} events")


from contextlib import contextmanager  # noqa: E402


@contextmanager
def _bar(label: str, total: int | None, unit: str = "ev/s"):
    """A progress bar on stderr with count, rate, elapsed time and ETA."""
    from .progress import bar

    with bar(label, total, console=err, unit=unit) as (p, task):
        yield p, task


@contextmanager
def _version_errors():
    """An unknown projection or version is the operator's typo: say so, exit 2, no traceback."""
    from projections.db import NoSuchVersion
    from projections.versions import UnknownProjection

    try:
        yield
    except (NoSuchVersion, UnknownProjection) as e:
        err.print(f"[red]{e.args[0] if e.args else e}[/]")
        sys.exit(2)


@export_.command("popolo")
@click.option("--org", required=True)
@click.option("--source", default=None, help="only the memberships this source gave")
def export_popolo(org: str, source: str | None) -> None:
    """Print an organization as Popolo JSON (what we currently believe)."""
    from projections.popolo import export
    from workers.catchup import catch_up

    s = _services()
    catch_up(s.settings)
    with s.read() as c:
        click.echo(json.dumps(export(c, org, source), indent=2, ensure_ascii=False))


@export_.command("ftm")
@click.option("--org", required=True)
@click.option("--source", default=None, help="only the memberships this source gave")
def export_ftm(org: str, source: str | None) -> None:
    """Print an organization as FollowTheMoney entities, one JSON object a line."""
    from projections.ftm import export
    from workers.catchup import catch_up

    s = _services()
    catch_up(s.settings)
    with s.read() as c:
        for entity in export(c, org, source):
            click.echo(json.dumps(entity, ensure_ascii=False))


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


# --- rebuild, replay, versions -------------------------------------------------------------------

def _fold_bar(label: str):
    """A progress bar driven by a fold's (position, head, events) callback."""
    from .progress import progress

    p = progress(err, transient=False)
    task = p.add_task(label, total=None)

    def update(position: int, head: int, _events: int) -> None:
        p.update(task, completed=position, total=head)

    return p, update


@main.command()
@click.argument("name", default="history")
def rebuild(name: str) -> None:
    """Rebuild a projection blue/green: fold the whole log into a new version beside the live one,
    switch readers to it atomically, drop the old one. Killed, it resumes when run again."""
    from workers.rebuild import RebuildBusy
    from workers.rebuild import rebuild as run

    settings = Settings.from_env()
    _services()
    bar, update = _fold_bar(f"rebuild {name}")
    with _version_errors(), bar:
        try:
            report = run(settings, name, progress=update)
        except RebuildBusy as e:
            err.print(f"[red]{e}[/]")
            sys.exit(3)
    resumed = f", resumed from position {report.started_from}" if report.started_from else ""
    err.print(f"[green]{name} version {report.version} is live[/] (was {report.switched_from}; "
              f"{report.events:,} events in {report.seconds:.1f} s, {report.rate:,.0f} ev/s{resumed}; "
              f"{report.parked} parked)")
    click.echo(json.dumps(report.as_json()))


@main.command()
@click.argument("name", default="history")
@click.option("--until-position", type=click.IntRange(min=1), default=None, help="fold up to this position")
@click.option("--until-recorded", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z",
                                                                   "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
              default=None, help="fold the events recorded up to this time (UTC unless an offset is given)")
def replay(name: str, until_position: int | None, until_recorded) -> None:
    """Fold a scratch version up to a position or record time, to query with ?version=N."""
    from datetime import timezone

    from workers.rebuild import replay as run

    if until_position is None and until_recorded is None:
        raise click.UsageError("give --until-position or --until-recorded")
    if until_recorded is not None and until_recorded.tzinfo is None:
        until_recorded = until_recorded.replace(tzinfo=timezone.utc)
    settings = Settings.from_env()
    _services()
    bar, update = _fold_bar(f"replay {name}")
    with _version_errors(), bar:
        report = run(settings, name, until_position, until_recorded, progress=update)
    err.print(f"[green]scratch version {report.version} of {name}[/] folded up to position {report.position}; "
              f"query it with ?version={report.version}, drop it with `orghistory versions drop {report.version}`")
    click.echo(json.dumps(report.as_json()))


@main.group(invoke_without_command=True)
@click.option("--name", default="history", show_default=True)
@click.pass_context
def versions(ctx, name: str) -> None:
    """List a projection's versions (default), or drop a scratch or retired one."""
    ctx.obj = name
    if ctx.invoked_subcommand is None:
        from projections import versions as v
        from workers import joblog

        s = _services()
        with _version_errors():
            v.check_name(name)
            with s.db.read(bind=False) as c:
                rows = joblog.with_jobs(c, v.listing(c, name))
        click.echo(json.dumps(rows, indent=2, default=str))


@versions.command("drop")
@click.argument("version", type=int)
@click.pass_obj
def versions_drop(name: str, version: int) -> None:
    """Drop a scratch (replay), retired or abandoned version; never the live one."""
    from workers.rebuild import drop_version

    _services()
    with _version_errors():
        try:
            dropped = drop_version(Settings.from_env(), name, version)
        except (LookupError, ValueError) as e:
            err.print(f"[red]{e}[/]")
            sys.exit(2)
    if not dropped:
        err.print("[yellow]readers from before the switch are still running; try again shortly[/]")
        sys.exit(1)
    err.print(f"dropped version {version} of {name}")


if __name__ == "__main__":  # last: every command above is defined by then
    main()
