"""Operating the projections: ``status``, ``verify``, ``parked``, ``rebuild``, ``replay``, ``versions``.

The fold, the verifier, rebuild and replay, and the status reader pull in the event store or rq
(0.1-0.2 s each to import): they are imported inside the commands that use them, so
``orghistory --help`` and the other commands do not load them.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import timezone

import click
from rich.console import Console
from rich.table import Table

from projections import versions as projection_versions
from projections.db import NoSuchVersion
from projections.versions import UnknownProjection
from workers import joblog

from ..progress import progress
from .shared import bar, err, services


@contextmanager
def version_errors():
    """An unknown projection or version is the operator's typo: say so, exit 2, no traceback."""
    try:
        yield
    except (NoSuchVersion, UnknownProjection) as e:
        err.print(f"[red]{e.args[0] if e.args else e}[/]")
        sys.exit(2)


def fold_bar(label: str):
    """A progress bar driven by a fold's (position, head, events) callback."""
    p = progress(err, transient=False)
    task = p.add_task(label, total=None)

    def update(position: int, head: int, _events: int) -> None:
        p.update(task, completed=position, total=head)

    return p, update


@click.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(as_json: bool) -> None:
    """Head of the log, projection positions and lag, rq queue, failed jobs, live workers."""
    from workers.status import status as read_status  # lazy: rq and the event store

    info = read_status(services().stores)
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


@click.command()
@click.argument("name", default="history")
@click.option("--version", "version", type=int, default=None, help="a version other than the live one")
@click.option("--chain", is_flag=True, help="check the log against its hash chain instead: an edited, deleted, "
                                            "inserted or reordered event row is named by its position")
def verify(name: str, version: int | None, chain: bool) -> None:
    """Fold the whole log afresh and compare with the stored projection; exit 1 if they differ.
    With --chain, check the log itself against its hash chain; exit 1 at the first break."""
    from projections.verify import verify as run_verify  # lazy: the in-memory fold and the event store

    s = services()
    if chain:
        with bar("chain", s.app.head_position()) as (chain_bar, task):
            n, head, broken = s.app.verify_chain(progress=lambda pos: chain_bar.update(task, completed=pos))
        click.echo(json.dumps({"events": n, "head": head, "break": str(broken) if broken else None,
                               "position": broken.position if broken else None}))
        if broken:
            err.print(f"[red]the log does not match its hash chain: {broken}[/]")
            sys.exit(1)
        err.print(f"[green]{n} events match their hash chain[/]; keep the head hash elsewhere to prove it later: {head}")
        return
    with version_errors(), bar("verify", s.app.head_position()) as (verify_bar, task), \
            s.read(version=version, name=name) as conn:
        position, diff = run_verify(s.app, conn, progress=lambda n: verify_bar.update(task, completed=n))
        version = conn.version
    if not diff:
        err.print(f"[green]{name} (version {version}) matches a fresh fold of the log[/] (up to position {position})")
        return
    click.echo(json.dumps({"position": position, "differences": diff}, indent=2, default=str))
    err.print(f"[red]{name} differs from a fresh fold of the log[/]: " +
              ", ".join(f"{t} ({d['counts']['missing']} missing, {d['counts']['unexpected']} unexpected)"
                        for t, d in diff.items()))
    sys.exit(1)


@click.group(invoke_without_command=True)
@click.pass_context
def parked(ctx) -> None:
    """Events whose fold raised: list them (default), retry one after a fix, or skip one."""
    if ctx.invoked_subcommand is None:
        from workers.catchup import parked as list_parked  # lazy: the fold and the event store

        click.echo(json.dumps(list_parked(services().stores), indent=2, default=str))


@parked.command("retry")
@click.argument("position", type=int)
def parked_retry(position: int) -> None:
    from workers.catchup import retry_parked  # lazy: the fold and the event store

    try:
        row = retry_parked(services().stores, position)
    except LookupError as e:
        err.print(f"[red]{e}[/]")
        sys.exit(2)
    click.echo(json.dumps(row, indent=2, default=str))
    if row["resolved_at"] is None:
        sys.exit(1)


@parked.command("skip")
@click.argument("position", type=int)
def parked_skip(position: int) -> None:
    from workers.catchup import skip_parked  # lazy: the fold and the event store

    try:
        click.echo(json.dumps(skip_parked(services().stores, position), indent=2, default=str))
    except LookupError as e:
        err.print(f"[red]{e}[/]")
        sys.exit(2)


@click.command()
@click.argument("name", default="history")
def rebuild(name: str) -> None:
    """Rebuild a projection blue/green: fold the whole log into a new version beside the live one,
    switch readers to it atomically, drop the old one. Killed, it resumes when run again."""
    # lazy: rebuild and replay need the fold and the event store
    from workers.locks import LockTimeout
    from workers.rebuild import RebuildBusy
    from workers.rebuild import rebuild as run

    stores = services().stores
    rebuild_bar, update = fold_bar(f"rebuild {name}")
    with version_errors(), rebuild_bar:
        try:
            report = run(stores, name, progress=update)
        except RebuildBusy as e:
            err.print(f"[red]{e}[/]")
            sys.exit(3)
        except LockTimeout as e:  # the live catch-up held the projection past the switch's wait
            err.print(f"[red]{e}: the new version is built but not switched to; run the rebuild again to finish[/]")
            sys.exit(3)
    resumed = f", resumed from position {report.started_from}" if report.started_from else ""
    err.print(f"[green]{name} version {report.version} is live[/] (was {report.switched_from}; "
              f"{report.events:,} events in {report.seconds:.1f} s, {report.rate:,.0f} ev/s{resumed}; "
              f"{report.parked} parked"
              + (f"; over its memory budget {report.read_backs} times" if report.read_backs else "") + ")")
    click.echo(json.dumps(report.as_json()))


@click.command()
@click.argument("name", default="history")
@click.option("--until-position", type=click.IntRange(min=1), default=None, help="fold up to this position")
@click.option("--until-recorded", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z",
                                                                   "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
              default=None, help="fold the events recorded up to this time (UTC unless an offset is given)")
def replay(name: str, until_position: int | None, until_recorded) -> None:
    """Fold a scratch version up to a position or record time, to query with ?version=N."""
    from workers.rebuild import replay as run  # lazy: the fold and the event store

    if until_position is None and until_recorded is None:
        raise click.UsageError("give --until-position or --until-recorded")
    if until_recorded is not None and until_recorded.tzinfo is None:
        until_recorded = until_recorded.replace(tzinfo=timezone.utc)
    stores = services().stores
    replay_bar, update = fold_bar(f"replay {name}")
    with version_errors(), replay_bar:
        report = run(stores, name, until_position, until_recorded, progress=update)
    err.print(f"[green]scratch version {report.version} of {name}[/] folded up to position {report.position}; "
              f"query it with ?version={report.version}, drop it with `orghistory versions drop {report.version}`")
    click.echo(json.dumps(report.as_json()))


@click.group(invoke_without_command=True)
@click.option("--name", default="history", show_default=True)
@click.pass_context
def versions(ctx, name: str) -> None:
    """List a projection's versions (default), or drop a scratch or retired one."""
    ctx.obj = name
    if ctx.invoked_subcommand is None:
        s = services()
        with version_errors():
            projection_versions.check_name(name)
            with s.db.read(bind=False) as c:
                rows = joblog.with_jobs(c, projection_versions.listing(c, name))
        click.echo(json.dumps(rows, indent=2, default=str))


@versions.command("drop")
@click.argument("version", type=int)
@click.pass_obj
def versions_drop(name: str, version: int) -> None:
    """Drop a scratch (replay), retired or abandoned version; never the live one."""
    from workers.rebuild import drop_version  # lazy: rebuild's module loads the fold and the event store

    stores = services().stores
    with version_errors():
        try:
            dropped = drop_version(stores, name, version)
        except (LookupError, ValueError) as e:
            err.print(f"[red]{e}[/]")
            sys.exit(2)
    if not dropped:
        err.print("[yellow]readers from before the switch are still running; try again shortly[/]")
        sys.exit(1)
    err.print(f"dropped version {version} of {name}")
