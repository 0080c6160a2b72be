"""The log and the organizations in and out: ``seed``, ``tail``, ``import``, ``imports``, ``export``.

The seed loader, the backup format, the fold, the stream and the readers of datasets and
projections pull in the event store or the projection schema (0.02-0.15 s each to import): they
are imported inside the commands that use them, so ``orghistory --help`` and the other commands
do not load them.
"""

from __future__ import annotations

import json
import sys
import time

import click
from rich.table import Table

from events.errors import DomainError
from workers.wakeup import Wakeup

from .shared import bar, caught_up, err, services


@click.command()
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="a seed document (default: the bundled OpenAI 2023-2024 history)")
def seed(path: str | None) -> None:
    """Load the seed history. Idempotent: a second run stores nothing."""
    from events.seed import load_seed  # lazy: the seed loader and the event store

    s = services()
    report = load_seed(s.app, path)
    s.dispatcher.nudge()
    click.echo(json.dumps(report, indent=2))


@click.command()
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
    from ..streams import sse  # lazy: the stream reads the event store

    s = services()
    for chunk in sse(s.app, Wakeup(s.settings, s.stores.store_id), after, org, set(types) or None):
        if chunk.startswith("id: "):
            yield json.loads(chunk.split("data: ", 1)[1])


def _tail_http(url, after, org, types):
    """A reference SSE client: reconnects with Last-Event-ID, so nothing is missed or repeated."""
    # lazy: urllib.request (http.client, email, ssl: about 0.02 s) only for --url
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


class DefaultGroup(click.Group):
    """A group whose unknown first argument goes to its default command (``orghistory import FILE``)."""

    default = "log"

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = [self.default, *args]
        elif not args or args[0].startswith("-") and args[0] not in ("--help", "-h"):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


@click.group("import", cls=DefaultGroup)
def import_() -> None:
    """Load the whole log from NDJSON (`orghistory import FILE`), or sync an organization with a
    dataset (`import popolo FILE --org ORG`, `import ftm FILE --org ORG`)."""


@import_.command("log")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_log_command(path: str) -> None:
    """Load an NDJSON log written by `orghistory export` into an empty store."""
    from events.backup import NotEmpty, import_log  # lazy: the backup format and the event store

    s = services()
    with bar("import", None) as (import_bar, task), open(path, encoding="utf-8") as fh:
        try:
            n = import_log(s.app, fh, progress=lambda done: import_bar.update(task, completed=done))
        except (NotEmpty, ValueError) as e:
            err.print(f"[red]{e}[/]")
            sys.exit(2)
    s.dispatcher.nudge()
    from workers.catchup import catch_up  # lazy: the fold

    catch_up(s.stores)
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
        from events import imports  # lazy: the formats' readers and the sync (about 0.02 s)

        s = services()
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
    from workers.catchup import catch_up  # lazy: the fold

    with bar("fold", count) as (fold_bar, task):
        catch_up(s.stores, progress=lambda applied, _: fold_bar.update(task, completed=applied))


def _print_import(report: dict) -> None:
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


@click.command("imports")
@click.option("--org", required=True)
@click.option("--source", default=None, help="only this source's imports")
def imports_command(org: str, source: str | None) -> None:
    """The imports that stored something into an organization: source, digest, summary."""
    from projections import queries  # lazy: the projection's queries

    with caught_up() as c:
        click.echo(json.dumps(queries.list_imports(c, org, source), indent=2, ensure_ascii=False))


@click.group("export", cls=DefaultGroup)
def export_() -> None:
    """Write the whole log as NDJSON (`orghistory export [--out FILE]`), or Popolo (`export popolo`)."""


@export_.command("log")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="file to write (default: standard output)")
def export_log_command(out_path: str | None) -> None:
    """Every stored event, one JSON object a line, in position order."""
    from events.backup import export_log  # lazy: the backup format and the event store

    s = services()
    head = s.app.head_position()
    with bar("export", head) as (export_bar, task):
        fh = open(out_path, "w", encoding="utf-8") if out_path else sys.stdout
        try:
            n = export_log(s.app, fh, progress=lambda pos, _: export_bar.update(task, completed=pos))
        finally:
            if out_path:
                fh.close()
    err.print(f"exported {n} events")


@export_.command("popolo")
@click.option("--org", required=True)
@click.option("--source", default=None, help="only the memberships this source gave")
def export_popolo(org: str, source: str | None) -> None:
    """Print an organization as Popolo JSON (what we currently believe)."""
    from projections.popolo import export  # lazy: the Popolo writer (the projection schema)

    with caught_up() as c:
        click.echo(json.dumps(export(c, org, source), indent=2, ensure_ascii=False))


@export_.command("ftm")
@click.option("--org", required=True)
@click.option("--source", default=None, help="only the memberships this source gave")
def export_ftm(org: str, source: str | None) -> None:
    """Print an organization as FollowTheMoney entities, one JSON object a line."""
    from projections.ftm import export  # lazy: the FtM writer (the projection schema)

    with caught_up() as c:
        for entity in export(c, org, source):
            click.echo(json.dumps(entity, ensure_ascii=False))
