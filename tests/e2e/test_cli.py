"""The command line: `orghistory seed` is idempotent, across processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess

from ..conftest import BIN, service_env


def _seed(env):
    out = subprocess.run([str(BIN / "orghistory"), "seed"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _status(env):
    out = subprocess.run([str(BIN / "orghistory"), "status", "--json"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_seed_twice_on_sqlite(sqlite_settings):
    env = service_env(sqlite_settings, None)
    first = _seed(env)
    assert first["orgs"]["openai"]["appended"] > 50 and first["people"] > 20
    head = _status(env)["head"]
    second = _seed(env)
    assert second["people"] == 0 and all(o["appended"] == 0 and o["replayed"] for o in second["orgs"].values())
    status = _status(env)
    assert status["head"] == head and status["projections"]["history"]["lag_events"] == 0


def test_seed_twice_on_postgres(pg_settings):
    env = service_env(pg_settings, None)
    env.pop("ORGHISTORY_REDIS_URL", None)
    _seed(env)
    head = _status(env)["head"]
    second = _seed(env)
    assert all(o["appended"] == 0 for o in second["orgs"].values())
    assert _status(env)["head"] == head


def test_the_development_server_does_not_announce_its_versions(sqlite_settings):
    import requests

    from ..conftest import _wait_http, free_port, spawn, stop

    port = free_port()
    proc = spawn([str(BIN / "orghistory"), "serve", "--no-seed", "--port", str(port)],
                 env=service_env(sqlite_settings, None), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_http(f"http://127.0.0.1:{port}/livez", proc)
        server = requests.get(f"http://127.0.0.1:{port}/livez", timeout=10).headers.get("Server", "")
        assert "Werkzeug" not in server and "Python" not in server, server
    finally:
        stop(proc)
