"""Operators: status, verify, and moving the whole log SQLite -> NDJSON -> PostgreSQL -> NDJSON."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from datetime import date, datetime

from events.settings import Settings
from projections import queries
from projections.clock import stamp
from workers.catchup import catch_up
from workers.dispatch import queue_for

from ..conftest import ADMIN, BIN, close_stores, eventually, service_env, stores_for


def run(env, *args, check=True):
    out = subprocess.run([str(BIN / "orghistory"), *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def answers(settings: Settings, known_ats: list[str | None]) -> dict:
    """Board, roles and the safety team for many dates, now and as known at several record times."""
    close_stores()
    db = stores_for(settings).db
    catch_up(stores_for(settings))
    out = {}
    days = [date(2023, 11, d) for d in range(14, 31)] + [date(2024, m, 1) for m in range(1, 7)] + [date(2024, 5, 20)]
    with db.read() as c:
        for k in known_ats:
            for d in days:
                out[(k, d, "board")] = queries.members(c, "openai", ["board"], d, k)
                out[(k, d, "team")] = queries.members(c, "openai", ["superalignment"], d, k)
                out[(k, d, "roles")] = queries.roles(c, "openai", d, k)
    return out


def test_log_round_trip_sqlite_postgres_sqlite(tmp_path, pg_settings):
    sqlite_a = Settings(data_dir=tmp_path / "a", admin_token=ADMIN)
    env_a = service_env(sqlite_a, None)
    run(env_a, "seed")
    app = stores_for(sqlite_a).app  # a correction, so known_at answers differ over record time
    answer = app.append("openai", [{"type": "corrected", "target": "openai@12", "changes": {"effective": "2019"}}])
    first = tmp_path / "a.ndjson"
    run(env_a, "export", "--out", str(first))
    rows_a = [json.loads(line) for line in first.read_text().splitlines()]
    assert rows_a[-1]["id"] == answer["events"][0]["id"]
    known_ats = [None] + [stamp(datetime.fromisoformat(r["recorded_at"])) for r in (rows_a[60], rows_a[-2], rows_a[-1])]

    env_pg = service_env(pg_settings, None)
    run(env_pg, "import", str(first))
    second = tmp_path / "pg.ndjson"
    run(env_pg, "export", "--out", str(second))
    rows_pg = [json.loads(line) for line in second.read_text().splitlines()]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "position"} for r in rows]
    assert strip(rows_pg) == strip(rows_a)  # identical but for position numbers...
    assert [r["originator_version"] for r in rows_pg] == [r["originator_version"] for r in rows_a]  # ...same order

    sqlite_b = Settings(data_dir=tmp_path / "b", admin_token=ADMIN)
    run(service_env(sqlite_b, None), "import", str(second))
    expected = answers(sqlite_a, known_ats)
    assert answers(pg_settings, known_ats) == expected
    assert answers(sqlite_b, known_ats) == expected
    assert any(expected[(known_ats[1], date(2023, 11, 18), "board")])

    refused = run(env_pg, "import", str(first), check=False)
    assert refused.returncode == 2 and "empty" in refused.stderr


def test_verify_passes_then_names_a_tampered_table(tmp_path):
    settings = Settings(data_dir=tmp_path / "d", admin_token=ADMIN)
    env = service_env(settings, None)
    run(env, "seed")
    ok = run(env, "verify")
    assert "matches" in ok.stderr
    db = sqlite3.connect(settings.sqlite_path)
    db.execute("UPDATE tenures_v1 SET role='chair' WHERE person='adam-dangelo'")
    db.commit()
    bad = run(env, "verify", check=False)
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert set(report["differences"]) == {"tenures"}
    assert all(row[2] == "adam-dangelo" for row in report["differences"]["tenures"]["unexpected"])


def test_status_over_cli_and_http(production_service, pg_settings, redis_url):
    client = production_service
    env = service_env(pg_settings, redis_url)
    client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
    info = json.loads(run(env, "status", "--json").stdout)
    assert info["store"] == "postgresql" and info["head"] >= 1
    assert set(info["projections"]["history"]) >= {"position", "version", "lag_events", "lag_seconds"}
    # the store's own queue (named after it), and the worker listening on it
    assert info["rq"]["queue"] == queue_for(stores_for(pg_settings)) and len(info["rq"]["workers"]) >= 1
    assert client.get("/v1/ops/projections", auth=False).status_code == 401
    over_http = client.ok(client.s.get(client.base + "/v1/ops/projections",
                                       headers={"Authorization": f"Bearer {ADMIN}"}))
    assert over_http["head"] >= info["head"] and over_http["rq"]["workers"]


def test_a_job_that_fails_before_it_begins_is_failed_not_queued(sqlite_settings, monkeypatch):
    """On the embedded default, jobs run in a thread of the server: one that raised before it
    could record anything (here: a projection that does not exist) read "queued" for ever."""
    from workers import joblog
    from workers.dispatch import InProcessDispatcher

    from ..conftest import stores_for

    monkeypatch.setenv("ORGHISTORY_DATA_DIR", str(sqlite_settings.data_dir))  # jobs read the environment
    db = stores_for(sqlite_settings).db
    job_id = joblog.create(db, "replay", "history")
    InProcessDispatcher(stores_for(sqlite_settings)).start_job("replay", job_id, "nosuch", job_id, 5, None)
    eventually(lambda: joblog.get(db, job_id)["state"] != "queued", 10, "the job to leave the queued state")
    job = joblog.get(db, job_id)
    assert job["state"] == "failed" and "nosuch" in job["error"]


def test_an_operator_rebuild_in_process_rebuilds_this_services_store(inprocess_service):
    """Regression: the in-process dispatcher ran the rq job function, which opened the stores named
    by the environment rather than the service's own: the job rebuilt another store (or none) and
    this one's version never changed. Jobs now run with the stores they are given."""
    client = inprocess_service
    client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
    before = client.ok(client.get("/v1/ops/projections"))["projections"]["history"]["version"]
    job = client.ok(client.post("/v1/ops/projections/history/rebuild"), 202)
    eventually(lambda: client.ok(client.get(f"/v1/ops/jobs/{job['id']}"))["state"] in ("finished", "failed"), 60,
               "the rebuild job to end")
    assert client.ok(client.get(f"/v1/ops/jobs/{job['id']}"))["state"] == "finished"
    after = client.ok(client.get("/v1/ops/projections"))["projections"]["history"]["version"]
    assert after > before
    assert client.ok(client.get("/v1/orgs/acme"))["name"] == "Acme"
