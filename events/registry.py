"""The write side's foundation: saving aggregates safely, finding them, registering them.

``OrgHistory`` (``application.py``) builds on this with the facts, the log and the rest.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import zlib
from copy import deepcopy
from typing import Any, Callable, Iterator, NotRequired, Sequence, TypedDict, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording, Transcoder

from .chain import ChainedRecorder
from .domain import Organization, Person, org_id, person_id
from .errors import AlreadyExists, NotFound
from .fastencode import FastJSONTranscoder
from .settings import Settings
from .vocabulary import slug, text

A = TypeVar("A", Person, Organization)
ORG_TURNS = 64  # locks that writers to organizations take turns at (see ``Registry.org_turn``)


class Registered(TypedDict):
    """A person or an organization as registering it answers (``version``: an organization's)."""

    slug: str
    name: str
    version: NotRequired[int]
    position: int


def _project(aggregate: Any, events: Any) -> Any:
    """The library's ``project_aggregate`` without its per-event ``isinstance`` check against a
    runtime Protocol (an assert costing ~50 us an event: most of fast-forwarding an organization
    past a large append)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class _Repository(Repository[UUID]):
    def get(self, aggregate_id: UUID, *, version: int | None = None, projector_func: Any = _project,
            fastforward_skipping: bool = False, deepcopy_from_cache: bool = True) -> Any:
        return super().get(aggregate_id, version=version, projector_func=projector_func,
                           fastforward_skipping=fastforward_skipping, deepcopy_from_cache=deepcopy_from_cache)


class Registry(Application[UUID]):
    # The factory builds the recorder the settings name: ours, on SQLite and on PostgreSQL.
    recorder: ChainedRecorder
    snapshotting_intervals = {Organization: 200}
    env = {"AGGREGATE_CACHE_MAXSIZE": "256", "COMPRESSOR_TOPIC": ""}

    def __init__(self, settings: Settings | None = None, env: dict[str, str] | None = None):
        self.settings = settings or Settings.from_env()
        # PostgreSQL takes concurrent writers itself; SQLite has one writer, so threads take turns.
        self._writer_turn = contextlib.nullcontext() if self.settings.is_postgres else threading.Lock()
        self._org_turns = [threading.Lock() for _ in range(ORG_TURNS)]
        super().__init__(env={**self.settings.eventsourcing_env(), **(env or {})})

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON transcoder, encoding with orjson where that writes the same bytes
        (``fastencode``); any other transcoder the settings name is the library's to build."""
        transcoder = self.factory.transcoder()
        if type(transcoder) is JSONTranscoder:
            transcoder = FastJSONTranscoder()
        if isinstance(transcoder, JSONTranscoder):
            self.register_transcodings(transcoder)
        return transcoder

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository with our projector (see ``_project``); the same settings."""
        repository = super().construct_repository()
        return _Repository(event_store=self.events, snapshot_store=self.snapshots,
                           cache_maxsize=int(self.env.get(self.AGGREGATE_CACHE_MAXSIZE) or 0) or None,
                           fastforward=repository.fastforward, fastforward_skipping=repository.fastforward_skipping,
                           deepcopy_from_cache=repository.deepcopy_from_cache)

    def position_of(self, aggregate_id: UUID, version: int) -> int:
        """The global position the store gave one aggregate event (an indexed primary-key lookup)."""
        return self.recorder.position_of(aggregate_id, version)

    def head_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def find_person(self, slug_: str) -> Person | None:
        try:
            return self.repository.get(person_id(slug_))
        except AggregateNotFoundError:
            return None

    def registered_people(self, slugs: set[str]) -> set[str]:
        """Which of these people are registered, in one query (loading each aggregate to find out
        was most of a large append's time)."""
        ids = {person_id(s): s for s in slugs}
        return {ids[i] for i in self.recorder.recorded_originators(list(ids))} if ids else set()

    def find_org(self, slug_: str) -> Organization | None:
        try:
            return self.repository.get(org_id(slug_))
        except AggregateNotFoundError:
            return None

    def get_org(self, slug_: str) -> Organization:
        org = self.find_org(slug_)
        if org is None:
            raise NotFound(f"no organization {slug_!r}", "org")
        return org

    def _take_snapshots(self, processing_event: Any) -> None:
        """One snapshot per organization per save that crossed a multiple of the interval, of the
        state just saved. The library takes one at every multiple, each re-read from the store
        (five for a batch of 1,000 facts, where only the last is ever read). An organization's
        state is only what its events set, so the saved object is that state."""
        interval = self.snapshotting_intervals[Organization]
        crossed = {e.originator_id for e in processing_event.events if e.originator_version % interval == 0}
        for aggregate_id in crossed:
            aggregate = processing_event.aggregates.get(aggregate_id)
            if isinstance(aggregate, Organization) and self.snapshots is not None:  # it is: intervals are set
                self.snapshots.put([aggregate.Snapshot.take(aggregate)])

    def _cache_saved(self, aggregates: Sequence[Aggregate]) -> None:
        """Cache an organization as just saved, so the next append need not fast-forward the
        cached copy through the events this one wrote. A copy: the caller's object may change."""
        if self.repository.cache is not None:
            for aggregate in aggregates:
                if isinstance(aggregate, Organization):
                    self.repository.cache.put(aggregate.id, deepcopy(aggregate))

    @contextlib.contextmanager
    def org_turn(self, slug_: str) -> Iterator[None]:
        """Writers to one organization take turns within this process, from reading its version to
        saving after it. Without turns, threads appending to one organization read the same version
        and all but one lose at the save, then retry after a backoff: measured with three threads
        appending 10 facts each, a quarter of the saves lost and the slowest append took 246 ms
        (5 ms alone). Striped by the organization's slug: a bounded set of locks, where two
        organizations sharing one only take turns they would take at the store's lock anyway.

        Across processes the store gives the same turn where it can (``ChainedRecorder.writers_turn``:
        an advisory lock on PostgreSQL). Without it, gunicorn's two workers still raced, and a thread
        that lost several times in a row made one append take up to 1.4 s (load.py's lag phase)."""
        with self._org_turns[zlib.crc32(slug_.encode()) % ORG_TURNS], self.recorder.writers_turn(str(org_id(slug_))):
            yield

    def _save(self, *aggregates: Aggregate) -> list[Recording[UUID]]:
        """Save, retrying SQLite's 'database is locked' (another process holds the write lock).

        SQLite has one writer: threads of this process take turns here rather than queueing
        inside the library's connection pool, whose wait is capped at 5 seconds."""
        for attempt in range(50):
            try:
                with self._writer_turn:
                    recordings = self.save(*aggregates)
                self._cache_saved(aggregates)
                return recordings
            except sqlite3.OperationalError as e:  # pragma: no cover - depends on timing
                if "locked" not in str(e) or attempt == 49:
                    raise
                time.sleep(0.02)
            except Exception as e:
                cause = e.__cause__ or e.__context__
                if isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause) and attempt < 49:
                    time.sleep(0.02)
                    continue
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    # --- registrations -----------------------------------------------------------------------

    def register_person(self, slug_: str, name: str, writer: str | None = None) -> tuple[Registered, bool]:
        """Register a person; returns (the person, created?). Same slug and name is a no-op."""
        return self._register(Person, self.find_person, "person", slug_, name, writer)

    def register_org(self, slug_: str, name: str, writer: str | None = None) -> tuple[Registered, bool]:
        """Register an organization; returns (it, created?). Same slug and name is a no-op."""
        return self._register(Organization, self.find_org, "organization", slug_, name, writer)

    def _register(self, cls: type[A], find: Callable[[str], A | None], what: str, slug_: str, name: str,
                  writer: str | None) -> tuple[Registered, bool]:
        slug(slug_, "slug")
        name = text(name, "name")  # in the one form the stores hold (NFC, no NUL, stripped)
        existing = find(slug_)
        if existing is None:
            created = cls(slug=slug_, name=name, writer=writer)
            try:
                recordings = self._save(created)
            except IntegrityError:  # registered by another writer meanwhile: answer as for a repeat
                return self._register(cls, find, what, slug_, name, writer)
            return self._registered(created, recordings[0].notification.id), True
        if existing.name != name:
            raise AlreadyExists(f"{what} {slug_!r} is registered as {existing.name!r}", "name")
        return self._registered(existing, self.position_of(existing.id, 1)), False

    @staticmethod
    def _registered(aggregate: Person | Organization, position: int) -> Registered:
        if isinstance(aggregate, Organization):
            return {"slug": aggregate.slug, "name": aggregate.name, "version": aggregate.version, "position": position}
        return {"slug": aggregate.slug, "name": aggregate.name, "position": position}
