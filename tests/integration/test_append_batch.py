"""Large appends: people are checked in one query, an organization is snapshotted once per save
from the state just saved, and the saved organization is cached. The record must not notice:
what a fresh process reads back equals a replay of every event, and a rejected batch leaves
nothing behind, in the store or in the cache."""

from __future__ import annotations

import threading

import pytest

from events.application import OrgHistory
from events.domain import org_id
from events.errors import AlreadyExists, UnknownReference
from events.registry import _project
from events.settings import Settings

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


def test_threads_appending_to_one_organization_take_turns_instead_of_losing_races(settings):
    """Threads of one process appending to one organization at once: each append saves once.
    Without turns they read the same version, all but one lost at the save and retried after a
    backoff (measured: a quarter of the saves lost, the slowest append 50 x the median)."""
    app = _app(settings)
    app.register_org("acme", "Acme")
    app.append("acme", [{"type": "unit_formed", "unit": "t", "name": "T", "kind": "team", "effective": "2001"}])
    saves: list[int] = []
    save = app.save

    def counted(*aggregates):
        saves.append(len(aggregates))
        return save(*aggregates)

    app.save = counted  # the real save, counted: a lost race is a save that raised and is made again
    threads, per_thread = 4, 15
    start = threading.Barrier(threads)
    answers: list[dict] = []

    def writer(w: int) -> None:
        start.wait()
        for i in range(per_thread):
            answers.append(app.append("acme", [{"type": "noted", "title": f"{w}-{i}", "effective": "2024"}]))

    pool = [threading.Thread(target=writer, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert len(answers) == threads * per_thread
    assert len(saves) == threads * per_thread  # not one save lost a race and was made again
    versions = sorted(a["version"] for a in answers)
    assert versions == list(range(3, 3 + threads * per_thread))  # each append its own next version
