"""Benchmark: the same as-of answers in process on PostgreSQL against SQLite, in one run.

    .venv/bin/python bench/asof_stores.py [--facts 20000] [--reps 2000]

The ``board_asof.py`` history of ``--facts`` facts is filled and folded into a fresh SQLite store
and a fresh PostgreSQL schema (analyzed afterwards, as autovacuum would). Then, interleaved in
shuffled order so load spikes hit both alike, each store answers:

- ``members``: ``queries.members`` for the board at a date inside one open read transaction (what
  ``board_asof.py`` times);
- ``read+members``: what one request does, a read transaction from the pool (``db.read()``: begin,
  bind the live version) around the same query, then commit;
- ``roles``: who held which organization-level role at the date.

Two dates alternate (one near the end of the history, one in its middle). It prints each store's
p50 and p90 and PostgreSQL's p50 over SQLite's. Goal (issue 12): PostgreSQL within 2 x SQLite.

A benchmark, not a test: the ratio is against a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from board_asof import DATES, ERR, ORG, Stores, fill, pct, progress_bar  # noqa: E402

from projections import queries  # noqa: E402

GOAL = 2.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--facts", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=2000, help="timed calls per store, query and date")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args(argv)

    kinds = ("sqlite", "postgres")
    stores = {k: Stores(k, args.database_url, None) for k in kinds}
    try:
        filled = {k: fill(stores[k], args.facts, budget_minutes=30) for k in kinds}
        samples = measure(filled, args.reps, args.warmup)
    finally:
        for s in stores.values():
            s.cleanup()

    print(f"as-of answers in process, {args.facts:,} facts, same history on both stores; "
          f"{args.reps} timed calls per cell after {args.warmup} warm-up, interleaved")
    head = f"{'query':<14} {'store':<9} {'p50 us':>8} {'p90 us':>8}"
    print(head)
    print("-" * len(head))
    for q in ("members", "read+members", "roles"):
        for k in kinds:
            xs = samples[(q, k)]
            print(f"{q:<14} {k:<9} {statistics.median(xs):>8.1f} {pct(xs, 0.9):>8.1f}")
        ratio = statistics.median(samples[(q, "postgres")]) / statistics.median(samples[(q, "sqlite")])
        print(f"{q:<14} postgres / sqlite p50 = {ratio:.2f}   goal <= {GOAL}  {'PASS' if ratio <= GOAL else 'MISS'}")
    return 0


def measure(filled: dict, reps: int, warmup: int) -> dict[tuple[str, str], list[float]]:
    """Two phases, each interleaved across the stores: the queries inside one held read transaction,
    then whole requests (a SQLite connection holds one transaction at a time, so not both at once)."""
    samples: dict[tuple[str, str], list[float]] = {}
    with contextlib.ExitStack() as stack:
        calls = []
        for kind, f in filled.items():
            c = stack.enter_context(f.db.read())
            units = queries.board_units(c, ORG)
            for _, d in DATES:
                got = len(queries.members(c, ORG, units, d, None))
                if got != f.history.seats:
                    ERR.print(f"[yellow]{kind}: board at {d} has {got} members, expected {f.history.seats}[/]")
            calls.append(("members", kind, lambda d, c=c, units=units: queries.members(c, ORG, units, d, None)))
            calls.append(("roles", kind, lambda d, c=c: queries.roles(c, ORG, d, None)))
        run(calls, samples, reps, warmup, "as-of, one transaction")
    calls = []
    for kind, f in filled.items():
        with f.db.read() as c:
            units = queries.board_units(c, ORG)

        def request(d, db=f.db, units=units):
            with db.read() as rc:
                return queries.members(rc, ORG, units, d, None)

        calls.append(("read+members", kind, request))
    run(calls, samples, reps, warmup, "as-of, whole requests")
    return samples


def run(calls: list, samples: dict, reps: int, warmup: int, label: str) -> None:
    clock = time.perf_counter_ns
    for q, kind, _ in calls:
        samples[(q, kind)] = []
    with progress_bar("q/s") as bar:
        task = bar.add_task(label, total=(reps + warmup) * len(calls) * len(DATES))
        for r in range(reps + warmup):
            random.Random(r).shuffle(calls)
            for q, kind, fn in calls:
                for _, d in DATES:
                    t = clock()
                    fn(d)
                    dt = clock() - t
                    if r >= warmup:
                        samples[(q, kind)].append(dt / 1000)
            bar.advance(task, len(calls) * len(DATES))


if __name__ == "__main__":
    raise SystemExit(main())
