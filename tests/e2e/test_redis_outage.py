"""Appending while Redis is down still succeeds; once it is back, the projection and the live
tail deliver what was appended meanwhile. Uses a Redis server of its own, stopped and restarted."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

import pytest
import redis

from ..conftest import BIN, Client, _wait_http, eventually, free_port, service_env, spawn, stop
from .test_streams import read_sse


def _redis(port: int) -> subprocess.Popen:
    proc = spawn([shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def pong() -> bool:
        try:
            return bool(redis.Redis(port=port).ping())
        except redis.ConnectionError:
            return False

    eventually(pong, 10, f"redis-server to answer on port {port}")
    return proc


@pytest.fixture
def own_redis():
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed")
    port = free_port()
    state = {"port": port, "proc": _redis(port)}
    yield state
    state["proc"].terminate()
    state["proc"].wait(10)


def test_appends_during_a_redis_outage_are_folded_and_streamed_afterwards(pg_settings, own_redis, tmp_path):
    from .test_webhooks import FAST, SECRET, Receiver, wait_until

    url = f"redis://127.0.0.1:{own_redis['port']}/0"
    env = {**service_env(pg_settings, url), **FAST}
    receiver = Receiver()
    port = free_port()
    api = spawn([str(BIN / "gunicorn"), "-c", "python:service.gunicorn_conf", "--threads", "8", "--bind",
                            f"127.0.0.1:{port}", "service.app:create_app()"], env=env,
                           stdout=subprocess.DEVNULL, stderr=open(tmp_path / "api.err", "w"))
    worker = spawn([str(BIN / "orghistory"), "worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(tmp_path / "worker.err", "w"))
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_http(base + "/healthz", api)
        client = Client(base)
        client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
        client.ok(client.post("/v1/subscriptions", {"url": receiver.url, "secret": SECRET,
                                                    "filter": {"org": "acme", "types": ["noted"]}}))
        received = []
        listener = threading.Thread(target=lambda: received.extend(
            read_sse(base + "/v1/streams/all/live?org=acme", stop_after=4, timeout=60)))
        listener.start()

        own_redis["proc"].kill()  # Redis goes away
        own_redis["proc"].wait(10)
        answer = client.ok(client.post("/v1/orgs/acme/events", {"events": [
            {"type": "noted", "title": f"during outage {i}", "effective": "2020"} for i in range(3)]}))
        top = answer["events"][-1]["position"]
        time.sleep(1)  # deliberate: the outage lasts a while after the appends, not a wait for anything
        own_redis["proc"] = _redis(own_redis["port"])  # and comes back

        timeline = client.ok(client.get("/v1/orgs/acme/timeline", min_position=top))["events"]
        assert [e["title"] for e in timeline] == [f"during outage {i}" for i in range(3)]
        listener.join(60)
        assert [d.get("title", d.get("name")) for _, _, d in received] == [
            "Acme", "during outage 0", "during outage 1", "during outage 2"]
        assert wait_until(lambda: receiver.titles() == [f"during outage {i}" for i in range(3)], 60), receiver.titles()
        # the projection equals a fresh fold of the log, and the log its hash chain
        for args in (["verify"], ["verify", "--chain"]):
            out = subprocess.run([str(BIN / "orghistory"), *args], env=env, capture_output=True, text=True, timeout=300)
            assert out.returncode == 0, out.stdout + out.stderr
    finally:
        stop(api, worker)
        receiver.close()
