"""Large appends: people are checked in one query, an organization is snapshotted once per save
from the state just saved, and the saved organization is cached. The record must not notice:
what a fresh process reads back equals a replay of every event, and a rejected batch leaves
nothing behind, in the store or in the cache."""

from __future__ import annotations

import multiprocessing
import threading
import zlib

import pytest

from events.application import OrgHistory
from events.domain import org_id
from events.errors import AlreadyExists, UnknownReference
from events.registry import _project
from events.settings import Settings
from workers.runtime import open_stores

from ..conftest import close_stores, stores_for


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request, tmp_path) -> Settings:
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "d")
    return request.getfixturevalue("pg_settings")


def _facts(start: int, n: int) -> list[dict]:
    out = []
    for i in range(start, start + n):
        if i % 50 == 0:
            out.append({"type": "unit_formed", "unit": f"team-{i // 50}", "name": f"Team {i // 50}", "kind": "team",
                        "effective": "2001"})
        else:
            out.append({"type": "member_joined", "unit": f"team-{i // 50}", "person": f"p{i % 30}",
                        "effective": f"{2002 + i % 20}-01-01"})
    return out


def _app(settings: Settings) -> OrgHistory:
    close_stores()
    return stores_for(settings).app  # makes the PostgreSQL schema


def test_a_fresh_process_reads_back_what_large_appends_saved(settings):
    app = _app(settings)
    for p in range(30):
        app.register_person(f"p{p}", f"P {p}")
    app.register_org("acme", "Acme")
    for start in range(0, 1350, 450):  # three saves, each crossing a multiple of the snapshot interval
        app.append("acme", _facts(start, 450), writer="test")
    cached = app.get_org("acme")
    fresh = OrgHistory(settings)  # another process: no cache, reads the snapshot plus what follows it
    read_back = fresh.get_org("acme")
    replayed = _project(None, fresh.events.get(org_id("acme")))  # every event, no snapshot
    assert cached.version == read_back.version == replayed.version == 1351
    assert cached.units == read_back.units == replayed.units and len(replayed.units) == 27
    snapshots = [s.originator_version for s in fresh.snapshots.get(org_id("acme"))]
    assert snapshots == [451, 901, 1351]  # one per save, each of the state that save left
    for version in snapshots:
        assert fresh.repository.get(org_id("acme"), version=version).units == \
            _project(None, fresh.events.get(org_id("acme"), lte=version)).units


def test_a_rejected_batch_changes_nothing_in_the_store_or_the_cache(settings):
    app = _app(settings)
    for p in range(30):
        app.register_person(f"p{p}", f"P {p}")
    app.register_org("acme", "Acme")
    app.append("acme", _facts(0, 100), writer="test")
    head = app.head_position()
    bad = _facts(100, 10)
    bad[3] = {**bad[3], "person": "nobody"}
    with pytest.raises(UnknownReference) as raised:
        app.append("acme", bad, writer="test")
    assert raised.value.field == "events[3].person"
    bad = _facts(100, 10) + [{"type": "unit_formed", "unit": "team-0", "name": "Again", "kind": "team",
                              "effective": "2001"}]
    with pytest.raises(AlreadyExists):
        app.append("acme", bad, writer="test")  # the unit exists: rejected after ten facts were recorded
    assert app.head_position() == head
    assert app.get_org("acme").version == 101
    answer = app.append("acme", _facts(100, 10), writer="test")
    assert [e["id"] for e in answer["events"]] == [f"acme@{v}" for v in range(102, 112)]
    assert OrgHistory(settings).get_org("acme").units == app.get_org("acme").units


def _append_from_threads(app: OrgHistory, label: str, threads: int, per_thread: int,
                         start: threading.Barrier | None = None) -> tuple[list[dict], int]:
    """``threads`` threads each append ``per_thread`` facts to acme at once: (the answers, how many
    saves were made). A save lost to another writer is made again, so saves - answers = races lost."""
    saves: list[int] = []
    save = app.save

    def counted(*aggregates):
        saves.append(len(aggregates))
        return save(*aggregates)

    app.save = counted  # the real save, counted
    start = start or threading.Barrier(threads)
    answers: list[dict] = []

    def writer(w: int) -> None:
        start.wait()
        for i in range(per_thread):
            answers.append(app.append("acme", [{"type": "noted", "title": f"{label}-{w}-{i}", "effective": "2024"}]))

    pool = [threading.Thread(target=writer, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return answers, len(saves)


def test_threads_appending_to_one_organization_take_turns_instead_of_losing_races(settings):
    """Threads of one process appending to one organization at once: each append saves once.
    Without turns they read the same version, all but one lost at the save and retried after a
    backoff (measured: a quarter of the saves lost, the slowest append 50 x the median)."""
    app = _app(settings)
    app.register_org("acme", "Acme")
    app.append("acme", [{"type": "unit_formed", "unit": "t", "name": "T", "kind": "team", "effective": "2001"}])
    answers, saves = _append_from_threads(app, "t", threads=4, per_thread=15)
    assert len(answers) == 60
    assert saves == 60  # not one save lost a race and was made again
    assert sorted(a["version"] for a in answers) == list(range(3, 63))  # each append its own next version


def _writer_process(settings: Settings, label: str, ready, go, out) -> None:
    """A process of its own (spawned: nothing shared with the test's), appending from 3 threads.
    It opens the stores as the service's processes do (``open_stores``, which takes turns at
    creating the schema): constructing the event store directly raced the other process in
    PostgreSQL's catalog and failed this test one time in three."""
    stores = open_stores(settings)
    app = stores.app
    try:
        ready.set()
        go.wait(30)
        answers, saves = _append_from_threads(app, label, threads=3, per_thread=10)
        out.put((len(answers), saves))
    finally:
        stores.close()


def test_processes_appending_to_one_organization_take_turns_on_postgresql(pg_settings):
    """Two processes appending to one organization at once (gunicorn's workers, say): on
    PostgreSQL they take turns too (an advisory lock), so no save is lost to a race. Without it
    a loser retried after a backoff, and a thread that lost several times in a row made one
    append of load.py's lag phase take 0.9-2.5 s."""
    app = _app(pg_settings)
    app.register_org("acme", "Acme")
    app.append("acme", [{"type": "unit_formed", "unit": "t", "name": "T", "kind": "team", "effective": "2001"}])
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    ready = [ctx.Event() for _ in range(2)]
    procs = [ctx.Process(target=_writer_process, args=(pg_settings, f"p{i}", ready[i], go, out)) for i in range(2)]
    for p in procs:
        p.start()
    for r in ready:
        assert r.wait(60), "a writer process did not start"
    go.set()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert [n for n, _ in results] == [30, 30]
    assert sum(s for _, s in results) == 60  # every append saved once, across both processes
    assert app.get_org("acme").version == 62


def test_a_writer_whose_turn_does_not_come_goes_on_without_it(pg_settings, monkeypatch):
    """The turn is best effort: held elsewhere past its wait (a stuck process, say), an append
    goes on without it and is saved, instead of failing or waiting for ever."""
    import time

    import psycopg

    from events import pgstore

    monkeypatch.setattr(pgstore, "TURN_WAIT_SECONDS", 0.3)  # read when the turn connections are made
    app = _app(pg_settings)
    app.register_org("acme", "Acme")
    key = pgstore._int4(zlib.crc32(f"{pg_settings.database_schema}:{org_id('acme')}".encode()))
    with psycopg.connect(pg_settings.database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s, %s)", (pgstore.TURN_CLASS, key))
        started = time.monotonic()
        answer = app.append("acme", [{"type": "noted", "title": "while the turn is held", "effective": "2024"}])
        waited = time.monotonic() - started
    assert answer["version"] == 2
    assert 0.3 <= waited < 5  # it waited its turn's limit, then wrote


def test_a_writer_with_every_turn_connection_busy_goes_on_without_a_turn(pg_settings, monkeypatch):
    """The turns have a small pool of connections of their own; with all of them holding other
    organizations' turns, an append waits a moment for one, then goes on without a turn and is
    saved (a failed append here would be a refusal the client did not cause)."""
    import time

    from events import pgstore

    monkeypatch.setattr(pgstore, "TURN_CONNECTIONS", 1)  # read when the turn pool is made
    app = _app(pg_settings)
    app.register_org("acme", "Acme")
    pool = app.recorder._turns()
    busy = pool.getconn()  # the pool's one connection, as another organization's writer holds it
    try:
        started = time.monotonic()
        answer = app.append("acme", [{"type": "noted", "title": "without a turn", "effective": "2024"}])
        waited = time.monotonic() - started
    finally:
        pool.putconn(busy)
    assert answer["version"] == 2
    assert waited < 2
