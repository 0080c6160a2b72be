"""Live-tail fan-out: N concurrent SSE clients each receive newly appended events.

    .venv/bin/python bench/sse_fanout.py [--clients 200] [--events 20] [--store sqlite|postgres]

Prints the p50 and p99 delivery latency (append sent -> event parsed by a client) with
N clients, beside the same measured with one client in the same run (the baseline), and their
ratio. Goal: p99 under one second with 200 clients on this machine.

--store sqlite runs `orghistory serve` (the embedded default); --store postgres runs the
production shape: gunicorn (gthread) + PostgreSQL + Redis (wake-ups over pub/sub).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

BIN = Path(sys.executable).parent
TOKEN = "bench-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(store: str, tmp: Path) -> tuple[str, list[subprocess.Popen], callable]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGHISTORY_")}
    env.update(ORGHISTORY_ADMIN_TOKEN=TOKEN, ORGHISTORY_DATA_DIR=str(tmp))
    port = free_port()
    cleanup = lambda: None
    if store == "postgres":
        import psycopg

        schema = f"bench_sse_{uuid.uuid4().hex[:10]}"
        env.update(ORGHISTORY_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/test",
                   ORGHISTORY_DATABASE_SCHEMA=schema, ORGHISTORY_REDIS_URL="redis://127.0.0.1:6379/12")

        def cleanup():
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        procs = [subprocess.Popen([str(BIN / "gunicorn"), "-c", "python:service.gunicorn_conf", "--workers", "2", "--threads",
                                   "160", "--bind", f"127.0.0.1:{port}", "service.app:create_app()"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                 subprocess.Popen([str(BIN / "orghistory"), "worker"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)]
    else:
        procs = [subprocess.Popen([str(BIN / "orghistory"), "serve", "--no-seed", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return base, procs, cleanup
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def client(base: str, org: str, expected: int, received: dict, ready: threading.Barrier, idx: int) -> None:
    times = received.setdefault(idx, {})
    with requests.get(f"{base}/v1/streams/all/live?org={org}&type=noted", stream=True, timeout=120) as resp:
        ready.wait()
        data = None
        for line in resp.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                data = line[6:]
            elif line == "" and data:
                event = json.loads(data)
                times[event["title"]] = time.perf_counter()
                data = None
                if len(times) >= expected:
                    return


def measure(base: str, clients: int, events: int, label: str) -> list[float]:
    org = f"o{uuid.uuid4().hex[:8]}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    requests.post(base + "/v1/orgs", json={"slug": org, "name": org}, headers=auth, timeout=30).raise_for_status()
    received: dict = {}
    ready = threading.Barrier(clients + 1, timeout=120)
    threads = [threading.Thread(target=client, args=(base, org, events, received, ready, i), daemon=True)
               for i in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    time.sleep(1.0)  # every stream has caught up and is waiting
    sent: dict[str, float] = {}
    for i in range(events):
        title = f"e{i}"
        sent[title] = time.perf_counter()  # latency counts from the moment the append is sent
        r = requests.post(f"{base}/v1/orgs/{org}/events", json={"type": "noted", "title": title, "effective": "2020"},
                          headers=auth, timeout=30)
        r.raise_for_status()
        time.sleep(0.25)
    for t in threads:
        t.join(60)
    latencies = [max(0.0, times[title] - sent[title]) for times in received.values() for title in times if title in sent]
    missing = clients * events - len(latencies)
    print(f"  {label}: {len(latencies)} deliveries, {missing} missing", file=sys.stderr)
    return latencies


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--events", type=int, default=20)
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="orghistory-sse-"))
    base, procs, cleanup = start_server(args.store, tmp)
    try:
        one = measure(base, 1, args.events, "1 client")
        many = measure(base, args.clients, args.events, f"{args.clients} clients")
    finally:
        for p in procs:
            p.kill()
        cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    ms = lambda x: f"{x * 1000:8.1f} ms"
    print(f"SSE fan-out, store={args.store}, {args.events} events appended 250 ms apart")
    print(f"  baseline, 1 client:     p50 {ms(statistics.median(one))}   p99 {ms(pct(one, 0.99))}")
    print(f"  {args.clients} clients:          p50 {ms(statistics.median(many))}   p99 {ms(pct(many, 0.99))}")
    print(f"  deliveries {len(many)} of {args.clients * args.events}")
    print(f"  ratio p99({args.clients}) / p99(1) = {pct(many, 0.99) / pct(one, 0.99):.1f}")
    goal = pct(many, 0.99) < 1.0 and len(many) == args.clients * args.events
    print(f"  goal: p99 under 1 s with every event delivered: {'PASS' if goal else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
