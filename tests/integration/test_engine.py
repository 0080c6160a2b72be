"""The fold engine: one engine for catch-up and rebuild, bulk I/O, a fact's cost bounded by what it
changes. These are structural checks (statements counted, rows built counted), not timings:
the speed itself is measured by ``bench/`` against baselines of the same run.
"""

from __future__ import annotations

import gc
from datetime import date, timedelta

import pytest

from projections import fold
from projections.projector import Projector
from projections.store import MemoryStore
from projections.verify import verify
from workers.catchup import catch_up
from workers.rebuild import rebuild

from ..conftest import stores_for


def _wide_history(app, people: int = 3, seats: int = 40, churn: int = 60) -> None:
    """People holding many seats at once, then leaving and retaking them, in valid-time order."""
    day = date(2000, 1, 1)
    facts = [{"type": "unit_formed", "unit": f"team-{t}", "name": f"Team {t}", "kind": "team",
              "effective": day.isoformat()} for t in range(seats)]
    for p in range(people):
        app.register_person(f"p{p}", f"P {p}")
        facts += [{"type": "member_joined", "unit": f"team-{t}", "person": f"p{p}", "effective": day.isoformat()}
                  for t in range(seats)]
    for i in range(churn):
        day += timedelta(days=1)
        who, team = f"p{i % people}", f"team-{(i * 7) % seats}"
        facts.append({"type": "member_left", "unit": team, "person": who, "cause": "resigned",
                      "effective": day.isoformat()})
        day += timedelta(days=1)
        facts.append({"type": "member_joined", "unit": team, "person": who, "effective": day.isoformat()})
    app.register_org("acme", "Acme")
    for i in range(0, len(facts), 100):
        app.append("acme", facts[i:i + 100], writer="test")


def test_a_fact_builds_only_the_rows_it_changes(sqlite_settings, monkeypatch):
    """Folding one more fact about a person who holds 40 seats builds the rows of the one seat it
    touches, not all 40 (the cost of a fact does not grow with the seats its person holds)."""
    app = stores_for(sqlite_settings).app
    _wide_history(app)
    notes = app.recorder.select_notifications(start=1, limit=10_000)
    events = [app.decode(n) for n in notes]
    store = MemoryStore()
    projector = Projector(store)
    projector.apply(events[:-1])
    built = []
    original = fold._Person._row
    monkeypatch.setattr(fold._Person, "_row", lambda self, *a: built.append(a[:3]) or original(self, *a))
    projector.apply(events[-1:])
    last = events[-1].fields
    assert last["type"] == "member_joined"
    assert built == [(last["unit"], "member", "")]


def test_catch_up_reads_and_writes_a_batch_in_a_few_statements(sqlite_settings, monkeypatch):
    """The incremental path folds a batch in memory and writes it in bulk: the statements (round
    trips, on PostgreSQL) one batch runs do not grow with the events in it (before: about a dozen
    per event)."""
    from projections.db import Conn

    app = stores_for(sqlite_settings).app
    _wide_history(app, churn=200)
    head = app.head_position()
    calls: list[str] = []
    for method in ("execute", "executemany"):
        original = getattr(Conn, method)
        monkeypatch.setattr(Conn, method, lambda self, sql, *a, _o=original: calls.append(sql) or _o(self, sql, *a))
    assert catch_up(stores_for(sqlite_settings), batch=10_000) == head
    assert head > 500
    assert len(calls) < 60, len(calls)


def test_a_units_dissolution_loads_its_members_in_a_few_statements(sqlite_settings, monkeypatch):
    """A unit formed or dissolved re-derives everyone in it: their facts and rows are read in bulk
    with the batch, not one person and table at a time as each is re-derived (a PostgreSQL
    catch-up dissolving 10 teams of 100 took 0.9-1.0 s so, and 0.24-0.29 s in bulk)."""
    from projections.db import Conn
    from projections.schema import FOREVER

    from ..conftest import close_stores

    app = stores_for(sqlite_settings).app
    app.register_org("acme", "Acme")
    app.append("acme", [{"type": "unit_formed", "unit": "team", "name": "Team", "kind": "team",
                         "effective": "2000"}])
    for p in range(80):
        app.register_person(f"p{p}", f"P {p}")
    app.append("acme", [{"type": "member_joined", "unit": "team", "person": f"p{p}", "effective": "2001"}
                        for p in range(80)])
    catch_up(stores_for(sqlite_settings))
    close_stores()  # a new process: no folds kept from the catch-up before
    app = stores_for(sqlite_settings).app
    app.append("acme", [{"type": "unit_dissolved", "unit": "team", "effective": "2005"}])
    calls: list[str] = []
    for method in ("execute", "executemany"):
        original = getattr(Conn, method)
        monkeypatch.setattr(Conn, method, lambda self, sql, *a, _o=original: calls.append(sql) or _o(self, sql, *a))
    catch_up(stores_for(sqlite_settings))
    with stores_for(sqlite_settings).db.read() as c:
        assert c.scalar("SELECT count(*) FROM tenures WHERE end_text = '2005' AND recorded_to = ?",
                        (FOREVER,)) == 80  # every member's tenure ended with the team
    assert len(calls) < 40, len(calls)  # 266 before


def _amended_history(app, churn: int) -> None:
    """A wide history, then a correction, a retraction and a unit's dissolution."""
    _wide_history(app, people=4, seats=6, churn=churn)
    app.append("acme", [{"type": "corrected", "target": "acme@20", "changes": {"effective": "1999-06-01"}},
                        {"type": "retracted", "target": "acme@30", "reason": "wrong"},
                        {"type": "unit_dissolved", "unit": "team-2", "effective": "2000-03-01"}], writer="test")


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_batch_boundaries_change_nothing(store, request):
    """One event per batch, odd batches, and a rebuild all give the same tables (``verify``
    compares each with one long in-memory fold)."""
    settings = request.getfixturevalue("sqlite_settings" if store == "sqlite" else "pg_settings")
    app, db = stores_for(settings).app, stores_for(settings).db
    _amended_history(app, churn=40)
    for batch in (1, 7, 1000):
        catch_up(stores_for(settings), batch=batch)
        with db.read() as conn:
            position, diff = verify(app, conn)
        assert position == app.head_position() and diff == {}, (batch, diff)
        if batch != 1000:
            app.append("acme", [{"type": "member_left", "unit": "team-1", "person": f"p{batch % 4}",
                                 "effective": f"2001-0{batch % 9 + 1}-01"}], writer="test")
    rebuild(stores_for(settings))
    with db.read() as conn:
        position, diff = verify(app, conn)
    assert position == app.head_position() and diff == {}


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_rebuild_over_its_memory_budget_reads_back_what_it_flushed(store, request, monkeypatch):
    """With a budget spent at every flush, the rebuild lets go of its state each time and reads
    back what it needs (facts, rows, units, corrected facts, merges) from the version it is
    building: the result equals one long in-memory fold. (A resumed rebuild reads back the same
    way: ``tests/e2e/test_rebuild.py`` kills rebuilds and resumes them.)"""
    from workers import folder as folder_module

    settings = request.getfixturevalue("sqlite_settings" if store == "sqlite" else "pg_settings")
    app, db = stores_for(settings).app, stores_for(settings).db
    _amended_history(app, churn=60)
    app.merge_people("p3", "p2", "same person", "test")
    app.append("acme", [{"type": "corrected", "target": "acme@40", "changes": {"person": "p1"}},
                        {"type": "unit_formed", "unit": "late", "name": "Late", "kind": "team",
                         "effective": "2000-01-01"},
                        {"type": "member_joined", "unit": "late", "person": "p0", "effective": "2001-01-01"}],
                   writer="test")
    catch_up(stores_for(settings))
    monkeypatch.setattr(folder_module.Budget, "CALIBRATE_AT", 1)
    evictions = []
    real = folder_module.Folder._evict
    monkeypatch.setattr(folder_module.Folder, "_evict", lambda self: evictions.append(self.store.pos) or real(self))
    full: list[int] = []  # full collections: not one each time it lets go (at most every 30 s)

    def count(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(1)

    gc.callbacks.append(count)
    try:
        report = rebuild(stores_for(settings), flush_events=9, memory=1)
    finally:
        gc.callbacks.remove(count)
    assert len(evictions) > 10
    assert len(full) <= 1
    assert report.read_backs == len(evictions) == report.as_json()["read_backs"]  # what the operator is told
    with db.read() as conn:
        position, diff = verify(app, conn)
    assert position == app.head_position() and diff == {}


def test_past_its_budget_a_rebuild_goes_on_from_the_folds_it_let_go_of(sqlite_settings, monkeypatch, tmp_path):
    """Letting go of its state, a rebuild writes its people's folds aside, and a person met again
    goes on from their fold: not re-derived from all their facts, read back and parsed again
    (before: once for every person at every eviction; most of a 1M rebuild's read-back time).
    The folds' scratch file is gone when the rebuild ends."""
    import tempfile

    from projections import projector
    from workers import folder as folder_module

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    spills = []
    real_close = folder_module.Folder.close
    monkeypatch.setattr(folder_module.Folder, "close",
                        lambda self: spills.append((self.spill.path, self.spill.saved, self.spill.recalled))
                        or real_close(self))

    app, db = stores_for(sqlite_settings).app, stores_for(sqlite_settings).db
    _wide_history(app, people=5, seats=10, churn=200)
    monkeypatch.setattr(folder_module.Budget, "CALIBRATE_AT", 1)
    evictions, rederived = [], []
    real_evict, real_fold = folder_module.Folder._evict, projector.fold_person
    monkeypatch.setattr(folder_module.Folder, "_evict", lambda self: evictions.append(self.store.pos) or real_evict(self))
    monkeypatch.setattr(projector, "fold_person", lambda person, *a: rederived.append(person) or real_fold(person, *a))
    rebuild(stores_for(sqlite_settings), flush_events=9, memory=1)
    assert len(evictions) > 20
    assert rederived == []
    [(path, saved, recalled)] = spills
    assert path.startswith(str(scratch)) and saved > 0 and recalled > 0
    assert list(scratch.iterdir()) == []
    with db.read() as conn:
        position, diff = verify(app, conn)
    assert position == app.head_position() and diff == {}


def test_a_flush_holds_at_most_its_share_of_the_budget(sqlite_settings, monkeypatch):
    """A flush stays in memory until the writer has written it, and the writer holds two, which
    letting go cannot free: so a flush comes once what it would hand on costs a tenth of the
    budget, however many events that is. (With flushes of a fixed number of events, a 1M rebuild
    with a 128 MiB budget added 333-372 MiB; with this, 171: ``bench/README.md``.)"""
    from workers import folder as folder_module

    app, db = stores_for(sqlite_settings).app, stores_for(sqlite_settings).db
    _wide_history(app, people=5, seats=10, churn=300)
    monkeypatch.setattr(folder_module, "PAGE", 10)  # the check comes after each page
    flushes: list[tuple[int, float]] = []  # (rows handed on, the most a flush may hold)
    real_flush = folder_module.Folder._flush

    def flush(self, switch=False):
        budget = self.budget
        allowed = budget.FLUSH_SHARE * budget.limit / (budget.per_item or budget.DEFAULT_PER_ITEM)
        flushes.append((self.store.unflushed(), allowed))
        return real_flush(self, switch)

    monkeypatch.setattr(folder_module.Folder, "_flush", flush)
    monkeypatch.setattr(folder_module, "FLUSH_SECONDS", 3600.0)
    rebuild(stores_for(sqlite_settings), flush_events=10**6, memory=8 << 20)
    handed = [n for n, _ in flushes[:-2]]  # the last flushes: whatever is left at the head
    assert len(handed) >= 3, flushes
    page = 100  # rows one page of 10 events of this history hands on, at most (a fact, its links, a few rows)
    assert all(n <= allowed + page for n, allowed in flushes[:-2]), flushes
    assert sum(n for n, _ in flushes) > 3 * max(allowed for _, allowed in flushes)
    with db.read() as conn:
        position, diff = verify(app, conn)
    assert position == app.head_position() and diff == {}


def test_a_second_rebuild_in_one_process_still_keeps_to_its_budget(sqlite_settings, monkeypatch):
    """The cost of what the fold holds is measured from what this rebuild allocated, not from the
    process's resident memory, which a first rebuild left large: calibrated on that, the second
    took its state for free and never let go of it."""
    from tests.e2e.test_rebuild import _history  # the history the rebuild tests fold
    from workers import folder as folder_module

    app, db = stores_for(sqlite_settings).app, stores_for(sqlite_settings).db
    _history(app, people=300, facts=4000)
    catch_up(stores_for(sqlite_settings))
    # What a first rebuild leaves behind: memory freed inside the process but not given back
    # (arenas a few live objects keep), which the next rebuild's state fills without growing it.
    junk = [("x" * (i % 300), (i,) * (i % 12), {"k": i} if i % 3 else [i] * (i % 7), float(i), str(i))
            for i in range(600_000)]
    survivors = junk[::40]
    del junk
    monkeypatch.setattr(folder_module.Budget, "CALIBRATE_AT", 2_000)
    evictions = []
    real = folder_module.Folder._evict
    monkeypatch.setattr(folder_module.Folder, "_evict", lambda self: evictions.append(self.store.pos) or real(self))
    rebuild(stores_for(sqlite_settings), flush_events=500, memory=8 << 20)  # 8 MiB: less than 4,000 facts' state (~14 MB)
    assert evictions
    assert len(survivors) == 15_000
    with db.read() as conn:
        position, diff = verify(app, conn)
    assert position == app.head_position() and diff == {}


def test_people_registered_before_any_fact_are_let_go_once_not_at_every_flush(sqlite_settings, monkeypatch):
    """The 10M history registers three million people before its first fact: they filled a 512
    MiB budget before the cost of an item (a fact, a row) could be measured. Estimated from the
    one item then held, that cost called every later flush spent, and the rebuild read back
    everything at every flush. Now the fold lets go of them once and measures from there."""
    from events.domain import Person
    from workers import folder as folder_module

    app, db = stores_for(sqlite_settings).app, stores_for(sqlite_settings).db
    app.register_org("acme", "Acme")
    people = [f"person-{i:06d}" for i in range(40_000)]
    for i in range(0, len(people), 1000):  # one transaction a thousand, as a bulk load registers them
        app.save(*[Person(slug=s, name=s.title(), writer=None) for s in people[i:i + 1000]])
    app.append("acme", [{"type": "unit_formed", "unit": "team", "name": "Team", "kind": "team", "effective": "1990"}])
    day = date(1991, 1, 1)
    first_fact = app.head_position()
    for i in range(0, 4000, 500):
        app.append("acme", [{"type": "member_joined", "unit": "team", "person": people[j],
                             "effective": (day + timedelta(days=j)).isoformat()} for j in range(i, i + 500)])
    evictions = []
    real = folder_module.Folder._evict
    monkeypatch.setattr(folder_module.Folder, "_evict", lambda self: evictions.append(self.store.pos) or real(self))
    # 8 MiB (7 for the fold, 1 for SQLite's page cache): the 40,000 people alone spend it
    rebuild(stores_for(sqlite_settings), flush_events=250, memory=8 << 20)
    among_facts = [p for p in evictions if p > first_fact]
    assert evictions and len(among_facts) <= 8, f"{len(among_facts)} evictions in the facts' 16 flushes"
    with db.read() as conn:
        position, diff = verify(app, conn)
    assert position == app.head_position() and diff == {}


@pytest.mark.parametrize("budget_mib, cache_kib", [(512, 64 * 1024), (8, 1024)])
def test_a_sqlite_rebuilds_page_cache_is_part_of_its_budget(sqlite_settings, monkeypatch, budget_mib, cache_kib):
    """The connection writing a rebuild on SQLite keeps a page cache of an eighth of the budget (64
    MiB at most), the folds' scratch file a sixteenth (16 MiB at most), and the fold has the rest.
    A fixed 256 MiB cache, outside the budget, took a 1M rebuild 180 MiB past what its fold was
    allowed, and no faster."""
    from workers import folder as folder_module

    app = stores_for(sqlite_settings).app
    _wide_history(app, people=2, seats=5, churn=10)
    limits, caches = [], []
    real_budget, real_write = folder_module.Budget, folder_module.Folder._write

    def budget(limit: int):
        limits.append(limit)
        return real_budget(limit)

    def write(self, *item):
        real_write(self, *item)
        with self.db.write(version=self.version, name=self.name) as c:  # the same connection, as SQLite has one writer
            caches.append(c.scalar("PRAGMA cache_size"))

    monkeypatch.setattr(folder_module, "Budget", budget)
    monkeypatch.setattr(folder_module.Folder, "_write", write)
    rebuild(stores_for(sqlite_settings), memory=budget_mib << 20)
    assert limits == [(budget_mib << 20) - (cache_kib << 10) - min(16 << 20, (budget_mib << 20) // 16)]
    assert caches and set(caches) == {-cache_kib}


def test_a_rebuilt_postgres_version_has_the_planners_statistics(pg_settings, monkeypatch):
    """A version is bulk-loaded, and autovacuum analyzes it a minute or more later: without
    statistics the planner took the fold's lookup of a page's people for a scan of every fact of
    the organization (150 ms against 15), and readers of a just-switched version would plan
    blind. The rebuild analyzes its tables when it first reads back, again whenever its reads
    back doubled, and once complete, before the switch."""
    import psycopg

    from projections import versions
    from workers import folder as folder_module

    app = stores_for(pg_settings).app
    _amended_history(app, churn=60)
    monkeypatch.setattr(folder_module.Budget, "CALIBRATE_AT", 1)
    analyzed: list[int] = []  # read-throughs made when each analysis ran
    read_throughs: list[int] = []
    real_analyze, real_read_through = versions.analyze, folder_module.Folder._read_through

    def read_through(self, carry=None):
        store = real_read_through(self, carry)
        read_throughs.append(self.read_throughs)
        return store

    monkeypatch.setattr(versions, "analyze", lambda db, version: analyzed.append(len(read_throughs) + 1) or real_analyze(db, version))
    monkeypatch.setattr(folder_module.Folder, "_read_through", read_through)
    report = rebuild(stores_for(pg_settings), flush_events=9, memory=1)
    assert len(read_throughs) > 8
    powers_of_two = [n for n in (1, 2, 4, 8, 16, 32, 64, 128) if n <= len(read_throughs)]
    assert analyzed == powers_of_two + [len(read_throughs) + 1]  # ...and once more when complete
    with psycopg.connect(pg_settings.database_url) as c:
        c.execute(f'SET search_path TO "{pg_settings.database_schema}"')
        unanalyzed = c.execute("SELECT relname FROM pg_stat_user_tables WHERE relname LIKE %s AND last_analyze IS NULL "
                               "AND relname NOT LIKE 'stage%%'", (f"%_v{report.version}",)).fetchall()
    assert unanalyzed == []


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_letting_go_does_not_wait_for_the_writer_and_reads_back_what_it_has_not_written(store, request,
                                                                                         monkeypatch):
    """Past its budget a rebuild lets go of what it holds without waiting for its writer thread:
    what that thread was handed and has not written yet (the last two flushes) is read beside the
    tables. With a writer slower than the fold, every read-back runs before the last flushes land:
    the facts, rows, links and units they hold (a fact and its correction, a unit formed, joined
    and dissolved within a few events, a unit whose formation was retracted) must still be there."""
    import time

    from workers import flushing
    from workers import folder as folder_module

    settings = request.getfixturevalue("sqlite_settings" if store == "sqlite" else "pg_settings")
    app, db = stores_for(settings).app, stores_for(settings).db
    _amended_history(app, churn=30)
    app.append("acme", [{"type": "unit_formed", "unit": "brief", "name": "Brief", "kind": "team",
                         "effective": "2002-01-01"}], writer="test")
    app.append("acme", [{"type": "member_joined", "unit": "brief", "person": "p1", "effective": "2002-02-01"}])
    joined = app.head_position()
    join_id = app.decode(app.recorder.select_notifications(start=joined, limit=1)[0]).id
    app.append("acme", [{"type": "corrected", "target": join_id, "changes": {"effective": "2002-03-01"}}])
    app.append("acme", [{"type": "member_joined", "unit": "brief", "person": "p2", "effective": "2002-04-01"}])
    app.append("acme", [{"type": "unit_dissolved", "unit": "brief", "effective": "2003-01-01"}])
    formed = app.append("acme", [{"type": "unit_formed", "unit": "undone", "name": "Undone", "kind": "board",
                                  "effective": "2004-01-01"}])["events"][0]["id"]
    app.append("acme", [{"type": "retracted", "target": formed, "reason": "never formed"}])
    app.append("acme", [{"type": "member_joined", "unit": "undone", "person": "p3", "effective": "2003-06-01"}])
    # A fact, two flushes of facts of someone else, then its correction: the store that folds the
    # correction never held the fact (the one it took over from did not read it), and the flush
    # that wrote it may still be in the writer's hands. Twice, one event apart, as a flush holds two.
    for person in ("q1", "q2", "q3"):
        app.register_person(person, person.upper())
    for shift in (0, 1):
        if shift:
            app.append("acme", [{"type": "member_joined", "unit": "team-1", "person": "q3", "effective": "2005"}])
        fact = app.append("acme", [{"type": "member_joined", "unit": "team-1", "person": "q1",
                                    "effective": f"200{6 + shift}-01-01"}])["events"][0]["id"]
        for kind in ("member_joined", "member_left"):
            app.append("acme", [{"type": kind, "unit": "team-3", "person": "q2", "effective": f"200{6 + shift}-02-01"}])
        app.append("acme", [{"type": "corrected", "target": fact, "changes": {"effective": f"200{6 + shift}-01-15"}}])
    # ... then a flush of someone else's, and a fact of q1's that sorts before the others: q1 is
    # folded again from all their facts, read from the tables before the correction's write lands.
    for kind in ("member_joined", "member_left"):
        app.append("acme", [{"type": kind, "unit": "team-3", "person": "q2", "effective": "2008-02-01"}])
    app.append("acme", [{"type": "member_joined", "unit": "team-3", "person": "q1", "effective": "2005-06-01"}])
    def spent(self, store) -> bool:  # at every flush, the cost of an item measured (it waits until then)
        self.per_item = 1_000.0
        return True

    monkeypatch.setattr(folder_module.Budget, "spent", spent)
    real_write = folder_module.Folder._write

    def slow_write(self, changes, *rest):
        # longer than the fold takes for a flush of 2 events; q1's facts and corrections longer still
        slower = changes.fact_updates or any(person == "q1" for _, person, _ in changes.fact_people)
        time.sleep(0.2 if slower else 0.01)
        real_write(self, changes, *rest)

    drains = []
    real_drain = flushing.Writer.drain
    monkeypatch.setattr(flushing.Writer, "drain", lambda self: drains.append(1) or real_drain(self))
    monkeypatch.setattr(folder_module.Folder, "_write", slow_write)
    report = rebuild(stores_for(settings), flush_events=2)
    assert report.read_backs > 50
    # drained where it writes itself (the indexes, the planner's statistics) and at the end only
    assert len(drains) < report.read_backs / 4, (len(drains), report.read_backs)
    with db.read() as conn:
        position, diff = verify(app, conn)
    assert position == app.head_position() and diff == {}


def _ann_joins_then_leaves(app) -> tuple[int, int]:
    """Ann joins a team in 2000 and leaves it in 2005, each fact appended alone (each its own
    record time): the positions of the join and the leave."""
    app.register_org("acme", "Acme")
    app.register_person("ann", "Ann")
    app.append("acme", [{"type": "unit_formed", "unit": "team", "name": "Team", "kind": "team", "effective": "1990"}])
    app.append("acme", [{"type": "member_joined", "unit": "team", "person": "ann", "effective": "2000"}])
    joined = app.head_position()
    app.append("acme", [{"type": "member_left", "unit": "team", "person": "ann", "cause": "resigned",
                         "effective": "2005"}])
    return joined, app.head_position()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_row_closed_while_its_write_is_pending_stays_closed_when_read_back(store, request, monkeypatch):
    """Past its budget, a rebuild reads back only the rows still open of a person whose fold goes
    on, and the rest when a correction re-derives them. A row it closed and handed to the writer
    thread is still current in the tables until that write lands: read back meanwhile, it came
    back as current and was closed a second time, at the correction's record time."""
    import time

    from workers import folder as folder_module

    settings = request.getfixturevalue("sqlite_settings" if store == "sqlite" else "pg_settings")
    app, db = stores_for(settings).app, stores_for(settings).db
    joined, left = _ann_joins_then_leaves(app)
    join_id = app.decode(app.recorder.select_notifications(start=joined, limit=1)[0]).id
    app.append("acme", [{"type": "corrected", "target": join_id, "changes": {"effective": "2001"}}])
    # Let go once, after the join is written; then hold the leave's write back while the
    # correction is folded.
    monkeypatch.setattr(folder_module.Budget, "spent", lambda self, s: s.pos == joined)
    real_write = folder_module.Folder._write

    def write(self, changes, parked, switch, beside_fold=False):
        if changes.position == left:
            time.sleep(1.0)
        real_write(self, changes, parked, switch, beside_fold)

    monkeypatch.setattr(folder_module.Folder, "_write", write)
    report = rebuild(stores_for(settings), flush_events=1)
    assert report.read_backs == 1
    with db.read() as conn:
        position, diff = verify(app, conn)
    assert position == app.head_position() and diff == {}


def test_a_rebuild_runs_no_full_collection_of_its_own_state(sqlite_settings):
    """A fold's state forms no reference cycles, so the collector's full collections only walked
    it again and again: a third of a 1M rebuild's folding time. While a rebuild folds, the
    collector collects young objects only, and its settings are given back after."""
    from tests.e2e.test_rebuild import _history

    app, db = stores_for(sqlite_settings).app, stores_for(sqlite_settings).db
    _history(app, people=300, facts=12000)
    before = gc.get_threshold()
    full: list[int] = []

    def count(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(1)

    # The collector as a long rebuild leaves it after its first flush (which freezes what the fold
    # holds) and the full collection that follows: little left in the oldest generation, so the
    # next full collection comes after a few thousand allocations, and walks all of them.
    gc.freeze()
    gc.collect()
    gc.callbacks.append(count)
    try:
        rebuild(stores_for(sqlite_settings), memory=512 << 20)
    finally:
        gc.callbacks.remove(count)
        gc.unfreeze()
    assert full == []
    assert gc.get_threshold() == before
    with db.read() as conn:
        position, diff = verify(app, conn)
    assert position == app.head_position() and diff == {}


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_after_a_parked_event_a_rebuild_forgets_the_folds_it_wrote_aside(store, request, monkeypatch):
    """An event whose fold raises makes the rebuild reload what it flushed and drop what it held.
    The folds it wrote aside at its last eviction are older than that flush: going on from one
    gave a person who had left a team since, and joined it again, a tenure never ended."""
    from projections.projector import Projector
    from projections.schema import FOREVER
    from workers import folder as folder_module

    settings = request.getfixturevalue("sqlite_settings" if store == "sqlite" else "pg_settings")
    app, db = stores_for(settings).app, stores_for(settings).db
    joined, _ = _ann_joins_then_leaves(app)
    app.append("acme", [{"type": "noted", "title": "boom", "effective": "2006"}])
    app.append("acme", [{"type": "member_joined", "unit": "team", "person": "ann", "effective": "2010"}])
    original = Projector._apply_one

    def buggy(self, e, recorded):
        if e.type == "noted":
            raise KeyError("a bug in the fold")
        return original(self, e, recorded)

    monkeypatch.setattr(Projector, "_apply_one", buggy)
    monkeypatch.setattr(folder_module.Budget, "spent", lambda self, s: s.pos == joined)  # let go once, there
    report = rebuild(stores_for(settings), flush_events=1)
    assert report.read_backs == 1 and report.parked == 1
    with db.read() as c:
        held = c.all("SELECT start_text, end_text FROM tenures WHERE person='ann' AND recorded_to=?", (FOREVER,))
    assert sorted((r["start_text"], r["end_text"] or "") for r in held) == [("2000", "2005"), ("2010", "")]


def test_letting_go_after_the_writer_caught_up_reads_back_from_the_tables_alone(sqlite_settings, monkeypatch):
    """A flush the writer thread has written is in the tables: letting go after that holds none
    of it beside them. (Held until two later flushes pushed it out, written flushes stayed in
    memory outside the fold's state and were indexed again at every letting go.)"""
    from projections import readback
    from workers import folder as folder_module

    app, db = stores_for(sqlite_settings).app, stores_for(sqlite_settings).db
    _amended_history(app, churn=20)
    def spent(self, store) -> bool:  # at every flush, the cost of an item measured (it drains until then)
        self.per_item = 1_000.0
        return True

    monkeypatch.setattr(folder_module.Budget, "spent", spent)
    real_evict = folder_module.Folder._evict

    def evict_once_written(self):
        self.writer.q.join()  # the writer catches up: what is read back is all in the tables
        real_evict(self)

    built = []
    real_init = readback.Unwritten.__init__
    monkeypatch.setattr(readback.Unwritten, "__init__", lambda self, *a: built.append(1) or real_init(self, *a))
    monkeypatch.setattr(folder_module.Folder, "_evict", evict_once_written)
    report = rebuild(stores_for(sqlite_settings), flush_events=2)
    assert report.read_backs > 20
    assert built == []
    with db.read() as conn:
        position, diff = verify(app, conn)
    assert position == app.head_position() and diff == {}
