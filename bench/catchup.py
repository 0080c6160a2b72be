"""Benchmark: the incremental catch-up's fold rate, against the library's scan of the same events.

    .venv/bin/python bench/catchup.py [--facts 20000] [--store sqlite,postgres]

On each store, fresh: one organization with one team and 200 registered people, caught up. Then,
``--facts`` facts of team churn (load.py's ingest phase: each person joins the team, later leaves
it, in date order) are appended 1,000 at a time through ``OrgHistory.append``, and after each
batch, in the same process, in this order:

- the baseline: the eventsourcing library reads the batch's events back,
  ``recorder.select_notifications`` plus ``mapper.to_domain_event`` for each (what merely reading
  them costs);
- ``workers.catchup.catch_up``, what an ``orghistory worker`` runs: the fold of the batch into the
  live version, its rows written with the tracked position in one transaction.

It prints the append, scan and catch-up rates and catch-up / scan. There is no goal on this ratio
itself: it is the fold's share of issue 12's ingest goal (the fold keeping up with the writers),
measured apart from HTTP and from the writers' competition for the cores.

A benchmark, not a test: the ratio is against a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from board_asof import Stores, on_each_store, progress_bar, store_arguments  # noqa: E402
from load import churn  # noqa: E402

from bench.stores import close_stores, stores_for  # noqa: E402
from workers.catchup import catch_up  # noqa: E402

BATCH = 1000
PEOPLE = 200


def measure(stores: Stores, n: int) -> dict[str, float]:
    settings = stores.settings("catchup")
    close_stores()
    folded = stores_for(settings)
    app = folded.app
    stores.closers += [app.close, folded.db.close]
    app.register_org("acme", "Acme")
    app.append("acme", [{"type": "unit_formed", "unit": "ingest", "name": "Ingest", "kind": "team",
                         "effective": "2000"}])
    for p in range(PEOPLE):
        app.register_person(f"ingest-{p}", f"Ingest {p}")
    catch_up(folded)
    facts = churn(n, PEOPLE)
    spent = {"append": 0.0, "scan": 0.0, "catch-up": 0.0}
    with progress_bar("facts/s") as bar:
        task = bar.add_task(f"{stores.kind}: append, scan, catch up", total=n)
        for i in range(0, n, BATCH):
            after = app.head_position()
            t = time.perf_counter()
            app.append("acme", facts[i:i + BATCH], writer="bench")
            spent["append"] += time.perf_counter() - t
            t = time.perf_counter()
            start = after
            while True:
                notes = app.recorder.select_notifications(start=start, limit=BATCH, inclusive_of_start=False)
                if not notes:
                    break
                for note in notes:
                    app.mapper.to_domain_event(note)
                start = notes[-1].id
            spent["scan"] += time.perf_counter() - t
            t = time.perf_counter()
            catch_up(folded)
            spent["catch-up"] += time.perf_counter() - t
            bar.advance(task, len(facts[i:i + BATCH]))
    return {name: n / seconds for name, seconds in spent.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--facts", type=int, default=20_000)
    store_arguments(ap)
    args = ap.parse_args(argv)
    results = on_each_store(args, lambda stores: measure(stores, args.facts))
    print(f"catch-up of {args.facts:,} facts of team churn, {BATCH:,} appended then folded at a time, one process; "
          "the library's scan of each batch is the baseline")
    for kind, r in results.items():
        print(f"  {kind:<9} append {r['append']:>8,.0f} facts/s   scan {r['scan']:>8,.0f} ev/s   "
              f"catch-up {r['catch-up']:>8,.0f} ev/s   catch-up / scan {r['catch-up'] / r['scan']:.2f}   "
              f"catch-up / append {r['catch-up'] / r['append']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
