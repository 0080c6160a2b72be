"""Blue/green rebuilds and scratch replays: what a rebuild builds equals what the incremental
catch-up built; readers keep answering from the live version throughout; a rebuild killed with
SIGKILL resumes from its own tracked position; two rebuilds never run at once; replays are
queryable with ?version= and removable."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from datetime import date

import pytest
import requests
from hypothesis import given, settings

from events.seed import load_seed
from events.settings import Settings
from projections import queries, versions
from projections.verify import compare
from workers.catchup import catch_up
from workers.locks import runner_lock
from workers.rebuild import RebuildBusy, rebuild, replay

from ..conftest import (
    ADMIN,
    BIN,
    Client,
    _wait_http,
    close_stores,
    eventually,
    free_port,
    service_env,
    spawn,
    stop,
    stores_for,
)
from ..integration.test_properties import FAST, PEOPLE, _record, histories

CRISIS = date(2023, 11, 18)  # Altman fired the day before: four directors left


_orgs = itertools.count()


def _board(db, version=None, as_of=CRISIS) -> list[tuple]:
    with db.read(version=version) as c:
        seats = queries.members(c, "openai", queries.board_units(c, "openai"), as_of, None)
        return sorted((e["person"], e["role"]) for e in seats)


def _live(db) -> int:
    with db.read() as c:
        return c.version


def _same_tables(db, a: int, b: int) -> dict:
    from projections.db import Conn

    with db.read(version=a) as ca:  # one snapshot, two versions
        return compare(ca, Conn(ca.raw, ca.dialect).bind(b))


def _history(app, people: int = 300, facts: int = 4000, seed: int = 7) -> None:
    """A team with churn: each person joins and leaves over the years, in date order."""
    rng = random.Random(seed)
    app.register_org("acme", "Acme")
    app.append("acme", [{"type": "unit_formed", "unit": "team", "name": "Team", "kind": "team", "effective": "1990"}])
    names = [f"p{i}" for i in range(people)]
    for n in names:
        app.register_person(n, n.upper())
    day = date(1991, 1, 1).toordinal()
    inside: set[str] = set()
    batch = []
    for _ in range(facts):
        day += rng.randint(0, 3)
        p = rng.choice(names)
        eff = date.fromordinal(day).isoformat()
        if p in inside:
            batch.append({"type": "member_left", "unit": "team", "person": p, "cause": "resigned", "effective": eff})
            inside.discard(p)
        else:
            batch.append({"type": "member_joined", "unit": "team", "person": p, "effective": eff})
            inside.add(p)
        if len(batch) == 500:
            app.append("acme", batch)
            batch = []
    if batch:
        app.append("acme", batch)


# --- what a rebuild builds -----------------------------------------------------------------------

@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_rebuild_equals_the_incremental_fold_and_switches_atomically(store, sqlite_settings, request):
    settings_ = sqlite_settings if store == "sqlite" else request.getfixturevalue("pg_settings")
    close_stores()
    app, db = stores_for(settings_).app, stores_for(settings_).db
    load_seed(app)
    catch_up(stores_for(settings_))
    before = _board(db)
    assert len(before) == 4  # Sutskever, D'Angelo, McCauley, Toner

    scratch = replay(stores_for(settings_), until_position=app.head_position())  # the bulk path, beside the live one
    assert _same_tables(db, 1, scratch.version) == {}
    versions.drop(db, "history", scratch.version)

    report = rebuild(stores_for(settings_))
    assert (report.switched_from, report.version, report.started_from) == (1, 3, 0)
    assert report.position == app.head_position()
    assert _live(db) == 3 and _board(db) == before
    with db.read(bind=False) as c:
        states = {r["version"]: r["state"] for r in versions.listing(c, "history", include_dropped=True)}
    assert states == {1: "dropped", 2: "dropped", 3: "live"}
    # the live catch-up goes on into the new version
    app.append("openai", [{"type": "member_left", "unit": "board", "person": "adam-dangelo", "cause": "resigned",
                           "effective": "2023-11-18"}])
    catch_up(stores_for(settings_))
    assert len(_board(db)) == 3


@settings(max_examples=int(os.environ.get("ORGHISTORY_PROPERTY_EXAMPLES", "150")) // 3, **FAST)
@given(history=histories())
def test_bulk_fold_equals_incremental_fold_for_generated_histories(sqlite_settings, history):
    """Corrections, retractions, out-of-order facts, dissolutions: the memory store and the SQL
    store give identical tables, bitemporal history included."""
    app, db = stores_for(sqlite_settings).app, stores_for(sqlite_settings).db
    for p in PEOPLE:
        app.register_person(p, p.upper())
    _record(app, f"r{next(_orgs)}-{os.getpid()}", history)  # hypothesis seeds `random`: count instead
    catch_up(stores_for(sqlite_settings))
    scratch = replay(stores_for(sqlite_settings), until_position=app.head_position())
    try:
        assert _same_tables(db, _live(db), scratch.version) == {}
    finally:
        versions.drop(db, "history", scratch.version)


def test_a_poison_event_is_parked_by_the_rebuild_too(tmp_path):
    from .test_poison import _insert_corrupt_fact

    settings_ = Settings(data_dir=tmp_path / "d")
    close_stores()
    app, db = stores_for(settings_).app, stores_for(settings_).db
    load_seed(app)
    bad = _insert_corrupt_fact(app)
    catch_up(stores_for(settings_))
    report = rebuild(stores_for(settings_))
    assert report.parked == 1 and report.position == bad
    with db.read() as c:
        rows = c.all("SELECT position, error FROM parked WHERE name=? AND resolved_at IS NULL", (c.track,))
    assert [r["position"] for r in rows] == [bad] and "2024-02-30" in rows[0]["error"]
    out = subprocess.run([str(BIN / "orghistory"), "verify"], env=service_env(settings_, None), capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr


# --- replay ----------------------------------------------------------------------------------------

def test_replay_until_a_position_or_record_time_is_queryable_and_removable(sqlite_settings):
    close_stores()
    app, db = stores_for(sqlite_settings).app, stores_for(sqlite_settings).db
    load_seed(app)
    catch_up(stores_for(sqlite_settings))
    events = list(app.read_all())
    # replay to just before Altman's firing, and up to its record time
    fired = next(e for e in events if e.type == "leader_ousted")
    before = replay(stores_for(sqlite_settings), until_position=fired.position - 1)
    after = replay(stores_for(sqlite_settings), until_recorded=fired.recorded_at)
    assert before.position == fired.position - 1 and after.position == fired.position
    assert ("sam-altman", "director") in _board(db, before.version)
    board_after = {p for p, _ in _board(db, after.version)}
    assert "sam-altman" not in board_after and "greg-brockman" in board_after  # his removal came later
    assert len(_board(db)) == 4 and _live(db) == 1  # the live version is untouched

    env = service_env(sqlite_settings, None)
    port = free_port()
    proc = spawn([str(BIN / "orghistory"), "serve", "--port", str(port), "--no-seed"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        http = Client(f"http://127.0.0.1:{port}", ADMIN)
        r = http.get("/v1/orgs/openai/board", as_of="2023-11-18", version=before.version)
        assert r.status_code == 200 and r.json()["version"] == before.version
        assert "sam-altman" in {d["person"] for d in r.json()["directors"]}
        assert len(http.get("/v1/orgs/openai/board", as_of="2023-11-18").json()["directors"]) == 4
        listed = http.get("/v1/ops/projections/history/versions").json()["versions"]
        assert {v["version"]: v["state"] for v in listed} == {1: "live", before.version: "scratch",
                                                             after.version: "scratch"}
        assert http.s.delete(f"{http.base}/v1/ops/projections/history/versions/1",
                             headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 409
        gone = http.s.delete(f"{http.base}/v1/ops/projections/history/versions/{before.version}",
                             headers={"Authorization": f"Bearer {ADMIN}"})
        assert gone.status_code == 204
        r = http.get("/v1/orgs/openai/board", version=before.version)
        assert r.status_code == 404 and r.json()["field"] == "version"
        assert http.get("/v1/orgs/openai/board", version="x").status_code == 422
        # a replay over HTTP, followed through its job
        r = http.post("/v1/ops/projections/history/replays", json={"until_position": 10})
        assert r.status_code == 202, r.text
        job = _follow(http, r.headers["Location"])
        assert job["state"] == "finished" and job["position"] == 10
        bad = http.post("/v1/ops/projections/history/replays", json={})
        assert bad.status_code == 422 and bad.json()["field"] == "until_position"
        assert http.post("/v1/ops/projections/nope/replays", json={"until_position": 3}).status_code == 404
    finally:
        stop(proc)
    out = subprocess.run([str(BIN / "orghistory"), "versions", "drop", str(after.version)], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([str(BIN / "orghistory"), "replay", "--until-position", "5"], env=env, capture_output=True,
                         text=True)
    assert out.returncode == 0 and json.loads(out.stdout)["position"] == 5


def _follow(http, location: str, timeout: float = 60) -> dict:
    def ended() -> dict | None:
        job = http.get(location).json()
        return job if job["state"] in ("finished", "failed") else None

    return eventually(ended, timeout, f"the job at {location} to end", interval=0.1)


# --- readers, a second process, SIGKILL ---------------------------------------------------------

class Reader(threading.Thread):
    """Issues as-of queries throughout, through the live version, and keeps every answer."""

    def __init__(self, db, query):
        super().__init__(daemon=True)
        self.db, self.query = db, query
        self.answers: list = []
        self.errors: list = []
        self.versions: set[int] = set()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                with self.db.read() as c:
                    self.versions.add(c.version)
                    self.answers.append((queries.position(c), self.query(c)))
            except Exception as e:  # noqa: BLE001 - any error is what the test looks for
                self.errors.append(repr(e))
            time.sleep(0.005)  # deliberate: the pace of a reader's queries, not a wait

    def stop(self) -> None:
        self.done.set()
        self.join(10)


def _answers_meanwhile(reader: Reader, when: str, more: int = 5) -> None:
    """Let the reader answer a few more times (rather than sleep for it)."""
    n = len(reader.answers)
    eventually(lambda: len(reader.answers) >= n + more, 30, f"the reader to answer {when}")


def _team(c) -> list:
    return sorted(e["person"] for e in queries.members(c, "acme", ["team"], date(2000, 6, 1), None))


def _building_position(db) -> int:
    with db.read(bind=False) as c:
        v = versions.building(c, "history")
        if v is None:
            return 0
        return int(c.scalar("SELECT position FROM tracking WHERE name=?", (f"history@v{v}",)) or 0)


def _wait_until(predicate, timeout: float = 90, proc=None, what: str = "the rebuild to get there") -> None:
    """Until ``predicate`` holds or ``proc`` has ended (what follows checks which)."""
    eventually(lambda: predicate() or (proc is not None and proc.poll() is not None), timeout, what, interval=0.01)


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_rebuild_killed_with_sigkill_resumes_and_readers_never_see_it(store, tmp_path, request):
    settings_ = (Settings(data_dir=tmp_path / "d") if store == "sqlite"
                 else request.getfixturevalue("pg_settings"))
    close_stores()
    app, db = stores_for(settings_).app, stores_for(settings_).db
    _history(app, facts=6000)
    rebuild(stores_for(settings_))  # the first fold, the fast way: version 2 is live
    head = app.head_position()
    with db.read() as c:
        expected = _team(c)
    reader = Reader(db, _team)
    reader.start()
    env = {**service_env(settings_, None), "ORGHISTORY_REBUILD_FLUSH_EVENTS": "100"}
    try:
        proc = spawn([str(BIN / "orghistory"), "rebuild"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        _wait_until(lambda: _building_position(db) > 0, proc=proc)
        # Frozen the moment it has flushed, then killed: the whole rebuild takes about a second
        # here, and a kill timed by polling its progress sometimes came after it had finished
        # (killed_at 0, in CI). A stopped process keeps its lock, so the second rebuild is still
        # refused, and it cannot get further before the SIGKILL.
        proc.send_signal(signal.SIGSTOP)
        with pytest.raises(RebuildBusy):  # a second rebuild is refused while the first runs
            rebuild(stores_for(settings_))
        killed_at = _building_position(db)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert _building_position(db) == killed_at
        assert 0 < killed_at < head, (killed_at, head)
        assert _live(db) == 2  # readers were never switched to the half-built version
        # operators see at once that the half-built version's process is gone
        listed = {v["version"]: v for v in _versions_cli(env)}
        assert listed[3]["state"] == "building" and listed[3]["abandoned"] is True
        assert listed[3]["job"]["state"] == "running" and listed[3]["job"]["stalled"] is True
        _answers_meanwhile(reader, "while the half-built version is abandoned")
        resumed = subprocess.run([str(BIN / "orghistory"), "rebuild"], env=env, capture_output=True, text=True,
                                 timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        report = json.loads(resumed.stdout)
        assert (report["version"], report["switched_from"], report["started_from"]) == (3, 2, killed_at)
        assert report["events"] == head - killed_at  # each event folded once across the two runs
        _answers_meanwhile(reader, "after the switch")
    finally:
        reader.stop()
    assert reader.errors == []
    assert reader.answers and all(answer == expected for _, answer in reader.answers)
    assert reader.versions == {2, 3}
    assert _live(db) == 3
    out = subprocess.run([str(BIN / "orghistory"), "verify"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_a_worker_killed_with_sigkill_mid_catch_up_resumes_without_double_applying(pg_settings, redis_url):
    """The production shape: an rq worker folds a backlog and is SIGKILLed halfway; a new worker
    finishes. Every answer a reader got during it was the answer of a complete prefix of the log."""
    close_stores()
    app, db = stores_for(pg_settings).app, stores_for(pg_settings).db
    env = service_env(pg_settings, redis_url)
    _history(app, facts=4000)
    head = app.head_position()
    reader = Reader(db, _team)
    reader.start()
    procs = []
    try:
        procs.append(spawn([str(BIN / "orghistory"), "worker"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        _wait_until(lambda: catch_up_position(db) >= head // 4, proc=procs[0])
        procs[0].send_signal(signal.SIGSTOP)  # frozen first, so it cannot finish before the kill
        killed_at = catch_up_position(db)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        assert catch_up_position(db) == killed_at
        assert 0 < killed_at < head, (killed_at, head)
        procs.append(spawn([str(BIN / "orghistory"), "worker"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        _wait_until(lambda: catch_up_position(db) >= head, timeout=180)
        assert catch_up_position(db) == head
    finally:
        reader.stop()
        stop(*procs)
    assert reader.errors == []
    out = subprocess.run([str(BIN / "orghistory"), "verify"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # no half-built answer: what a reader saw at position P is what a fold of the first P events gives
    seen = {p: a for p, a in reader.answers if 0 < p < head}
    assert len(seen) >= 2
    for position in random.Random(1).sample(sorted(seen), 3 if len(seen) >= 3 else len(seen)):
        scratch = replay(stores_for(pg_settings), until_position=position)
        with db.read(version=scratch.version) as c:
            assert _team(c) == seen[position], position
        versions.drop(db, "history", scratch.version)


def catch_up_position(db) -> int:
    with db.read() as c:
        return queries.position(c)


def test_rebuild_from_a_second_process_while_serve_keeps_serving(tmp_path):
    """The embedded default: `orghistory serve` answers and takes writes while `orghistory
    rebuild` runs in another process; the HTTP rebuild runs in the server as a job."""
    settings_ = Settings(data_dir=tmp_path / "d", admin_token=ADMIN)
    close_stores()
    app = stores_for(settings_).app
    _history(app, facts=6000)
    close_stores()
    env = {**service_env(settings_, None), "ORGHISTORY_REBUILD_FLUSH_EVENTS": "300"}
    port = free_port()
    proc = spawn([str(BIN / "orghistory"), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    errors: list[str] = []
    boards: list[int] = []
    done = threading.Event()
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        http = Client(f"http://127.0.0.1:{port}", ADMIN)
        eventually(lambda: not http.get("/v1/ops/projections").json()["projections"]["history"]["lag_events"], 60,
                   "the seed history to be folded", interval=0.1)

        def read() -> None:
            s = requests.Session()
            while not done.is_set():
                try:
                    r = s.get(f"http://127.0.0.1:{port}/v1/orgs/openai/board", params={"as_of": "2023-11-18"})
                except requests.RequestException as e:
                    if not done.is_set():
                        errors.append(repr(e))
                    return
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                else:
                    boards.append(len(r.json()["directors"]))

        t = threading.Thread(target=read, daemon=True)
        t.start()
        cli = spawn([str(BIN / "orghistory"), "rebuild"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        appended = 0
        while cli.poll() is None:  # writes keep being acknowledged and folded meanwhile
            r = http.post("/v1/people", json={"slug": f"new-{appended}", "name": f"New {appended}"})
            assert r.status_code == 201, r.text
            appended += 1
            time.sleep(0.02)  # deliberate: the pace of the writes made during the rebuild
        assert cli.returncode == 0, cli.stderr.read()
        assert json.loads(cli.stdout.read())["switched_from"] == 1
        # over HTTP: a job with progress; a second one at once is refused
        r = http.post("/v1/ops/projections/history/rebuild")
        assert r.status_code == 202, r.text
        again = http.post("/v1/ops/projections/history/rebuild")
        job = _follow(http, r.headers["Location"])
        assert again.status_code == 409 and again.json()["field"] == "name", again.text
        assert job["state"] == "finished" and job["version"] == 3 and job["total"] >= job["position"] > 0, job
        assert http.post("/v1/ops/projections/nope/rebuild").status_code == 404
        assert http.get("/v1/ops/jobs/nope").status_code == 404
        status = http.get("/v1/ops/projections").json()["projections"]["history"]
        assert status["version"] == 3
        people = http.get("/v1/people", limit=5000).json()["people"]
        assert {f"new-{i}" for i in range(appended)} <= {p["slug"] for p in people}
    finally:
        done.set()
        t.join(10)
        stop(proc)
    assert appended > 0 and errors == [] and boards and set(boards) == {4}
    out = subprocess.run([str(BIN / "orghistory"), "verify"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_http_rebuild_runs_as_an_rq_job_in_the_production_shape(production_service, pg_settings):
    client = production_service
    close_stores()
    app = stores_for(pg_settings).app
    load_seed(app)
    eventually(lambda: not client.get("/v1/ops/projections").json()["projections"]["history"]["lag_events"], 60,
               "the seed history to be folded", interval=0.1)
    r = client.post("/v1/ops/projections/history/rebuild")
    assert r.status_code == 202, r.text
    assert client.post("/v1/ops/projections/history/rebuild").status_code == 409
    job = _follow(client, r.headers["Location"])
    assert job["state"] == "finished" and job["version"] == 2 and job["position"] == app.head_position(), job
    assert job["runner"] and job["rate"] > 0
    answer = client.get("/v1/orgs/openai/board", as_of="2023-11-18").json()
    assert answer["version"] == 2 and len(answer["directors"]) == 4
    assert client.get("/v1/ops/projections").json()["projections"]["history"]["version"] == 2


def test_a_store_from_before_versions_gets_version_1_folded_from_its_log(tmp_path):
    import sqlite3

    settings_ = Settings(data_dir=tmp_path / "d")
    close_stores()
    app = stores_for(settings_).app
    load_seed(app)
    close_stores()
    raw = sqlite3.connect(settings_.sqlite_path)  # make it look like the old layout
    raw.execute("DROP TABLE projection_versions")
    raw.execute("CREATE TABLE tenures (id INTEGER PRIMARY KEY, person TEXT)")
    raw.execute("INSERT INTO tracking VALUES ('history', 113, '', '')")
    raw.commit()
    raw.close()
    app, db = stores_for(settings_).app, stores_for(settings_).db
    catch_up(stores_for(settings_))
    assert _live(db) == 1 and len(_board(db)) == 4
    tables = {r[0] for r in sqlite3.connect(settings_.sqlite_path).execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert "tenures" not in tables and "tenures_v1" in tables


def _versions_cli(env) -> list[dict]:
    out = subprocess.run([str(BIN / "orghistory"), "versions"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_replay_killed_with_sigkill_is_shown_abandoned_and_can_be_dropped(tmp_path):
    settings_ = Settings(data_dir=tmp_path / "d")
    close_stores()
    app, db = stores_for(settings_).app, stores_for(settings_).db
    _history(app, facts=12000)
    rebuild(stores_for(settings_))  # the first fold, the fast way: version 2 is live
    head = app.head_position()
    env = {**service_env(settings_, None), "ORGHISTORY_REBUILD_FLUSH_EVENTS": "100"}

    def replayed() -> int:
        with db.read(bind=False) as c:
            v = c.scalar("SELECT MAX(version) FROM projection_versions WHERE state='replaying'")
            return 0 if v is None else int(c.scalar("SELECT position FROM tracking WHERE name=?",
                                                    (f"history@v{v}",)) or 0)

    proc = spawn([str(BIN / "orghistory"), "replay", "--until-position", str(head)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_until(lambda: replayed() >= head // 4, proc=proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert 0 < replayed() < head
    [v] = [v for v in _versions_cli(env) if v["state"] != "live"]
    assert v["state"] == "replaying" and v["abandoned"] is True and v["job"]["kind"] == "replay"
    status = subprocess.run([str(BIN / "orghistory"), "status", "--json"], env=env, capture_output=True, text=True)
    [other] = json.loads(status.stdout)["projections"]["history"]["other_versions"]
    assert (other["version"], other["abandoned"], other["job"]) == (v["version"], True, v["job"]["id"])
    out = subprocess.run([str(BIN / "orghistory"), "versions", "drop", str(v["version"])], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [x["state"] for x in _versions_cli(env)] == ["live"]
    # a finished replay is not abandoned, and neither is the live version
    done = replay(stores_for(settings_), until_position=50)
    listed = {x["version"]: x for x in _versions_cli(env)}
    assert listed[done.version]["state"] == "scratch" and listed[done.version]["abandoned"] is False
    assert all(not x["abandoned"] for x in listed.values())


def test_the_command_line_refuses_a_second_rebuild(sqlite_settings):
    close_stores()
    app, db = stores_for(sqlite_settings).app, stores_for(sqlite_settings).db
    load_seed(app)
    with runner_lock(sqlite_settings, "history:rebuild", wait=False):  # as a running rebuild holds it
        out = subprocess.run([str(BIN / "orghistory"), "rebuild"], env=service_env(sqlite_settings, None),
                             capture_output=True, text=True)
    assert out.returncode == 3 and "already running" in out.stderr
    assert _live(db) == 1


def test_a_refused_rebuild_answers_at_once_while_the_database_is_busy(sqlite_settings):
    """A running rebuild keeps SQLite's writer busy (a frozen one holds it for good): the refusal
    must not wait behind it, nor leave a job row of its own. It once created its job row before
    trying the lock, which waited here for the 60 s busy timeout."""
    close_stores()
    stores = stores_for(sqlite_settings)
    load_seed(stores.app)
    with stores.db.read(bind=False) as c:
        jobs_before = c.scalar("SELECT count(*) FROM jobs")
    writer = sqlite3.connect(sqlite_settings.sqlite_path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # the writer's lock, as a rebuild's flush holds it
        with runner_lock(sqlite_settings, "history:rebuild", wait=False):
            started = time.monotonic()
            with pytest.raises(RebuildBusy):
                rebuild(stores)
            took = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert took < 5, took
    with stores.db.read(bind=False) as c:
        assert c.scalar("SELECT count(*) FROM jobs") == jobs_before


def test_a_rebuild_job_whose_process_is_gone_no_longer_counts_as_running(sqlite_settings):
    """What ``POST .../rebuild`` consults before answering 409: a job row still saying
    ``running``, whose process on this host has died (SIGKILL leaves no word), is not active."""
    from workers import joblog

    close_stores()
    db = stores_for(sqlite_settings).db
    dead = spawn(["true"])
    dead.wait()
    alive = spawn(["sleep", "30"])
    try:
        for proc in (dead, alive):
            job = joblog.create(db, "rebuild", "history")
            joblog.update(db, job, state="running", runner=f"{socket.gethostname()}:{proc.pid}")
        assert joblog.active(db, "history")["runner"].endswith(f":{alive.pid}")
    finally:
        alive.kill()
        alive.wait()
    assert joblog.active(db, "history") is None  # both runners gone: a new rebuild may start
    assert all(joblog.describe(r)["stalled"] for r in _jobs(db))


def _jobs(db) -> list[dict]:
    with db.read(bind=False) as c:
        return c.all("SELECT * FROM jobs")


def test_a_rebuild_logged_at_info_finishes_and_says_what_it_did(sqlite_settings):
    """With ``ORGHISTORY_LOG_LEVEL=INFO`` the rebuild logs what it did when it is done. That log
    line once passed the report's ``name`` as an extra field, a name ``logging`` reserves: the
    rebuild switched, then raised KeyError, so a rebuild job (rq or the embedded server's) was
    marked failed. The command line did not configure logging at all then; it does now."""
    close_stores()
    stores = stores_for(sqlite_settings)
    load_seed(stores.app)
    env = {**service_env(sqlite_settings, None), "ORGHISTORY_LOG_LEVEL": "INFO"}
    out = subprocess.run([str(BIN / "orghistory"), "rebuild"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    logged = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    [done] = [x for x in logged if x["msg"] == "rebuilt"]
    assert done["projection"] == "history" and done["version"] == 2 and done["position"] > 0
    assert _live(stores.db) == 2
