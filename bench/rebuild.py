"""Benchmark: a blue/green rebuild of a million-event history, against the library's scan rate.

    .venv/bin/python bench/rebuild.py [--events 1000000] [--store sqlite,postgres]

1. A seeded history (the generator of ``board_asof.py``: one org over 30 years, board, roles,
   teams, people registered first) of about ``--events`` stored events is appended once through
   ``OrgHistory`` into a SQLite store and kept in ``--cache`` (filling takes minutes; later runs
   reuse it). For PostgreSQL the log is moved with ``orghistory export``/``import`` (``export_log``
   / ``import_log``) into a fresh schema, which also times the migration path.
2. On each store, in the same run: the eventsourcing library's own scan, ``select_notifications``
   in pages of 1000 plus ``mapper.to_domain_event`` for every event (the decode-bound ceiling of
   anything that reads the log), measured before and after the rebuild; and ``workers.rebuild``
   (the code behind ``orghistory rebuild``) from position zero to the live switch.
3. It prints the rebuild rate beside the scan rate. Goal: rebuild >= 0.5 x scan.

A benchmark, not a test: the numbers are ratios against a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from board_asof import APPEND_BATCH, ERR, ORG, PEOPLE_BATCH, Generator, progress_bar  # noqa: E402

from bench.stores import close_stores, stores_for  # noqa: E402
from events.backup import export_log, import_log  # noqa: E402
from events.domain import Person  # noqa: E402
from events.settings import Settings  # noqa: E402
from projections.clock import stamp  # noqa: E402
from projections.encoding import fact_values  # noqa: E402
from projections.rows import ALL_FACT_COLUMNS  # noqa: E402
from projections.schema import version_ddl  # noqa: E402
from workers.rebuild import memory_budget, rebuild  # noqa: E402

GOAL = 0.5
EVENTS_PER_FACT = 1.436  # the generator registers ~0.44 people per fact, before the facts


def fill(settings: Settings, events: int) -> None:
    """Append a seeded history of about ``events`` stored events through ``OrgHistory``. An
    interrupted fill resumes: the history is the same every time (seeded), and what the store
    already holds (the people, the organization's first facts) is not appended again."""
    n = int(events / EVENTS_PER_FACT)
    t = time.perf_counter()
    history = Generator(n).build()
    facts = history.sorted_facts()
    ERR.print(f"generated {len(facts):,} facts and {len(history.people):,} people in {time.perf_counter() - t:.1f}s")
    app = stores_for(settings).app
    org = app.find_org(ORG)
    done = 0 if org is None else org.version - 1  # facts appended before an interruption
    if org is None:
        app.register_org(ORG, "Acme Holdings")
    people = list(history.people.items())
    with progress_bar() as bar:
        if not done:  # the people come first: once a fact is in, they all are
            task = bar.add_task("register people", total=len(people))
            for i in range(0, len(people), PEOPLE_BATCH):
                chunk = people[i:i + PEOPLE_BATCH]
                missing = {s for s, _ in chunk} - app.registered_people({s for s, _ in chunk})
                app.save(*[Person(slug=s, name=name, writer=None) for s, name in chunk if s in missing])
                bar.advance(task, len(chunk))
        task = bar.add_task("append facts", total=len(facts), completed=done)
        for i in range(done, len(facts), APPEND_BATCH):
            app.append(ORG, facts[i:i + APPEND_BATCH], writer="bench")
            bar.advance(task, min(APPEND_BATCH, len(facts) - i))
    close_stores()


def scan(app, label: str, decode=None) -> float:
    """The library alone: every notification, decoded to its domain event. Events per second.
    ``decode``: another decoder of notifications instead of the library's mapper."""
    decode = decode or app.mapper.to_domain_event
    head = app.head_position()
    n, after = 0, 0
    t = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task(label, total=head)
        while True:
            notes = app.recorder.select_notifications(start=after, limit=1000, inclusive_of_start=False)
            if not notes:
                break
            for note in notes:
                decode(note)
            n += len(notes)
            after = notes[-1].id
            bar.update(task, completed=after)
    return n / (time.perf_counter() - t)


def _facts_ddl(postgres: bool) -> str:
    """The projection's own ``facts`` table, as a scratch (temporary on PostgreSQL) ``floor_facts``."""
    [ddl] = [st for st in version_ddl(postgres, "_floor") if "TABLE IF NOT EXISTS facts_floor " in st]
    ddl = ddl.replace("facts_floor", "floor_facts")
    return ddl.replace("CREATE TABLE", "CREATE TEMP TABLE") if postgres else ddl


def floor(app, settings: Settings, label: str) -> float:
    """A floor under any rebuild of this projection, in events per second: the scan, plus building
    the ``facts`` rows with the rebuild's own code (``fact_values``) and bulk-writing them into a
    scratch table on the same kind of store. No fold: no
    tenures, roles, spans, people or links, which are the other ~3.5 rows per event."""
    rows: list[tuple] = []
    if settings.is_postgres:
        import psycopg

        conn = psycopg.connect(settings.database_url, autocommit=True)
        conn.execute(_facts_ddl(postgres=True))

        def write() -> None:
            with conn.transaction(), conn.cursor() as cur, \
                    cur.copy(f"COPY floor_facts ({', '.join(ALL_FACT_COLUMNS)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
    else:
        scratch = Path(tempfile.mkdtemp(prefix="orghistory-floor-"))
        conn = sqlite3.connect(scratch / "floor.sqlite3", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_facts_ddl(postgres=False))

        def write() -> None:
            conn.execute("BEGIN")
            conn.executemany(f"INSERT INTO floor_facts ({', '.join(ALL_FACT_COLUMNS)}) "
                             f"VALUES ({','.join('?' * len(ALL_FACT_COLUMNS))})", rows)
            conn.execute("COMMIT")
    n, after = 0, 0
    t = time.perf_counter()
    try:
        with progress_bar() as bar:
            task = bar.add_task(label, total=app.head_position())
            while True:
                notes = app.recorder.select_notifications(start=after, limit=1000, inclusive_of_start=False)
                if not notes:
                    break
                for note in notes:
                    e = app.decode(note)
                    if e.org is None or e.id is None or e.type == "org_registered":
                        continue
                    rows.append(fact_values(e.org, e.id, e, stamp(e.recorded_at)) + ("[]", None, None))  # ALL_FACT_COLUMNS
                n += len(notes)
                after = notes[-1].id
                if len(rows) >= 20_000:
                    write()
                    rows.clear()
                bar.update(task, completed=after)
            if rows:
                write()
        return n / (time.perf_counter() - t)
    finally:
        conn.close()
        if not settings.is_postgres:
            shutil.rmtree(scratch, ignore_errors=True)


class PeakRSS(threading.Thread):
    """The process's largest resident set while running, sampled twice a second (Linux)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.done = 0, threading.Event()

    @staticmethod
    def now() -> int:
        with contextlib.suppress(OSError, ValueError), open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        return 0

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.peak = max(self.peak, self.now())

    def __enter__(self) -> PeakRSS:
        self.before = self.now()
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join()


def run_rebuild(settings: Settings, label: str) -> tuple[float, float, int, int, int, int]:
    """(fold rate in events/s, wall seconds including the switch and the old version's drop, events,
    how much the process's resident memory grew during the rebuild, at its peak, that peak, and
    how many times the fold spent its budget and read back from then on)."""
    t = time.perf_counter()
    with progress_bar() as bar, PeakRSS() as rss:
        task = bar.add_task(label, total=None)
        report = rebuild(stores_for(settings), progress=lambda pos, head, _n: bar.update(task, completed=pos, total=head))
    return (report.rate, time.perf_counter() - t, report.events, max(rss.peak, rss.before) - rss.before,
            max(rss.peak, rss.before), report.read_backs)


def measure(settings: Settings, store: str) -> dict:
    app, db = stores_for(settings).app, stores_for(settings).db
    head = app.head_position()
    scan_before = scan(app, f"{store}: library scan")
    fast = scan(app, f"{store}: scan, orghistory's decoder", app._fast.to_domain_event)
    floor_rate = floor(app, settings, f"{store}: floor (facts rows only)")
    rate, wall, events, peak, peak_total, read_backs = run_rebuild(settings, f"{store}: rebuild")
    gc.collect()  # the rebuild's freed state, collected now rather than during the timed scan
    scan_after = scan(app, f"{store}: library scan")
    with db.read() as c:
        live = c.version
        rows = {t: int(c.scalar(f"SELECT count(*) FROM {t}")) for t in ("facts", "tenures", "roles", "spans")}
    return {"store": store, "events": events, "head": head, "scan": (scan_before + scan_after) / 2,
            "scans": (scan_before, scan_after), "fast_scan": fast, "floor": floor_rate, "rebuild": rate,
            "peak_rss": peak, "peak_total": peak_total, "read_backs": read_backs, "wall": wall, "live": live,
            "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--store", default="sqlite,postgres")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "orghistory-bench-cache"))
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--fill-only", action="store_true", help="only make sure the cached history exists")
    ap.add_argument("--direct", action="store_true",
                    help="PostgreSQL only: fill the schema straight through OrgHistory (in a child process, so its "
                         "memory is not the rebuild's) instead of moving the cached SQLite log; for the 10M run")
    ap.add_argument("--schema", help="with --direct: use this schema, filling it only if it has no events, and keep it")
    ap.add_argument("--fill-postgres", metavar="SCHEMA", help=argparse.SUPPRESS)  # the child of --direct
    args = ap.parse_args()
    stores = args.store.split(",")
    if args.fill_postgres:
        fill(Settings(database_url=args.database_url, database_schema=args.fill_postgres), args.events)
        return
    if args.direct:
        direct(args)
        return

    cache = Path(args.cache) / f"log-{args.events}"
    if not (cache / "done").exists():  # filled completely once; reused after
        shutil.rmtree(cache, ignore_errors=True)
        fill(Settings(data_dir=cache), args.events)
        (cache / "done").touch()
    if args.fill_only:
        return
    work = Path(tempfile.mkdtemp(prefix="orghistory-rebuild-"))
    results, notes = [], []
    schema = None
    try:
        src = Settings(data_dir=cache)
        sqlite_work = Settings(data_dir=work / "sqlite")
        shutil.copytree(cache, work / "sqlite")
        if "sqlite" in stores:
            results.append(measure(sqlite_work, "sqlite"))
            close_stores()
        if "postgres" in stores:
            schema = f"bench_rebuild_{uuid.uuid4().hex[:10]}"
            pg = Settings(data_dir=work / "pg", database_url=args.database_url, database_schema=schema)
            app = stores_for(src).app
            dump = work / "log.ndjson"
            t = time.perf_counter()
            with open(dump, "w", encoding="utf-8") as fh, progress_bar() as bar:
                task = bar.add_task("export (SQLite -> NDJSON)", total=app.head_position())
                n = export_log(app, fh, progress=lambda pos, head: bar.update(task, completed=pos))
            export_s = time.perf_counter() - t
            pg_app = stores_for(pg).app
            t = time.perf_counter()
            with open(dump, encoding="utf-8") as fh, progress_bar() as bar:
                task = bar.add_task("import (NDJSON -> PostgreSQL)", total=n)
                import_log(pg_app, fh, progress=lambda done: bar.update(task, completed=done))
            import_s = time.perf_counter() - t
            notes.append(f"migration: export {n:,} events in {export_s:.0f} s ({n / export_s:,.0f} ev/s), "
                         f"import into PostgreSQL in {import_s:.0f} s ({n / import_s:,.0f} ev/s)")
            results.append(measure(pg, "postgres"))
    finally:
        close_stores()
        if schema:
            import psycopg

            with contextlib.suppress(Exception), psycopg.connect(args.database_url, autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(work, ignore_errors=True)

    report(args, results, notes)


def direct(args: argparse.Namespace) -> None:
    """The scale run: a PostgreSQL schema filled directly (or reused), then measured as above."""
    import psycopg

    schema = args.schema or f"bench_rebuild_{uuid.uuid4().hex[:10]}"
    work = Path(tempfile.mkdtemp(prefix="orghistory-rebuild-"))
    pg = Settings(data_dir=work / "pg", database_url=args.database_url, database_schema=schema)
    notes = []
    try:
        marker = f'"{schema}".bench_filled'  # made when a fill ends; an interrupted one resumes
        with psycopg.connect(args.database_url, autocommit=True) as c:
            filled = c.execute("SELECT to_regclass(%s)", (marker,)).fetchone()[0] is not None
        if not filled:
            t = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--events", str(args.events), "--fill-postgres", schema,
                            "--database-url", args.database_url], check=True)
            with psycopg.connect(args.database_url, autocommit=True) as c:
                c.execute(f"CREATE TABLE {marker} (filled_at timestamptz DEFAULT now())")
            notes.append(f"fill: {args.events:,} events appended through OrgHistory into PostgreSQL in "
                         f"{time.perf_counter() - t:.0f} s")
        results = [measure(pg, "postgres")]
    finally:
        close_stores()
        if not args.schema:
            with contextlib.suppress(Exception), psycopg.connect(args.database_url, autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(work, ignore_errors=True)
    report(args, results, notes)


def report(args: argparse.Namespace, results: list[dict], notes: list[str]) -> None:
    print(f"\nrebuild of a {args.events:,}-event history (seeded; one org, 30 years) vs the eventsourcing "
          "library's select_notifications + decode scan of the same store, same run")
    print(f"{'store':<9}{'events':>11}{'scan ev/s':>12}{'rebuild ev/s':>14}{'ratio':>7}{'wall s':>8}  rows written")
    ok = True
    for r in results:
        ratio = r["rebuild"] / r["scan"]
        ok &= ratio >= GOAL
        rows = ", ".join(f"{k} {v:,}" for k, v in r["rows"].items())
        print(f"{r['store']:<9}{r['events']:>11,}{r['scan']:>12,.0f}{r['rebuild']:>14,.0f}{ratio:>7.2f}"
              f"{r['wall']:>8.0f}  {rows}")
        print(f"{'':<9}scan before/after the rebuild: {r['scans'][0]:,.0f} / {r['scans'][1]:,.0f} ev/s; "
              f"live version now {r['live']}")
        print(f"{'':<9}the same scan with orghistory's decoder (events/fastdecode.py): {r['fast_scan']:,.0f} ev/s, "
              f"{r['fast_scan'] / r['scan']:.2f} x")
        print(f"{'':<9}floor (scan + build and write the facts rows alone, no fold): {r['floor']:,.0f} ev/s, "
              f"{r['floor'] / r['scan']:.2f} x scan")
        print(f"{'':<9}resident memory the rebuild added, at its peak: {r['peak_rss'] / 2**20:,.0f} MiB "
              f"(budget {memory_budget() >> 20:,} MiB); the process's peak: {r['peak_total'] / 2**20:,.0f} MiB"
              + ("" if r is results[0] else " (a second rebuild in this process: it reuses memory the first freed, so this reads low)"))
        print(f"{'':<9}times the budget was spent (the fold let go of everything and read back from then on): "
              f"{r['read_backs']}")
    for note in notes:
        print(note)
    print(f"goal: rebuild >= {GOAL} x scan: {'PASS' if ok else 'FAIL'}")
    for r in results:
        if r["floor"] / r["scan"] < GOAL:
            print(f"{r['store']}: even the floor, which folds nothing, is below the goal "
                  f"({r['floor'] / r['scan']:.2f} x scan): no rebuild that stores the facts table reaches it here")


if __name__ == "__main__":
    main()
