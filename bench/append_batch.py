"""Benchmark: appending a batch of 1,000 facts against the library's bare save of 1,000 events.

    .venv/bin/python bench/append_batch.py [--batches 20] [--store sqlite,postgres]

On each store, fresh: 200 registered people and one organization with 20 teams. Then, interleaved
(the order alternating each round, so load drift hits both alike):

- ``OrgHistory.append`` of 1,000 facts of team churn (joins, and leaves with a cause), what
  ``POST /v1/orgs/<org>/events`` with a batch runs: parse and check each fact, check the people it
  names, record it on the organization, save in one transaction with the hash chain;
- the baseline: a plain ``eventsourcing.application.Application`` with a trivial aggregate, 1,000
  events triggered and saved with one ``save`` (its own SQLite file or PostgreSQL schema, the same
  persistence settings).

It prints both rates and their ratio. Goal (issue 12): append >= 0.7 x the bare save.

A benchmark, not a test: the ratio is against a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from board_asof import Bare, Stores, Tally, library_env, on_each_store, progress_bar, store_arguments  # noqa: E402

from bench.stores import close_stores, stores_for  # noqa: E402

GOAL = 0.7
BATCH = 1000


class Churn:
    """Batches of team churn: each person joins a team, later leaves it, then joins another."""

    def __init__(self, people: int, teams: int):
        self.people, self.teams = people, teams
        self.seated: dict[str, str] = {}
        self.i = 0

    def batch(self, n: int) -> list[dict]:
        out = []
        for _ in range(n):
            self.i += 1
            person = f"p{self.i * 7919 % self.people}"
            day = f"{1990 + self.i // 3000:04d}-{self.i // 250 % 12 + 1:02d}-{self.i % 28 + 1:02d}"
            if person in self.seated:
                out.append({"type": "member_left", "unit": self.seated.pop(person), "person": person,
                            "cause": "resigned", "effective": day})
            else:
                self.seated[person] = f"team-{self.i % self.teams}"
                out.append({"type": "member_joined", "unit": self.seated[person], "person": person,
                            "effective": day})
        return out


def measure(stores: Stores, batches: int) -> dict[str, list[float]]:
    settings = stores.settings("append")
    close_stores()
    app, db = stores_for(settings).app, stores_for(settings).db
    stores.closers += [app.close, db.close]
    app.register_org("bench", "Bench")
    for p in range(200):
        app.register_person(f"p{p}", f"Person {p}")
    app.append("bench", [{"type": "unit_formed", "unit": f"team-{t}", "name": f"Team {t}", "kind": "team",
                          "effective": "1980"} for t in range(20)])
    churn = Churn(200, 20)
    bare = Bare(env=library_env(stores.settings("bare")))
    stores.closers.append(bare.close)
    tally = Tally()
    bare.save(tally)

    def append() -> None:
        app.append("bench", churn.batch(BATCH), writer="bench")

    def save() -> None:
        for _ in range(BATCH):
            tally.add()
        bare.save(tally)

    for fn in (append, save, append, save):  # warm-up
        fn()
    rates: dict[str, list[float]] = {"append": [], "bare": []}
    with progress_bar("batches/s") as bar:
        task = bar.add_task(f"{stores.kind}: append vs bare save", total=2 * batches)
        for r in range(batches):
            order = (("append", append), ("bare", save)) if r % 2 == 0 else (("bare", save), ("append", append))
            for name, fn in order:
                t = time.perf_counter()
                fn()
                rates[name].append(BATCH / (time.perf_counter() - t))
                bar.advance(task)
    return rates


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=20)
    store_arguments(ap)
    args = ap.parse_args(argv)
    results = on_each_store(args, lambda stores: measure(stores, args.batches))
    print(f"batch append ({BATCH:,} facts of team churn) vs the library's bare save of {BATCH:,} events; "
          f"{args.batches} of each, interleaved; median rates")
    for kind, rates in results.items():
        a, b = statistics.median(rates["append"]), statistics.median(rates["bare"])
        print(f"  {kind:<9} append {a:>8,.0f} facts/s   bare save {b:>8,.0f} events/s   ratio {a / b:.2f}   "
              f"goal >= {GOAL}  {'PASS' if a / b >= GOAL else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
