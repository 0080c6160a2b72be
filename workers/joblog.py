"""Operator jobs (rebuilds, replays) and their progress, kept in the database so any process can
show them: the CLI that runs one, the rq worker that runs one, and ``GET /v1/ops/jobs/{id}``
in every server process."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timezone

from projections import clock
from projections.answers import ListedVersion
from projections.clock import now as _now
from projections.db import Conn, Database, DBRow, SQLParam

from . import processes
from .answers import Job, JobSummary, VersionWithJob

STATES = ("queued", "running", "finished", "failed")
# A running job whose runner has not written for this long (or whose process, on this host, is
# gone) is reported as stalled: its process was most likely killed; running the command again
# resumes it.
STALE_SECONDS = 60


def new_id() -> str:
    return uuid.uuid4().hex


def create(db: Database, kind: str, name: str, state: str = "queued", job_id: str | None = None) -> str:
    job_id = job_id or new_id()
    now = _now()
    with db.write(bind=False) as c:
        c.execute("INSERT INTO jobs (id, kind, name, state, created_at, updated_at) VALUES (?,?,?,?,?,?) "
                  "ON CONFLICT (id) DO NOTHING", (job_id, kind, name, state, now, now))
    return job_id


def update(db: Database, job_id: str, **fields: SQLParam) -> None:
    fields["updated_at"] = _now()
    if fields.get("state") == "running":
        fields.setdefault("runner", f"{socket.gethostname()}:{os.getpid()}")
    if fields.get("state") in ("finished", "failed"):
        fields.setdefault("finished_at", fields["updated_at"])
    cols = ", ".join(f"{k}=?" for k in fields)
    with db.write(bind=False) as c:
        c.execute(f"UPDATE jobs SET {cols} WHERE id=?", (*fields.values(), job_id))


def started(db: Database, job_id: str, version: int, position: int, total: int) -> None:
    with db.write(bind=False) as c:
        c.execute("UPDATE jobs SET started_at=COALESCE(started_at, ?) WHERE id=?", (_now(), job_id))
    update(db, job_id, state="running", version=version, position=position, done=position, total=total,
           error=None, finished_at=None)


def interrupted(db: Database, name: str, kind: str, current: str) -> None:
    """Mark the other queued or running jobs of this kind as failed: called by a job that holds the
    lock they would need, so their processes died (SIGKILL, a lost worker) without saying so."""
    update_where = ("UPDATE jobs SET state='failed', error=?, updated_at=?, finished_at=? WHERE name=? AND kind=? "
                    "AND id<>? AND state IN ('running')")
    now = _now()
    with db.write(bind=False) as c:
        c.execute(update_where, (f"interrupted: its process ended without finishing; job {current} resumes it",
                                 now, now, name, kind, current))


def get(db: Database, job_id: str) -> Job | None:
    with db.read(bind=False) as c:
        row = c.one("SELECT * FROM jobs WHERE id=?", (job_id,))
    if row is None:
        return None
    return describe(row)


def active(db: Database, name: str, kind: str = "rebuild") -> Job | None:
    """A queued or running (not stalled) job of this kind for this projection."""
    with db.read(bind=False) as c:
        rows = c.all("SELECT * FROM jobs WHERE name=? AND kind=? AND state IN ('queued', 'running') "
                     "ORDER BY created_at DESC", (name, kind))
    for row in rows:
        job = describe(row)
        if not job["stalled"]:
            return job
    return None


def _runner_gone(runner: str | None) -> bool:
    """The job's process ran on this host and no longer exists (killed: it could not say so)."""
    host, _, pid = (runner or "").rpartition(":")
    return processes.gone(host, pid)


def describe(row: DBRow) -> Job:
    """A ``jobs`` row as it is answered: its progress as numbers, and whether it stalled."""
    stalled = False
    if row["state"] in ("queued", "running"):
        age = (datetime.now(timezone.utc) - clock.parse(row["updated_at"])).total_seconds()
        # queued jobs wait for a worker, which may be busy: only a silent (or dead) *runner* is stalled
        stalled = row["state"] == "running" and (age > STALE_SECONDS or _runner_gone(row["runner"]))
    return {"id": row["id"], "kind": row["kind"], "name": row["name"], "version": row["version"],
            "state": row["state"], "done": int(row["done"] or 0), "total": int(row["total"] or 0),
            "position": int(row["position"] or 0), "rate": row["rate"], "eta_seconds": row["eta_seconds"],
            "error": row["error"], "runner": row["runner"], "created_at": row["created_at"],
            "started_at": row["started_at"], "updated_at": row["updated_at"], "finished_at": row["finished_at"],
            "stalled": stalled}


UNFINISHED = ("building", "replaying")


def with_jobs(conn: Conn, rows: list[ListedVersion]) -> list[VersionWithJob]:
    """Version rows (``versions.listing``) with the job that last worked on each unfinished one,
    and ``abandoned``: an unfinished version whose job failed, stalled or never existed, i.e. whose
    process was killed. A rebuild resumes an abandoned ``building`` version; an abandoned
    ``replaying`` one is only good for ``versions drop``."""
    jobs: dict[tuple[str, int], Job] = {}
    listed = sorted({int(r["version"]) for r in rows})
    if listed:  # the jobs of these versions only, not every job ever run
        for r in conn.all(f"SELECT * FROM jobs WHERE version IN ({','.join('?' * len(listed))}) "
                          "ORDER BY created_at", listed):
            jobs[(r["name"], int(r["version"]))] = describe(r)  # the newest job per version wins
    out: list[VersionWithJob] = []
    for row in rows:
        job = jobs.get((row["name"], int(row["version"])))
        summary: JobSummary | None = None if job is None else {
            "id": job["id"], "kind": job["kind"], "state": job["state"], "stalled": job["stalled"],
            "updated_at": job["updated_at"]}
        abandoned = row["state"] in UNFINISHED and (
            job is None or job["stalled"] or job["state"] in ("failed", "finished"))
        out.append(VersionWithJob(**row, job=summary, abandoned=abandoned))
    return out
