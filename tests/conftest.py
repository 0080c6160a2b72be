"""Fixtures: real SQLite files, the real PostgreSQL and Redis on this machine, real HTTP servers.

PostgreSQL and Redis tests skip only when the servers are unreachable AND
ORGHISTORY_REQUIRE_SERVICES is unset; CI sets it, so there they fail instead of skipping.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from events.settings import Settings
from service.schemas.answer import AsBuilt
from workers.runtime import StoresBySettings

# Every answer served as built is also dumped through its schema and must come out unchanged (see
# AsBuilt): here, and in the servers the tests start (``service_env``).
CHECK_ANSWERS = {"ORGHISTORY_CHECK_ANSWERS": "1"}
AsBuilt.checked = True

PG_URL = os.environ.get("ORGHISTORY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ORGHISTORY_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
ADMIN = "test-admin-token"
BIN = Path(sys.executable).parent


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need(service: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    if os.environ.get("ORGHISTORY_REQUIRE_SERVICES"):
        pytest.fail(f"{service} is not reachable on {host}:{port} and ORGHISTORY_REQUIRE_SERVICES is set")
    pytest.skip(f"{service} not reachable on {host}:{port}")


# The stores of each settings in this test, opened (through the bootstrap's ``open_stores``) on
# first use and closed when the test ends; ``close_stores()`` closes them sooner, as a new process
# would start afresh.
stores_for = StoresBySettings()
close_stores = stores_for.close


@pytest.fixture(autouse=True)
def _stores_closed_after_each_test():
    yield
    close_stores()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sqlite_settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", admin_token=ADMIN)


@pytest.fixture
def pg_settings():
    need("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield Settings(database_url=PG_URL, database_schema=schema, admin_token=ADMIN)
    close_stores()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def redis_url():
    need("Redis", "127.0.0.1", 6379)
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    r.flushdb()
    yield REDIS_URL
    r.flushdb()


class Client:
    """A tiny HTTP client for the service under test."""

    def __init__(self, base: str, token: str | None = ADMIN):
        self.base = base
        self.s = requests.Session()
        self.token = token

    def _headers(self, headers=None, auth=True):
        h = dict(headers or {})
        if auth and self.token:
            h.setdefault("Authorization", f"Bearer {self.token}")
        return h

    def get(self, path, auth=True, **params):
        params = {k: v for k, v in params.items() if v is not None}
        return self.s.get(self.base + path, params=params, headers=self._headers(None, auth), timeout=30)

    def post(self, path, json=None, headers=None, auth=True, data=None):
        return self.s.post(self.base + path, json=json, data=data, headers=self._headers(headers, auth), timeout=60)

    def ok(self, resp, status=(200, 201)):
        assert resp.status_code in (status if isinstance(status, tuple) else (status,)), resp.text
        return resp.json()


_SPAWNED: list[subprocess.Popen] = []


def spawn(args, **kwargs) -> subprocess.Popen:
    """Start a process in a session (process group) of its own, so that it and everything it
    starts (gunicorn's workers, rq's scheduler and work horses) can be ended together."""
    proc = subprocess.Popen(args, start_new_session=True, **kwargs)
    _SPAWNED.append(proc)
    return proc


def _signal_group(p: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(p.pid, sig)  # the group outlives its leader while any member lives
    except (ProcessLookupError, PermissionError):
        pass


def stop(*procs: subprocess.Popen, grace: float = 10) -> None:
    """Terminate processes and their groups, killing any still running after ``grace`` seconds
    (an open SSE stream keeps a gunicorn thread busy past a polite shutdown)."""
    for p in procs:
        _signal_group(p, signal.SIGTERM)
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(grace)
        _signal_group(p, signal.SIGKILL)  # whatever of the group is left


@pytest.fixture(autouse=True, scope="session")
def _end_every_process_the_tests_started():
    """The suite leaves nothing running: every process group it spawned is killed at the end."""
    yield
    for p in _SPAWNED:
        _signal_group(p, signal.SIGKILL)
        if p.poll() is None:
            p.kill()


def eventually(condition, timeout: float = 30, what: str = "the condition", interval: float = 0.05):
    """Poll ``condition`` until it gives a true value, and return that value; fail the test, saying
    ``what`` did not happen, if it has not within ``timeout`` seconds. Tests wait with this, never
    with a bare sleep: it waits no longer than needed, and a timeout says what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"{what} did not happen within {timeout:g}s", pytrace=False)
        time.sleep(interval)


def consistently(condition, during: float, what: str = "the condition", interval: float = 0.05) -> None:
    """Check ``condition`` holds throughout ``during`` seconds (nothing happens that must not: a
    delivery while paused, a duplicate), failing at once, saying ``what`` stopped holding, if not."""
    deadline = time.monotonic() + during
    while True:
        if not condition():
            pytest.fail(f"{what} stopped holding", pytrace=False)
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


def _wait_http(url: str, proc=None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@pytest.fixture
def inprocess_service(sqlite_settings):
    """The embedded default: SQLite, no Redis, projections folded in-process, over real HTTP."""
    from werkzeug.serving import make_server

    from service.app import create_app

    app = create_app(sqlite_settings)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    _wait_http(base + "/healthz")
    client = Client(base)
    client.services = app.extensions["orghistory"]  # for tests that mint tokens directly
    yield client
    server.shutdown()
    server.server_close()
    app.extensions["orghistory"].close()  # live streams and the folding thread end before the stores close


def service_env(settings: Settings, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGHISTORY_")}
    env.update(ORGHISTORY_DATABASE_URL=settings.database_url or "", ORGHISTORY_DATABASE_SCHEMA=settings.database_schema,
               ORGHISTORY_ADMIN_TOKEN=ADMIN, ORGHISTORY_DATA_DIR=str(settings.data_dir), **CHECK_ANSWERS)
    if redis_url:
        env["ORGHISTORY_REDIS_URL"] = redis_url
    return env


@pytest.fixture
def production_service(pg_settings, redis_url, tmp_path):
    """The production shape: gunicorn (gthread) + PostgreSQL + Redis + a separate `orghistory worker`."""
    yield from production(pg_settings, redis_url, tmp_path)


def production(pg_settings, redis_url, tmp_path, extra_env: dict | None = None, procs: list | None = None):
    env = {**service_env(pg_settings, redis_url), **(extra_env or {})}
    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    api = spawn(
        [str(BIN / "gunicorn"), "-c", "python:service.gunicorn_conf", "--workers", "2", "--threads", "8", "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", "service.app:create_app()"],
        env=env, stdout=open(logs / "api.out", "w"), stderr=open(logs / "api.err", "w"))
    worker = spawn([str(BIN / "orghistory"), "worker"], env=env,
                              stdout=open(logs / "worker.out", "w"), stderr=open(logs / "worker.err", "w"))
    if procs is not None:
        procs[:] = [api, worker]
    base = f"http://127.0.0.1:{port}"
    client = Client(base)
    try:
        _wait_http(base + "/healthz", api)
        yield client
    finally:
        # A kept-alive connection holds a gthread worker's polite shutdown for its keepalive
        # (2.4 s a test): the client hangs up first, as a real one between requests may.
        client.s.close()
        stop(*(procs or [api, worker]))
        for name in ("api.err", "worker.err"):
            text = (logs / name).read_text()
            if "Traceback" in text:
                print(f"--- {name} ---\n{text[-4000:]}")


@pytest.fixture(params=["sqlite-inprocess", "postgres-rq-worker"])
def service(request):
    """Every scenario runs on both shapes."""
    return request.getfixturevalue("inprocess_service" if request.param == "sqlite-inprocess" else "production_service")


# One member of a board: the organization the malformed- and hostile-input tests write against.
GOOD = {"type": "member_joined", "unit": "board", "person": "alice", "role": "director", "effective": "2020-01-01"}


@pytest.fixture
def acme(inprocess_service):
    c = inprocess_service
    c.ok(c.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
    c.ok(c.post("/v1/people", {"slug": "alice", "name": "Alice"}))
    c.ok(c.post("/v1/orgs/acme/units", {"slug": "board", "name": "Board", "kind": "board", "effective": "2010"}))
    c.ok(c.post("/v1/orgs/acme/events", GOOD))
    return c
