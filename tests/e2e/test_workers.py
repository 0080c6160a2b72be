"""Many workers against one Redis and PostgreSQL: every event is applied exactly once."""

from __future__ import annotations

import itertools
import json
import subprocess
import time

import redis
from rq import Worker

from workers.catchup import lag
from workers.dispatch import enqueue_catch_up, queue_for

from ..conftest import BIN, eventually, service_env, spawn, stop, stores_for


def test_two_orghistory_workers_and_an_rq_pool_apply_each_event_once(pg_settings, redis_url, tmp_path):
    """Three phases, so that who does the work does not hang on timing: the rq pool alone; the
    pool and two ``orghistory worker`` processes all at once (the contention exactly-once is
    about); the two workers alone after the pool has stopped. Across all three, the runners'
    applied counts add up to the events in the log, and ``verify`` passes."""
    env = {**service_env(pg_settings, redis_url), "ORGHISTORY_LOG_LEVEL": "INFO"}
    conn = redis.Redis.from_url(redis_url)
    app = stores_for(pg_settings).app
    app.register_org("acme", "Acme")
    app.append("acme", [{"type": "unit_formed", "unit": "team", "name": "Team", "kind": "team", "effective": "2000"}])
    pool_log = tmp_path / "pool.err"
    worker_logs = [tmp_path / f"worker{i}.err" for i in range(2)]
    queue = queue_for(stores_for(pg_settings))
    pool = spawn([str(BIN / "rq"), "worker-pool", "-n", "2", "--url", redis_url, queue],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(pool_log, "w"))
    workers = []
    batches = iter(range(60))
    try:
        _listening(conn, 2)
        _append_and_wake(app, conn, queue, batches, 15)
        _caught_up(pg_settings)
        workers = [spawn([str(BIN / "orghistory"), "worker", "--name", f"w{i}-{time.time_ns()}"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=open(log, "w"))
                   for i, log in enumerate(worker_logs)]
        _listening(conn, 4)
        _append_and_wake(app, conn, queue, batches, 30)  # all four compete for these
        stop(pool)
        _append_and_wake(app, conn, queue, batches, 15)  # only the two workers are left
        _caught_up(pg_settings)
        events = sum(1 for _ in app.read_all())
        # A runner logs "caught up" just after its last commit: give a loaded machine a moment.
        eventually(lambda: _applied([pool_log, *worker_logs])[0] >= events, 20,
                   "the runners to log every event applied")
    finally:
        stop(pool, *workers)
    applied, runners = _applied([pool_log, *worker_logs])
    assert applied == events  # each event applied exactly once, across all the workers
    assert "pool.err" in runners and runners & {"worker0.err", "worker1.err"}, runners  # both kinds did work
    out = subprocess.run([str(BIN / "orghistory"), "verify"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _listening(conn, n: int) -> None:
    eventually(lambda: len(Worker.all(connection=conn)) >= n, 60, f"{n} rq workers to listen")


def _append_and_wake(app, conn, queue: str, batches, n: int) -> None:
    """``n`` batches of ten new people joining, each appended and followed by a wake-up."""
    for batch in itertools.islice(batches, n):
        people = [f"p{batch}-{i}" for i in range(10)]
        for p in people:
            app.register_person(p, p)
        app.append("acme", [{"type": "member_joined", "unit": "team", "person": p, "effective": f"20{10 + batch % 10}"}
                            for p in people])
        enqueue_catch_up(conn, queue)


def _caught_up(settings, timeout: float = 90) -> None:
    eventually(lambda: lag(stores_for(settings))[1] >= lag(stores_for(settings))[0], timeout, "the projection to catch up with the log")


def _applied(logs) -> tuple[int, set[str]]:
    """Events the runners say they applied, and which runners applied any."""
    applied = 0
    runners = set()
    for path in logs:
        for line in path.read_text().splitlines():
            if line.startswith("{") and '"caught up"' in line:
                applied += json.loads(line)["applied"]
                runners.add(path.name)
    return applied, runners


def test_a_worker_started_before_its_database_waits_for_it(pg_settings, redis_url, tmp_path):
    """The worker opens its stores at start (its in-process catch-up keeps them): with the database
    not there yet it waits and tries again, as it does for Redis, instead of exiting. The
    database is PostgreSQL behind a port that forwards to it only once a forwarder listens there."""
    import dataclasses

    from ..conftest import free_port

    port = free_port()
    url = pg_settings.database_url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
    assert url != pg_settings.database_url
    env = {**service_env(dataclasses.replace(pg_settings, database_url=url), redis_url), "ORGHISTORY_LOG_LEVEL": "INFO"}
    log = tmp_path / "worker.err"
    worker = spawn([str(BIN / "orghistory"), "worker", "--name", f"early-{time.time_ns()}"], env=env,
                   stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    server = None
    try:
        eventually(lambda: "cannot reach its database" in log.read_text(), 30, "the worker to say it waits")
        assert worker.poll() is None, log.read_text()
        server = _forward_to_postgres(port)
        app = stores_for(pg_settings).app
        app.register_org("acme", "Acme")
        enqueue_catch_up(redis.Redis.from_url(redis_url), queue_for(stores_for(pg_settings)))
        eventually(lambda: lag(stores_for(pg_settings)) == (app.head_position(),) * 2, 60,
                   "the worker, once the database answers, to fold what was appended")
    finally:
        stop(worker)
        if server is not None:
            server.shutdown()


def test_the_api_started_before_its_database_waits_for_it(pg_settings, caplog):
    """Under gunicorn, a worker whose boot raises stops the whole server: PostgreSQL restarting
    while an API worker started took the API down (seen in test_faults). The API's stores, like
    the rq worker's, wait for the database."""
    import dataclasses
    import logging
    import threading

    from service.bootstrap import Services, bootstrap

    from ..conftest import free_port

    port = free_port()
    settings = dataclasses.replace(pg_settings, database_url=pg_settings.database_url.replace(
        "127.0.0.1:5432", f"127.0.0.1:{port}"))
    booted: list[Services | Exception] = []
    caplog.set_level(logging.WARNING, logger="orghistory.worker")

    def boot() -> None:
        try:
            booted.append(bootstrap(settings, start_background=False))
        except Exception as e:  # what the API did before: fail its boot
            booted.append(e)

    thread = threading.Thread(target=boot, daemon=True)
    thread.start()
    server = None
    try:
        eventually(lambda: booted or "api cannot reach its database" in caplog.text, 30, "the API to say it waits")
        assert not booted, booted
        server = _forward_to_postgres(port)
        thread.join(60)
        [services] = booted
        assert isinstance(services, Services), services
        assert services.app.head_position() >= 0
        services.stores.close()
    finally:
        if server is not None:
            server.shutdown()


def _forward_to_postgres(port: int):
    """A server on ``port`` that forwards each connection to the machine's PostgreSQL."""
    import socket
    import socketserver
    import threading

    class Forward(socketserver.BaseRequestHandler):
        def handle(self):
            upstream = socket.create_connection(("127.0.0.1", 5432))
            pipes = [threading.Thread(target=_pipe, args=(a, b), daemon=True)
                     for a, b in ((self.request, upstream), (upstream, self.request))]
            for p in pipes:
                p.start()
            for p in pipes:
                p.join()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Forward)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _pipe(src, dst) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(2)
            except OSError:
                pass
