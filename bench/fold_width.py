"""Benchmark: does folding a fact cost more when its person holds many seats at once?

    .venv/bin/python bench/fold_width.py [--facts 40000] [--wide 100]

Two synthetic histories with the same number of facts, folded in process by the engine both the
rebuild and the catch-up use (``Projector`` over a ``MemoryStore``, no database, so only the fold
is timed): in the *narrow* one each person holds one team seat at a time; in the *wide* one each
person holds ``--wide`` seats at once (2,000 people across 100 teams in the issue's profile). Both
then churn: a person leaves one seat and takes it again, in valid-time order. The baseline is the
narrow history's rate in the same run; the goal is a wide rate of at least 0.8 x it (a fact's cost
does not grow with the seats its person holds).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from events.recorded import RecordedEvent  # noqa: E402
from events.vocabulary import parse_fact  # noqa: E402
from projections.projector import Projector  # noqa: E402
from projections.store import MemoryStore  # noqa: E402

GOAL = 0.8
ORG = "acme"


def history(facts: int, wide: int, seed: int = 7) -> list[RecordedEvent]:
    """Teams formed, people seated in ``wide`` teams each, then leave-and-rejoin churn."""
    rnd = random.Random(seed)
    teams = max(wide, 10)
    people = max(1, facts // (wide * 6))  # a third of the facts seat people, the rest churn
    day = date(1990, 1, 1)
    raw: list[dict] = [{"type": "unit_formed", "unit": f"team-{t}", "name": f"Team {t}", "kind": "team",
                        "effective": day.isoformat()} for t in range(teams)]
    seats: list[tuple[str, str]] = []
    for p in range(people):
        day += timedelta(days=1)
        for t in rnd.sample(range(teams), wide):
            raw.append({"type": "member_joined", "person": f"p{p}", "unit": f"team-{t}", "effective": day.isoformat()})
            seats.append((f"p{p}", f"team-{t}"))
    while len(raw) < facts:
        person, unit = rnd.choice(seats)
        day += timedelta(days=1)
        raw.append({"type": "member_left", "person": person, "unit": unit, "cause": "resigned",
                    "effective": day.isoformat()})
        day += timedelta(days=1)
        raw.append({"type": "member_joined", "person": person, "unit": unit, "effective": day.isoformat()})
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    out = [RecordedEvent(1, None, ORG, "org_registered", at, None, {"type": "org_registered", "name": "Acme"})]
    for i, fact in enumerate(raw[:facts]):
        fields = parse_fact(fact)
        out.append(RecordedEvent(i + 2, f"{ORG}@{i + 2}", ORG, fields["type"], at + timedelta(microseconds=i), None,
                                 fields))
    return out


def fold_rate(events: list[RecordedEvent]) -> float:
    gc.collect()
    store = MemoryStore()
    projector = Projector(store=store)
    started = time.perf_counter()
    for i in range(0, len(events), 1000):
        projector.apply(events[i:i + 1000])
        store.take()  # what a flush hands the writer: the fold's bookkeeping, without the I/O
    return len(events) / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--facts", type=int, default=40_000)
    ap.add_argument("--wide", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    narrow, wide = history(args.facts, 1), history(args.facts, args.wide)
    rates: dict[str, list[float]] = {"narrow": [], "wide": []}
    for _ in range(args.rounds):  # interleaved, so load on the shared machine hits both alike
        rates["narrow"].append(fold_rate(narrow))
        rates["wide"].append(fold_rate(wide))
    n, w = max(rates["narrow"]), max(rates["wide"])
    print(f"fold in process (MemoryStore, no I/O), {args.facts:,} facts each, best of {args.rounds} interleaved")
    print(f"  narrow: 1 seat per person at a time      {n:10,.0f} ev/s   (baseline)")
    print(f"  wide:   {args.wide} seats per person at once   {w:10,.0f} ev/s")
    print(f"  ratio wide / narrow = {w / n:.2f}   goal >= {GOAL}  {'PASS' if w / n >= GOAL else 'FAIL'}")


if __name__ == "__main__":
    main()
