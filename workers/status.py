"""Operator status: the head of the log, each projection's position and lag (in events and in
seconds), and, with Redis, the rq queue, its failed jobs and the live workers."""

from __future__ import annotations

from datetime import datetime, timezone

from events.settings import Settings
from projections import versions
from projections.projector import NAME

from . import joblog
from .answers import OtherVersion, ParkedSummary, RqStatus, RqUnreachable, Status
from .dispatch import queue_for, redis_for_clients
from .runtime import Stores


def status(stores: Stores) -> Status:
    app, db, settings = stores.app, stores.db, stores.settings
    head = app.head_position()
    with db.read(name=NAME) as conn:
        version = conn.version
        row = conn.one("SELECT position, updated_at FROM tracking WHERE name=?", (conn.track,)) or {}
        position, updated = int(row.get("position") or 0), row.get("updated_at")
        parked: list[ParkedSummary] = [
            {"position": r["position"], "event_id": r["event_id"], "type": r["type"], "error": r["error"],
             "attempts": r["attempts"], "parked_at": r["parked_at"]}
            for r in conn.all("SELECT position, event_id, type, error, attempts, parked_at FROM parked "
                              "WHERE name=? AND resolved_at IS NULL ORDER BY position", (conn.track,))]
        others = [r for r in joblog.with_jobs(conn, versions.listing(conn, NAME)) if r["state"] != "live"]
        stale = versions.stale(conn, NAME)
    waiting = app.read(after=position, limit=1)
    lag_seconds = 0.0
    if waiting:  # how long the oldest event not yet applied has waited
        lag_seconds = round((datetime.now(timezone.utc) - waiting[0].recorded_at).total_seconds(), 3)
    others_listed: list[OtherVersion] = [
        {"version": v["version"], "state": v["state"], "position": v["position"], "until_position": v["until_position"],
         "created_at": v["created_at"], "abandoned": v["abandoned"], "job": v["job"]["id"] if v["job"] else None}
        for v in others]
    out: Status = {
        "store": "postgresql" if settings.is_postgres else "sqlite",
        "head": head,
        "projections": {NAME: {"position": position, "version": version, "lag_events": max(0, head - position) if waiting else 0,
                               "lag_seconds": lag_seconds, "updated_at": updated,
                               # folded by older code: answers, but a rebuild is due (started by
                               # serve and worker on their own)
                               "stale": stale,
                               "parked": len(parked), "parked_events": parked[:20],
                               # a rebuild under way (state building), replays (scratch), old versions
                               # not yet dropped (retired), each with the position it has reached;
                               # ``abandoned``: unfinished, and its process is gone
                               "other_versions": others_listed}},
        "dispatch": "rq" if settings.redis_url else "in-process",
    }
    if settings.redis_url:
        out["rq"] = rq_status(stores)
    return out


def rq_status(stores: Stores) -> RqStatus | RqUnreachable:
    from rq import Queue, Worker

    conn = redis_for_clients(stores.settings.required_redis_url())
    queue = queue_for(stores)
    try:
        q = Queue(queue, connection=conn)
        workers = Worker.all(queue=q)
        return {
            "queue": queue, "queued": q.count, "started": q.started_job_registry.count,
            "failed": q.failed_job_registry.count, "scheduled": q.scheduled_job_registry.count,
            "failed_jobs": q.failed_job_registry.get_job_ids()[:20],
            "workers": [{"name": w.name, "state": w.get_state(), "pid": w.pid} for w in workers],
        }
    except Exception as e:  # Redis down: say so, the rest of the status still stands
        return {"queue": queue, "error": f"Redis unreachable: {e}"}


def rq_job_failure(settings: Settings, job_id: str) -> str | None:
    """Why rq failed or stopped the job with this id, if it did (None: running, queued or gone)."""
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(job_id, connection=redis_for_clients(settings.required_redis_url()))
        status = job.get_status()
    except Exception:
        return None
    if status not in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        return None
    result = job.latest_result()
    detail = (result.exc_string or "").strip().splitlines()[-1:] if result is not None else []
    return f"rq: job {status.value}" + (f": {detail[0]}" if detail else "")
