"""Operations: projections and their versions, rebuilds and replays (jobs), parked events."""

from __future__ import annotations

from events.errors import NotFound
from projections import versions
from projections.versions import UnknownProjection, check_name
from workers import answers, joblog
from workers.catchup import parked, retry_parked, skip_parked
from workers.rebuild import drop_version
from workers.status import rq_job_failure, status

from ..auth import require, services
from ..problems import Problem
from ..schemas import Job, Parked, ParkedList, Projections, ReplayIn, Versions
from . import Blueprint

blp = Blueprint("ops", __name__, url_prefix="/v1", description="Projections, rebuilds, replays, jobs and parked events")


def _projection(name: str) -> str:
    try:
        return check_name(name)
    except UnknownProjection as e:
        raise NotFound(str(e), "name") from None


def _start_job(kind: str, name: str, *args: answers.JobArg) -> tuple[answers.Job, int, dict[str, str]]:
    """Record a job and hand it to the dispatcher: its row, 202, and its Location."""
    s = services()
    job_id = joblog.create(s.db, kind, name)
    try:
        s.dispatcher.start_job(kind, job_id, name, job_id, *args)
    except Exception as e:  # Redis down: nothing was started, say so
        joblog.update(s.db, job_id, state="failed", error=f"could not enqueue: {e}")
        raise Problem(503, "Service Unavailable", f"could not start the {kind}: {e}", None) from None
    job = joblog.get(s.db, job_id)
    if job is None:  # recorded above: only a store that lost the row gets here
        raise RuntimeError(f"job {job_id} was recorded and is gone")
    return job, 202, {"Location": f"/v1/ops/jobs/{job_id}"}


def _job(job_id: str) -> answers.Job:
    """A job's row, or a 404; failed if rq says so (the worker died, or rq gave up on it: the row
    alone would say "running" forever)."""
    job = joblog.get(services().db, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}", "job_id")
    if job["state"] in ("queued", "running") and services().settings.redis_url:
        failure = rq_job_failure(services().settings, job_id)
        if failure:
            job["state"], job["error"] = "failed", failure
    return job


@blp.route("/ops/projections")
@blp.reads(Projections, scope="operate")
def ops_projections():
    """Head of the log, each projection's position, version and lag; rq queue and workers."""
    return status(services().stores)


@blp.route("/ops/projections/<name>/rebuild", methods=["POST"])
@require("operate")
@blp.response(202, Job)
def ops_rebuild(name):
    """Rebuild a projection blue/green: a new version is built beside the live one, readers switch
    to it atomically when it has caught up, the old one is dropped. Progress: the job's Location."""
    _projection(name)
    running = joblog.active(services().db, name, "rebuild")
    if running is not None:
        raise Problem(409, "Conflict", f"a rebuild of {name} is already {running['state']}", "name",
                      job=f"/v1/ops/jobs/{running['id']}")
    return _start_job("rebuild", name)


@blp.route("/ops/projections/<name>/replays", methods=["POST"])
@require("operate")
@blp.arguments(ReplayIn)
@blp.response(202, Job)
def ops_replay(data, name):
    """Fold a scratch version up to a position or record time, queryable with ``?version=``."""
    _projection(name)
    until = data.get("until_recorded")
    return _start_job("replay", name, data.get("until_position"),
                      until.isoformat() if until else None)


@blp.route("/ops/projections/<name>/versions")
@blp.reads(Versions, scope="operate")
def ops_versions(name):
    """Every version of a projection not yet dropped: live, building, scratch, retired."""
    _projection(name)
    with services().read(name=name) as c:
        return {"name": name, "versions": joblog.with_jobs(c, versions.listing(c, name))}


@blp.route("/ops/projections/<name>/versions/<int:version>", methods=["DELETE"])
@require("operate")
@blp.response(204)
def ops_drop_version(name, version):
    """Drop a scratch (replay), retired or abandoned version. The live one cannot be dropped."""
    _projection(name)
    try:
        dropped = drop_version(services().stores, name, version)
    except LookupError as e:
        raise NotFound(str(e), "version") from None
    except ValueError as e:
        raise Problem(409, "Conflict", str(e), "version") from None
    if not dropped:
        raise Problem(503, "Service Unavailable", "readers from before the switch are still running; retry",
                      "version", headers={"Retry-After": "5"})
    return None


@blp.route("/ops/jobs/<job_id>")
@blp.reads(Job, scope="operate")
def ops_job(job_id):
    """A rebuild's or replay's state and progress: position reached, head, rate, ETA."""
    return _job(job_id)


@blp.route("/ops/parked")
@blp.reads(ParkedList, scope="operate")
def ops_parked():
    """Events whose fold raised, with their errors (unresolved ones)."""
    return {"parked": parked(services().stores)}


@blp.route("/ops/parked/<int:position>/<any(retry, skip):action>", methods=["POST"])
@require("operate")
@blp.response(200, Parked)
def ops_parked_action(position, action):
    """Retry a parked event (after a fix) or skip it for good."""
    try:
        return (retry_parked if action == "retry" else skip_parked)(services().stores, position)
    except LookupError as e:
        raise NotFound(str(e), "position") from None
