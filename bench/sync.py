"""Benchmark: importing a dataset as a sync, against appending the same facts.

    .venv/bin/python bench/sync.py [--memberships 20000] [--store sqlite|postgres|both]

For one made-up register of N memberships (N/10 people, a tenth of the memberships ended), in a
fresh store, in one run:

- baseline: the same facts (units, joins, leaves) appended with ``OrgHistory.append`` in batches
  of 1,000, the people registered first: what loading the file cost before imports were syncs;
- first import: ``OrgHistory.sync`` of the document (plan, checks, one transaction);
- nightly, unchanged: the same document again (plans, finds nothing, stores nothing);
- nightly, 1% changed: ends added to 1% of the memberships.

It prints each time and its ratio to the baseline. The goals: a first import within 2x of the
baseline (it checks and records as much, plus the source's memory, in one transaction), and an
unchanged nightly sync under 0.5x (it plans but writes nothing).

A benchmark, not a test: it prints numbers and ratios against a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.stores import close_stores, stores_for  # noqa: E402
from events import imports  # noqa: E402
from events.settings import Settings  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def register(n: int) -> dict:
    people = max(1, n // 10)
    return {"persons": [{"id": f"p{i}", "name": f"Member {i}"} for i in range(people)],
            "organizations": [{"id": "assembly", "name": "Assembly", "classification": "legislature"},
                              {"id": "party-a", "name": "Party A"}, {"id": "party-b", "name": "Party B"}],
            "memberships": [{"id": f"m{i}", "person_id": f"p{i % people}", "organization_id": "assembly",
                             "start_date": f"{1990 + i % 30}-{1 + i % 12:02d}-01",
                             **({"end_date": f"{1991 + i % 30}-06-30"} if i % 10 == 0 else {}),
                             **({"on_behalf_of_id": "party-a" if i % 3 else "party-b"} if i % 2 else {}),
                             "sources": [{"url": f"https://assembly.example/m/{i}"}]} for i in range(n)]}


def baseline(app, doc: dict) -> float:
    """The same facts by plain batched appends (the pre-sync way of loading a file)."""
    started = time.perf_counter()
    app.register_org("baseline", "Baseline")
    for p in doc["persons"]:
        app.register_person(f"baseline-{p['id']}", p["name"])
    facts = [{"type": "unit_formed", "unit": o["id"], "name": o["name"], "kind": "team", "effective": "unknown"}
             for o in doc["organizations"]]
    for m in doc["memberships"]:
        units = [(m["organization_id"], "member")] + ([(m["on_behalf_of_id"], "member")] if m.get("on_behalf_of_id")
                                                      else [])
        for unit, role in units:
            common = {"unit": unit, "person": f"baseline-{m['person_id']}", "tenure": m["id"],
                      "sources": m["sources"]}
            facts.append({"type": "member_joined", "role": role, "effective": m["start_date"], **common})
            if m.get("end_date"):
                facts.append({"type": "member_left", "effective": m["end_date"], **common})
    for i in range(0, len(facts), 1000):
        app.append("baseline", facts[i:i + 1000])
    return time.perf_counter() - started


def timed(app, doc: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    report = app.sync("assembly", imports.read("popolo", doc), source="assembly-register")
    return time.perf_counter() - started, report


def run(store: str, n: int) -> dict:
    tmp = Path(tempfile.mkdtemp())
    schema = f"bench_sync_{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=tmp) if store == "sqlite" else Settings(database_url=PG_URL, database_schema=schema)
    try:
        close_stores()
        app = stores_for(settings).app
        doc = register(n)
        base = baseline(app, doc)
        first, report = timed(app, doc)
        assert report["stored"]
        again, same = timed(app, doc)
        assert not same["stored"]
        for m in doc["memberships"][1::100]:
            m["end_date"] = "2030-12-31"
        nightly, changed = timed(app, doc)
        assert changed["summary"]["memberships"]["ended"] == len(doc["memberships"][1::100])
        return {"store": store, "events": report["events"]["count"], "baseline": base, "first": first,
                "unchanged": again, "changed": nightly}
    finally:
        close_stores()
        shutil.rmtree(tmp, ignore_errors=True)
        if store == "postgres":
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memberships", type=int, default=20_000)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    table = Table("store", "events", "append s", "import s", "/append", "same s", "/append", "1% s", "/append",
                  title=f"sync of {args.memberships:,} memberships (append: the baseline; same: the "
                        "document again; 1%: ends added to 1% of it)")
    for store in stores:
        r = run(store, args.memberships)
        table.add_row(r["store"], f"{r['events']:,}", f"{r['baseline']:.2f}", f"{r['first']:.2f}",
                      f"{r['first'] / r['baseline']:.2f}", f"{r['unchanged']:.2f}",
                      f"{r['unchanged'] / r['baseline']:.2f}", f"{r['changed']:.2f}",
                      f"{r['changed'] / r['baseline']:.2f}")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
