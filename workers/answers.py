"""What the workers answer the service and the command line, by shape: parked events, operator
jobs, versions with their jobs, the status report and a rebuild's report. Keys are declared in the
order the answers have them (that order is the JSON the service and the command line write)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NotRequired, TypedDict, final

from projections.answers import ListedVersion

# An operator job's arguments after its kind and id (``Dispatcher.start_job``): the projection's
# name and the job's id again, then a replay's position and record time, if given.
JobArg = int | str | None


class ParkedSummary(TypedDict):
    """A parked event as the status report lists it (see ``ParkedEvent``)."""

    position: int
    event_id: str | None
    type: str | None
    error: str
    attempts: int
    parked_at: str


class ParkedEvent(ParkedSummary):
    """A ``parked`` row: an event whose fold raised, with its error (``resolution``: retried or
    skipped, once resolved). A TypedDict declares keys, not their order: the row's own order
    (name first) is what answers show."""

    name: str  # the version's tracking key, ``history@v2``
    resolved_at: str | None
    resolution: str | None


class Job(TypedDict):
    """An operator job's row, and whether its runner went silent (``stalled``)."""

    id: str
    kind: str
    name: str
    version: int | None
    state: str
    done: int
    total: int
    position: int
    rate: float | None
    eta_seconds: float | None
    error: str | None
    runner: str | None
    created_at: str
    started_at: str | None
    updated_at: str
    finished_at: str | None
    stalled: bool


class JobSummary(TypedDict):
    """The job that last worked on a version, as a version listing names it."""

    id: str
    kind: str
    state: str
    stalled: bool
    updated_at: str


class VersionWithJob(ListedVersion):
    """A version with the job that last worked on it, and whether that job was abandoned."""

    job: JobSummary | None
    abandoned: bool




class OtherVersion(TypedDict):
    """A version other than the live one, as the status report lists it (``job``: its id)."""

    version: int
    state: str
    position: int
    until_position: int | None
    created_at: str
    abandoned: bool
    job: str | None


class ProjectionStatus(TypedDict):
    position: int
    version: int | None
    lag_events: int
    lag_seconds: float
    updated_at: str | None
    stale: bool
    parked: int
    parked_events: list[ParkedSummary]
    other_versions: list[OtherVersion]


class RqWorker(TypedDict):
    name: str
    state: str
    pid: int | None


@final
class RqStatus(TypedDict):
    queue: str
    queued: int
    started: int
    failed: int
    scheduled: int
    failed_jobs: list[str]
    workers: list[RqWorker]


@final
class RqUnreachable(TypedDict):
    queue: str
    error: str


class Status(TypedDict):
    store: Literal["postgresql", "sqlite"]
    head: int
    projections: dict[str, ProjectionStatus]
    dispatch: Literal["rq", "in-process"]
    rq: NotRequired[RqStatus | RqUnreachable]


class ReportJSON(TypedDict):
    """A rebuild's or replay's report (``Report``), its rate rounded."""

    name: str
    version: int
    kind: str
    started_from: int
    position: int
    events: int
    seconds: float
    switched_from: int | None
    dropped: list[int] | None
    parked: int
    read_backs: int
    rate: float


@dataclass
class Report:
    """A rebuild's or replay's report (``workers.rebuild``): logged when it ends, the job's answer."""

    name: str
    version: int
    kind: str
    started_from: int  # position the version had reached when this run began (0: from scratch)
    position: int  # position reached
    events: int  # events folded by this run
    seconds: float
    switched_from: int | None = None
    dropped: list[int] | None = None
    parked: int = 0
    # Times the fold spent its memory budget, let go of what it held and read back from then
    # on: many for a small budget (``ORGHISTORY_REBUILD_MEMORY_MB``), each a few seconds.
    read_backs: int = 0

    def log_fields(self) -> dict[str, object]:
        """The report as a log line's fields: ``name`` is the projection (``logging`` reserves
        ``name`` for the logger's own)."""
        fields: dict[str, object] = dict(self.as_json())
        fields["projection"] = fields.pop("name")
        return fields

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def as_json(self) -> ReportJSON:
        return {"name": self.name, "version": self.version, "kind": self.kind, "started_from": self.started_from,
                "position": self.position, "events": self.events, "seconds": self.seconds,
                "switched_from": self.switched_from, "dropped": self.dropped, "parked": self.parked,
                "read_backs": self.read_backs, "rate": round(self.rate, 1)}
