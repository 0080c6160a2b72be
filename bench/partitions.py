"""Benchmark: what folding partitions of people in parallel processes could give (issue 12, item 4).

    .venv/bin/python bench/partitions.py [--events 1000000] [--partitions 2]

Before building a partitioned rebuild, its ceiling. The fold of ``bench/rebuild.py``'s cached
history (filled by that bench on first use: ``bench/rebuild.py --fill-only``) runs in memory, with
no budget and no writes, through the projector a rebuild uses, in the same run:

1. **one process** folding everything: the baseline;
2. **people**: ``--partitions`` processes at once, each reading and decoding the whole log and
   folding every event, but re-deriving only its own people (``crc32(person) % partitions``). What
   a partition must know of everyone else's facts (corrections, units, who a fact names) it keeps
   as a single process would; only the people's folds and rows are split;
3. **facts**: as many processes, each folding only the facts that name one of its people (a fact
   naming people of two partitions goes to both), and every event that is not such a fact
   (registrations, corrections, units formed and dissolved). Every process still reads and
   decodes the whole log. This is a ceiling: a correction that moves a fact to a person of another
   partition, or a merge across partitions, would need that fact there too, which this run does
   not bring; a real design must.

It prints each form's wall time and its speed-up over one process: the ceiling of item 4 on this
machine, before the writes (which a partition would also share) and the coordination.
A benchmark, not a test: the ratios are against the one-process run of the same invocation.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from board_asof import ERR, progress_bar  # noqa: E402

from events import logreader  # noqa: E402
from events.recorded import RecordedEvent  # noqa: E402
from events.settings import Settings  # noqa: E402
from events.vocabulary import fact_type  # noqa: E402
from projections.projector import Projector  # noqa: E402
from projections.rows import FactRow  # noqa: E402
from projections.store import MemoryStore  # noqa: E402
from workers.runtime import open_stores  # noqa: E402

PAGE = 1000


def partition_of(person: str, partitions: int) -> int:
    return zlib.crc32(person.encode()) % partitions


class PartitionProjector(Projector):
    """Re-derives only the people of partition ``k`` of ``partitions``."""

    def __init__(self, store: MemoryStore, partitions: int, k: int):
        super().__init__(store)
        self.partitions, self.k = partitions, k

    def _rederive(self, org: str, person: str, recorded: str, new: tuple[FactRow, set[str]] | None = None) -> None:
        if partition_of(person, self.partitions) == self.k:
            super()._rederive(org, person, recorded, new)


def names_partition(e: RecordedEvent, partitions: int, k: int) -> bool:
    """Whether partition ``k`` folds ``e`` in the ``facts`` form."""
    spec = fact_type(e.type) if e.org is not None else None
    if spec is None or spec.amends is not None or spec.unit_edge:
        return True  # not a fact about people alone: every partition
    people = spec.people_in(e.fields)
    return not people or any(partition_of(p, partitions) == k for p in people)


def fold(data_dir: str, form: str, partitions: int, k: int, done, results) -> None:
    """One process's fold; its wall time and events folded go to ``results`` (a queue), with ``k``."""
    app = open_stores(Settings(data_dir=Path(data_dir))).app
    store = MemoryStore()
    gc.freeze()  # as a rebuild does: the fold's state out of the collector's generations
    gc.disable()
    started = time.perf_counter()
    folded = 0
    for notes in logreader.pages(app.recorder, 0, PAGE):
        events = [app.decode(n) for n in notes]
        if form == "facts":
            events = [e for e in events if names_partition(e, partitions, k)]
        projector = PartitionProjector(store, partitions, k) if form == "people" else Projector(store)
        projector.apply(events)
        folded += len(events)
        with done.get_lock():
            done.value += len(notes)
    results.put((k, time.perf_counter() - started, folded))


def run(data_dir: str, form: str, partitions: int, total: int) -> tuple[float, list[tuple[float, int]]]:
    """Wall time of ``partitions`` processes folding in ``form`` at once, and each one's."""
    ctx = mp.get_context("fork")  # SQLite only, opened in each child after the fork
    done = ctx.Value("q", 0)
    results = ctx.Queue()  # a few small tuples: the pipe's buffer holds them, so no child waits to exit
    started = time.perf_counter()
    procs = [ctx.Process(target=fold, args=(data_dir, form, partitions, k, done, results)) for k in range(partitions)]
    with progress_bar("ev/s") as bar:
        task = bar.add_task(f"{form}, {partitions} process{'es' if partitions > 1 else ''}", total=total * partitions)
        for p in procs:
            p.start()
        while any(p.is_alive() for p in procs):
            bar.update(task, completed=done.value)
            time.sleep(0.5)
        bar.update(task, completed=done.value)
    wall = time.perf_counter() - started
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a {form} process failed (exit code {p.exitcode})")
    by_k = {k: (seconds, folded) for k, seconds, folded in (results.get(timeout=60) for _ in procs)}
    return wall, [by_k[k] for k in range(partitions)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "orghistory-bench-cache"))
    args = ap.parse_args()
    cache = Path(args.cache) / f"log-{args.events}"
    if not (cache / "done").exists():
        raise SystemExit(f"no cached history in {cache}: run bench/rebuild.py --events {args.events} --fill-only")
    total = open_stores(Settings(data_dir=cache)).app.head_position()
    ERR.print(f"[bold]{total:,} events[/] from {cache}; folds in memory, no writes")
    one, _ = run(str(cache), "whole", 1, total)
    lines = [f"one process      {one:7.1f} s   {total / one:>8,.0f} ev/s   (baseline)"]
    for form in ("people", "facts"):
        wall, each = run(str(cache), form, args.partitions, total)
        per = ", ".join(f"{w:.1f} s ({n:,} events folded)" for w, n in each)
        lines.append(f"{form:<6} x {args.partitions}       {wall:7.1f} s   {total / wall:>8,.0f} ev/s   "
                     f"speed-up {one / wall:.2f}   each: {per}")
    print(f"partitioned folds of {total:,} events on {mp.cpu_count()} cores, in memory, no writes")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
