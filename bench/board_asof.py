"""Benchmark: the as-of board query on a small and a large history, and the append rate.

    .venv/bin/python bench/board_asof.py [--sizes 1000,100000] [--store sqlite|postgres]

For each size N it fills a fresh store with a seeded, realistic history of N facts for one
organization over ~30 years (appended through ``OrgHistory.append`` in batches of 1000), folds it
with ``catch_up``, and then times ``queries.members`` for the board at a date near the end of the
history and at a date in the middle. The query is an index range lookup, so its median should
barely move with the size of the history: the goal is median(largest)/median(smallest) < 1.5.

It then measures, in the same run and interleaved in blocks so both see the same machine load,
single-fact ``app.append`` calls per second against the eventsourcing library's bare ``save`` of a
trivial aggregate (one event per save) on the same kind of store.

A benchmark, not a test: it prints numbers and ratios against baselines measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Callable, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402

from bench.stores import stores_for  # noqa: E402
from events.domain import Person  # noqa: E402
from events.settings import Settings  # noqa: E402
from projections import queries  # noqa: E402
from projections.fold import OPEN_END  # noqa: E402
from projections.schema import FOREVER, WIDE  # noqa: E402
from service.progress import progress  # noqa: E402
from workers.catchup import catch_up  # noqa: E402

ORG = "acme"
START = date(1994, 1, 3)
END = date(2024, 12, 20)
QUERY_END = date(2024, 6, 28)  # near the end of the history
QUERY_MID = date(2009, 7, 1)  # the middle of it
APPEND_BATCH = 1000
PEOPLE_BATCH = 500
GOAL = 1.5

CAUSES = ("resigned", "term-ended", "replaced", "fired", "removed", "died", "unknown")
CAUSE_WEIGHTS = (40, 20, 10, 8, 5, 2, 15)
EXEC_ROLES = ("ceo", "cfo", "cto", "coo", "general-counsel", "chief-people-officer")
FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Lars",
         "Maya", "Nikhil", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tariq", "Uma", "Viktor", "Wen", "Yusuf")
LAST = ("Abara", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hale", "Ito", "Jensen", "Kowalski",
        "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Rossi", "Sato", "Tanaka", "Varga", "Weber", "Zhou")


# --- progress ----------------------------------------------------------------------------------

ERR = Console(stderr=True)
if not ERR.is_terminal:
    ERR = Console(stderr=True, width=120)


def progress_bar(unit: str = "ev/s") -> Progress:
    return progress(ERR, unit)


# --- the synthetic history -----------------------------------------------------------------------

@dataclass
class History:
    n: int
    seats: int
    teams: int
    people: dict[str, str] = field(default_factory=dict)  # slug -> name
    facts: list[tuple[int, int, int, dict]] = field(default_factory=list)  # (day, order, seq, fact)
    counts: dict[str, int] = field(default_factory=dict)

    def sorted_facts(self) -> list[dict]:
        return [f for *_, f in sorted(self.facts, key=lambda x: x[:3])]


class Generator:
    """A seeded org history: a board with fixed-size churn (~2% of facts), teams with the rest."""

    def __init__(self, n: int, seed: int = 20240611):
        self.n = n
        self.rng = random.Random(seed * 1_000_003 + n)
        self.seq = 0
        # The same board size at every N, so the query returns the same rows and only the history grows.
        seats = random.Random(seed).randint(7, 12)
        self.h = History(n=n, seats=seats, teams=max(5, n // 200))
        self.free: list[tuple[int, str]] = []  # team people between tenures: (free from day, slug)

    # small helpers
    def day(self, d: date) -> int:
        return d.toordinal()

    def text(self, day: int, imprecise: bool = False) -> str:
        d = date.fromordinal(day)
        if imprecise:
            r = self.rng.random()
            if r < 0.08:
                return f"{d.year:04d}-{d.month:02d}"
            if r < 0.10:
                return f"{d.year:04d}"
        return d.isoformat()

    def person(self, prefix: str) -> str:
        slug = f"{prefix}-{len(self.h.people) + 1}"
        self.h.people[slug] = f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)} {len(self.h.people) + 1}"
        return slug

    def emit(self, day: int, fact: dict, order: int = 2) -> None:
        # order: unit_formed first on its day; everything else in the order it was generated, so a
        # seat that changes hands twice on one day still reads leave, join, leave, join
        self.seq += 1
        self.h.facts.append((day, order, self.seq, fact))
        self.h.counts[fact["type"]] = self.h.counts.get(fact["type"], 0) + 1

    def cause(self) -> str:
        return self.rng.choices(CAUSES, CAUSE_WEIGHTS)[0]

    def source(self, day: int) -> list[dict]:
        if self.rng.random() < 0.3:
            return [{"url": f"https://news.example.org/{day}/{self.seq}", "publisher": "Example News"}]
        return []

    # the parts
    def board(self, budget: int) -> None:
        start = self.day(START)
        self.emit(start, {"type": "unit_formed", "unit": "board", "name": "Board of Directors", "kind": "board",
                          "effective": START.isoformat()}, order=0)
        seats = []
        for i in range(self.h.seats):
            p = self.person("d")
            role = "chair" if i == 0 else "director"
            seats.append((p, role))
            self.emit(start, {"type": "member_joined", "unit": "board", "person": p, "role": role,
                              "effective": START.isoformat(), "confidence": "confirmed"})
        replacements = max(0, (budget - 1 - self.h.seats) // 2)
        days = sorted(self.rng.randint(start + 30, self.day(END)) for _ in range(replacements))
        for d in days:
            i = self.rng.randrange(len(seats))
            out, role = seats[i]
            self.emit(d, {"type": "member_left", "unit": "board", "person": out, "role": role,
                          "cause": self.cause(), "effective": self.text(d), "sources": self.source(d)})
            inc = self.person("d")
            seats[i] = (inc, role)
            self.emit(d, {"type": "member_joined", "unit": "board", "person": inc, "role": role,
                          "effective": self.text(d), "sources": self.source(d)})

    def roles(self, budget: int) -> None:
        names = list(EXEC_ROLES) + [f"vp-{i}" for i in range(max(0, self.h.teams // 4 - len(EXEC_ROLES)))]
        used = 0
        while used < budget:
            role = self.rng.choice(names)
            d = self.rng.randint(self.day(START), self.day(END) - 60)
            p = self.person("x")
            self.emit(d, {"type": "role_assigned", "person": p, "role": role, "effective": self.text(d)})
            used += 1
            end = d + max(90, int(self.rng.expovariate(1 / (5 * 365))))
            if end < self.day(END) and used < budget:
                self.emit(end, {"type": "role_ended", "person": p, "role": role, "cause": self.cause(),
                                "effective": self.text(end)})
                used += 1

    def team_person(self, d: int) -> str:
        if self.free and self.rng.random() < 0.35:
            for _ in range(5):
                k = self.rng.randrange(len(self.free))
                if self.free[k][0] < d:
                    slug = self.free[k][1]
                    self.free[k] = self.free[-1]
                    self.free.pop()
                    return slug
        return self.person("p")

    def teams(self, budget: int) -> None:
        """Team formations, a few timeline notes, and tenures for the rest of the budget."""
        formed = []
        for t in range(self.h.teams):
            d = self.day(START) if t < 5 else self.rng.randint(self.day(START), self.day(date(2019, 1, 1)))
            slug = f"team-{t + 1}"
            formed.append((slug, d))
            self.emit(d, {"type": "unit_formed", "unit": slug, "name": f"Team {t + 1}", "kind": "team",
                          "effective": date.fromordinal(d).isoformat()}, order=0)
        used = self.h.teams
        notes = int(budget * 0.02)
        for _ in range(notes):
            d = self.rng.randint(self.day(START), self.day(END))
            self.emit(d, {"type": "noted", "title": f"Reorganisation memo {self.seq}", "effective": self.text(d)})
        used += notes
        last = self.day(END)
        while used < budget:
            unit, formed_day = self.rng.choice(formed)
            d = self.rng.randint(formed_day, last - 1)
            lead = self.rng.random() < 0.1
            p = self.team_person(d)
            role = "lead" if lead else "member"
            imprecise = self.rng.random() < 0.5
            self.emit(d, {"type": "member_joined", "unit": unit, "person": p, "role": role,
                          "effective": self.text(d, imprecise), "sources": self.source(d)})
            used += 1
            while used < budget:
                end = d + max(60, int(self.rng.expovariate(1 / (4 * 365))))
                if end >= last:
                    break
                precise = end - d < 400 or not imprecise
                if lead and self.rng.random() < 0.5:
                    # the lead hands over: one fact ends one tenure and starts the next
                    inc = self.team_person(end)
                    self.emit(end, {"type": "lead_replaced", "unit": unit, "outgoing": p, "incoming": inc,
                                    "effective": self.text(end)})
                    used += 1
                    self.free.append((end, p))
                    p, d, imprecise = inc, end, False
                    continue
                if self.rng.random() < 0.15:
                    self.emit(end, {"type": "resigned", "person": p, "effective": self.text(end, not precise)})
                else:
                    self.emit(end, {"type": "member_left", "unit": unit, "person": p, "role": role,
                                    "cause": self.cause(), "effective": self.text(end, not precise)})
                used += 1
                self.free.append((end, p))
                break

    def build(self) -> History:
        board = max(self.h.seats + 1, round(self.n * 0.02))
        roles = round(self.n * 0.03)
        self.board(board)
        self.roles(roles)
        self.teams(self.n - len(self.h.facts))
        assert len(self.h.facts) == self.n, (len(self.h.facts), self.n)
        return self.h


# --- stores ------------------------------------------------------------------------------------

class Stores:
    """Fresh stores for one run, removed at the end (temp dirs, or PostgreSQL schemas)."""

    def __init__(self, kind: str, database_url: str, tmp_root: str | None):
        self.kind = kind
        self.url = database_url
        self.root = Path(tempfile.mkdtemp(prefix="orghistory-bench-", dir=tmp_root))
        self.schemas: list[str] = []
        self.closers: list = []

    def settings(self, label: str) -> Settings:
        data_dir = self.root / label
        if self.kind == "postgres":
            schema = f"bench_{uuid.uuid4().hex[:12]}_{label}"
            self.schemas.append(schema)
            with self.admin() as conn:  # the bare library app needs it before open_stores would make it
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            return Settings(data_dir=data_dir, database_url=self.url, database_schema=schema)
        return Settings(data_dir=data_dir)

    def admin(self):
        import psycopg

        p = Settings(database_url=self.url).postgres_params()
        return psycopg.connect(dbname=p["dbname"], host=p["host"], port=p["port"], user=p["user"],
                               password=p["password"] or None, autocommit=True)

    def cleanup(self) -> None:
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                close()
        if self.schemas:
            with self.admin() as conn:
                for schema in self.schemas:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(self.root, ignore_errors=True)


T = TypeVar("T")


def store_arguments(ap: argparse.ArgumentParser) -> None:
    """``--store`` (comma-separated: sqlite, postgres) and ``--database-url``, for ``on_each_store``."""
    ap.add_argument("--store", default="sqlite,postgres")
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")


def on_each_store(args: argparse.Namespace, measure: Callable[[Stores], T]) -> dict[str, T]:
    """``measure`` on fresh stores of each kind ``--store`` names, removed after each."""
    results = {}
    for kind in args.store.split(","):
        stores = Stores(kind, args.database_url, None)
        try:
            results[kind] = measure(stores)
        finally:
            stores.cleanup()
    return results


class TooSlow(Exception):
    pass


@dataclass
class Filled:
    n: int
    settings: Settings
    app: object
    db: object
    history: History
    register_s: float  # people, in batches of PEOPLE_BATCH saves
    append_s: float  # facts, in batches of APPEND_BATCH through OrgHistory.append
    facts_from: int  # first log position of a fact (before it: org and people registrations)
    stored: int  # log head: every stored event the projector folds
    project_s: float
    applied: int
    complete: bool
    facts_rate: float  # projection rate over the facts only (positions >= facts_from)
    tail_rate: float  # projection rate over the last 10% of the log


def fill(stores: Stores, n: int, budget_minutes: float, analyze: bool = True) -> Filled:
    t_gen = time.perf_counter()
    history = Generator(n).build()
    facts = history.sorted_facts()
    ERR.print(f"[bold]N={n:,}[/]: generated {len(facts):,} facts, {len(history.people):,} people, "
              f"{history.teams} teams, {history.seats} board seats in {time.perf_counter() - t_gen:.1f}s")
    settings = stores.settings(f"n{n}")
    app, db = stores_for(settings).app, stores_for(settings).db
    stores.closers += [app.close, db.close]

    t0 = time.perf_counter()
    app.register_org(ORG, "Acme Holdings")
    people = list(history.people.items())
    with progress_bar() as bar:
        task = bar.add_task(f"register people N={n:,}", total=len(people))
        for i in range(0, len(people), PEOPLE_BATCH):
            chunk = people[i:i + PEOPLE_BATCH]
            app.save(*[Person(slug=s, name=name, writer=None) for s, name in chunk])  # one transaction
            bar.advance(task, len(chunk))
        register_s = time.perf_counter() - t0
        facts_from = app.head_position() + 1
        t0 = time.perf_counter()
        task = bar.add_task(f"append facts    N={n:,}", total=len(facts))
        for i in range(0, len(facts), APPEND_BATCH):
            chunk = facts[i:i + APPEND_BATCH]
            app.append(ORG, chunk, writer="bench")
            bar.advance(task, len(chunk))
    append_s = time.perf_counter() - t0
    stored = app.head_position()

    marks: list[tuple[float, int]] = []  # (seconds since start, last position) after each batch
    complete = True
    started = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task(f"project         N={n:,}", total=stored)

        def report(applied: int, last: int) -> None:
            elapsed = time.perf_counter() - started
            marks.append((elapsed, last))
            bar.update(task, completed=last)
            if elapsed > 30 and last < stored and elapsed * stored / last > budget_minutes * 60:
                raise TooSlow(f"projecting {stored:,} events would take ~{elapsed * stored / last / 60:.0f} min "
                              f"(budget {budget_minutes:g} min); stopped at position {last:,}")

        try:
            catch_up(stores_for(settings), progress=report)
        except TooSlow as e:
            ERR.print(f"[red]{e}[/]")
            complete = False
    project_s = time.perf_counter() - started
    if analyze and stores.kind == "postgres":
        # What autovacuum does to a live store, done now: planner statistics, and the visibility
        # map that lets index-only scans skip the heap (a freshly filled table has neither).
        with db.read() as live:
            suffix = f"_v{live.version}"
        tables = [t + suffix for t in ("tenures", "roles", "spans", "units", "facts", "fact_units", "fact_people",
                                        "people", "orgs")]
        with stores.admin() as c:
            for table in tables:
                c.execute(f'VACUUM (ANALYZE) "{settings.database_schema}".{table}')
            # Checked, not assumed: for months this branch never ran (a wrong condition) while the
            # output said the tables were analyzed. reltuples is -1 until a table's first ANALYZE.
            bare = [r[0] for r in c.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = ANY(%s) AND c.reltuples < 0",
                (settings.database_schema, tables)).fetchall()]
            if bare:
                raise RuntimeError(f"tables without planner statistics after VACUUM (ANALYZE): {bare}")
    applied = marks[-1][1] if marks else 0  # SQLite positions have no gaps; close enough on PostgreSQL

    def rate_from(position: int) -> float:
        """Events per second from the first batch ending at or after ``position`` to the end."""
        before = [(t, p) for t, p in marks if p < position]
        t0, p0 = before[-1] if before else (0.0, 0)
        t1, p1 = marks[-1] if marks else (0.0, 0)
        return (p1 - p0) / (t1 - t0) if t1 > t0 else float("nan")

    return Filled(n, settings, app, db, history, register_s, append_s, facts_from, stored, project_s, applied,
                  complete, rate_from(facts_from), rate_from(int(stored * 0.9)))


# --- timing ------------------------------------------------------------------------------------

def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


DATES = (("end", QUERY_END), ("mid", QUERY_MID))


@dataclass
class QueryStats:
    samples: dict = field(default_factory=dict)  # (n, date) -> [microseconds]
    rows: dict = field(default_factory=dict)  # (n, date) -> members returned
    scanned: dict = field(default_factory=dict)  # (n, date) -> current board rows in the index range


def time_queries(filled: list[Filled], reps: int, warmup: int) -> QueryStats:
    """Interleaved: every round times each (size, date) once in shuffled order, so load drift hits all alike.

    Each store gets one read transaction (as one request would) and its board units are looked up
    once; what is timed is ``queries.members`` for those units at the date.
    """
    st = QueryStats(samples={(f.n, d): [] for f in filled for _, d in DATES})
    clock = time.perf_counter_ns
    with contextlib.ExitStack() as stack, progress_bar("q/s") as bar:
        targets = []
        for f in filled:
            c = stack.enter_context(f.db.read())
            units = queries.board_units(c, ORG)
            for _, d in DATES:
                st.rows[(f.n, d)] = len(queries.members(c, ORG, units, d, None))
                # what the lookup walks: open rows started by the date, plus the closed rows
                # listed under the date's year in `spans` (all versions, before the known_at filter)
                st.scanned[(f.n, d)] = int(c.scalar(
                    "SELECT count(*) FROM tenures WHERE org=? AND unit=? AND end_hi=? AND recorded_to=? "
                    "AND start_lo <= ?", (ORG, "board", OPEN_END, FOREVER, d.isoformat()))) + int(c.scalar(
                    "SELECT count(*) FROM spans WHERE kind='tenures' AND org=? AND unit=? AND year IN (?, ?)",
                    (ORG, "board", WIDE, d.year)))
                targets.append((f.n, d, c, units))
        task = bar.add_task("as-of board query", total=(reps + warmup) * len(targets))
        for r in range(reps + warmup):
            random.Random(r).shuffle(targets)
            for n, d, c, units in targets:
                t = clock()
                queries.members(c, ORG, units, d, None)
                dt = clock() - t
                if r >= warmup:
                    st.samples[(n, d)].append(dt / 1000)
            bar.advance(task, len(targets))
    for f in filled:
        for _, d in DATES:
            if st.rows[(f.n, d)] != f.history.seats:
                ERR.print(f"[yellow]note: N={f.n:,} board at {d} has {st.rows[(f.n, d)]} members, "
                          f"expected {f.history.seats}[/]")
    return st


class Tally(Aggregate):
    """The library's baseline: a trivial aggregate, one event per save."""

    def __init__(self) -> None:
        self.count = 0

    @event("Counted")
    def add(self) -> None:
        self.count += 1


class Bare(Application):
    name = "BareBench"


def library_env(settings: Settings) -> dict[str, str]:
    """The store's settings for the library's own recorder: the same database, without ours
    (its hash chain, its chunked inserts), so a baseline measures the library alone."""
    env = settings.eventsourcing_env()
    del env["APPLICATION_RECORDER_TOPIC"]
    return env


def append_rates(stores: Stores, ops: int, block: int = 100) -> dict:
    """Single-fact appends through OrgHistory vs the library's bare save, interleaved in blocks."""
    settings = stores.settings("append")
    app, db = stores_for(settings).app, stores_for(settings).db
    stores.closers += [app.close, db.close]
    app.register_org("bench", "Bench Org")
    people = [f"a-{i}" for i in range(20)]
    for p in people:
        app.register_person(p, f"Appender {p}")
    app.append("bench", [{"type": "unit_formed", "unit": "ops", "name": "Ops", "kind": "team",
                          "effective": START.isoformat()}])

    bare_settings = stores.settings("bare")  # its own SQLite file (own stored_events) or schema
    bare = Bare(env=library_env(bare_settings))
    stores.closers.append(bare.close)
    tally = Tally()
    bare.save(tally)

    counter = {"i": 0}

    def one_append() -> None:
        i = counter["i"]
        counter["i"] += 1
        p = people[(i // 2) % len(people)]
        day = (START + timedelta(days=i)).isoformat()
        if i % 2 == 0:
            fact = {"type": "member_joined", "unit": "ops", "person": p, "effective": day}
        else:
            fact = {"type": "member_left", "unit": "ops", "person": p, "cause": "resigned", "effective": day}
        app.append("bench", [fact])

    def one_save() -> None:
        tally.add()
        bare.save(tally)

    clock = time.perf_counter
    times = {"app": 0.0, "bare": 0.0}
    lat = {"app": [], "bare": []}
    for _ in range(50):  # warm-up
        one_append()
        one_save()
    with progress_bar("ops/s") as bar:
        task = bar.add_task("append vs bare save", total=2 * ops)
        done = 0
        while done < ops:
            k = min(block, ops - done)
            for name, fn in (("app", one_append), ("bare", one_save)) if done % (2 * block) == 0 else (
                    ("bare", one_save), ("app", one_append)):
                t0 = clock()
                for _ in range(k):
                    t = clock()
                    fn()
                    lat[name].append(clock() - t)
                times[name] += clock() - t0
                bar.advance(task, k)
            done += k
    return {"ops": ops, "app_rate": ops / times["app"], "bare_rate": ops / times["bare"],
            "app_p50_ms": statistics.median(lat["app"]) * 1000, "bare_p50_ms": statistics.median(lat["bare"]) * 1000}


# --- report ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,100000", help="history sizes in facts, comma-separated")
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--reps", type=int, default=2000, help="timed repetitions per query (after warm-up)")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--append-ops", type=int, default=2000, help="single-fact appends and bare saves each")
    ap.add_argument("--budget-minutes", type=float, default=15.0,
                    help="stop projecting a size whose catch-up would take longer than this")
    ap.add_argument("--no-analyze", action="store_true",
                    help="PostgreSQL: do not ANALYZE the read tables after the fill (default: analyze)")
    ap.add_argument("--keep", action="store_true", help="keep the filled stores (to EXPLAIN queries afterwards)")
    ap.add_argument("--tmp", default=None, help="where the SQLite temp dirs go (default: the system temp dir)")
    args = ap.parse_args(argv)
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})

    stores = Stores(args.store, args.database_url, args.tmp)
    wall = time.perf_counter()
    try:
        filled = [fill(stores, n, args.budget_minutes, not args.no_analyze) for n in sizes]
        timed = [f for f in filled if f.complete]
        stats = time_queries(timed, args.reps, args.warmup) if timed else QueryStats()
        rates = append_rates(stores, args.append_ops)
    finally:
        if args.keep:
            ERR.print(f"kept: {stores.root} {' '.join(stores.schemas)}")
        else:
            stores.cleanup()
    report(args, filled, timed, stats, rates, time.perf_counter() - wall)
    return 0


def report(args, filled: list[Filled], timed: list[Filled], st: QueryStats, rates: dict, wall: float) -> None:
    print(f"orghistory board as-of benchmark: store={args.store}, python {sys.version.split()[0]}, "
          f"eventsourcing {version('eventsourcing')}, {os.cpu_count()} CPUs"
          + ("" if args.store == "sqlite" else ", read tables " + ("not " if args.no_analyze else "") + "VACUUM ANALYZEd"))
    print()
    print("fill (one org, ~30 years; people saved in batches of 500, facts appended in batches of 1000):")
    head = (f"{'size':>8} {'people':>7} {'log':>8} {'register s':>10} {'append s':>8} {'append f/s':>10} "
            f"{'project s':>9} {'all ev/s':>8} {'facts ev/s':>10} {'last10% ev/s':>12}")
    print(head)
    print("-" * len(head))
    for f in filled:
        print(f"{f.n:>8,} {len(f.history.people):>7,} {f.stored:>8,} {f.register_s:>10.1f} {f.append_s:>8.1f} "
              f"{f.n / f.append_s:>10,.0f} {f.project_s:>9.1f} {f.applied / f.project_s:>8,.0f} "
              f"{f.facts_rate:>10,.0f} {f.tail_rate:>12,.0f}"
              + ("" if f.complete else f"  STOPPED at {f.applied:,} of {f.stored:,} (budget)"))
    print()
    print(f"as-of board query (queries.members, board units, known_at=None): {args.reps} timed calls per cell "
          f"after {args.warmup} warm-up, interleaved")
    head = (f"{'size':>8} {'seats':>5} {'date':>10} {'rows':>4} {'scanned':>7} {'p50 us':>8} {'p90 us':>8}")
    print(head)
    print("-" * len(head))
    for f in timed:
        for label, d in DATES:
            xs = st.samples[(f.n, d)]
            print(f"{f.n:>8,} {f.history.seats:>5} {d.isoformat():>10} {st.rows[(f.n, d)]:>4} "
                  f"{st.scanned[(f.n, d)]:>7,} {statistics.median(xs):>8.1f} {pct(xs, 0.9):>8.1f}   ({label})")
    for f in filled:
        if not f.complete:
            print(f"{f.n:>8,}  not timed: its projection was stopped")
    if len(timed) >= 2:
        small, large = timed[0], timed[-1]
        print()
        for label, d in DATES:
            a = statistics.median(st.samples[(small.n, d)])
            b = statistics.median(st.samples[(large.n, d)])
            ratio = b / a
            print(f"ratio {label} ({d}): median N={large.n:,} / N={small.n:,} = {b:.1f} / {a:.1f} us = "
                  f"{ratio:.2f}   goal < {GOAL}  {'PASS' if ratio < GOAL else 'MISS'}")
    elif len(filled) >= 2:
        print("\nratio not computed: a size's projection was stopped (see --budget-minutes)")
    print()
    print(f"append: {rates['ops']} single-fact OrgHistory.append calls vs {rates['ops']} bare eventsourcing saves "
          f"(trivial aggregate, one event each), interleaved in blocks of 100:")
    print(f"  OrgHistory.append        {rates['app_rate']:>8,.0f} calls/s   (p50 {rates['app_p50_ms']:.2f} ms)")
    print(f"  eventsourcing bare save  {rates['bare_rate']:>8,.0f} saves/s   (p50 {rates['bare_p50_ms']:.2f} ms)")
    print(f"  ratio append / bare = {rates['app_rate'] / rates['bare_rate']:.2f}  "
          f"(an append costs {rates['bare_rate'] / rates['app_rate']:.1f}x a bare save)")
    print(f"\ntotal wall time {wall:.0f}s")


if __name__ == "__main__":
    raise SystemExit(main())
