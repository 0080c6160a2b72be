"""Tamper evidence: every stored event is linked into one hash chain, in position order.

``hash(n) = sha256(hash(n-1) | originator id | version | topic | state)``, kept in the table
``event_chain`` (position, hash) beside the events, written by the recorders in the same
transaction as the events (under the same lock, so the chain's order is the positions' order).
An edited, deleted, inserted or reordered event row no longer matches its link; ``check`` walks
the log and names the first position where it does not. The chain covers content and order, not
position numbers, so a log exported and imported into another store (whose positions differ)
has the very same hashes, and an import checks them line by line.

It is evidence, not a lock: someone who can write the database could recompute the chain after an
edit. ``orghistory verify --chain`` prints the head hash; kept somewhere else (a ticket, a
signed note, another system), it makes any later rewrite of history show.
"""

from __future__ import annotations

import functools
import hashlib
from abc import abstractmethod
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol, Sequence
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, StoredEvent

GENESIS = hashlib.sha256(b"orghistory event chain").hexdigest()
TABLE = "event_chain"


@functools.lru_cache(maxsize=4096)  # a save's events share a few aggregates
def _id(originator_id: UUID | str) -> str:
    """One spelling of an aggregate id: SQLite hands back hex, the library and PostgreSQL UUIDs."""
    try:
        return str(UUID(str(originator_id)))
    except ValueError:
        return str(originator_id)


def link(previous: str, originator_id: UUID | str, version: int, topic: str, state: bytes) -> str:
    h = hashlib.sha256(previous.encode("ascii"))
    h.update(b"\x1f" + _id(originator_id).encode() + b"\x1f" + str(version).encode() + b"\x1f" + topic.encode()
             + b"\x1f")
    h.update(bytes(state))
    return h.hexdigest()


class ChainedRecorder(ApplicationRecorder):
    """What our application recorders (``sqlitestore``, ``pgstore``) add to the library's: the
    chain's links, and the lookups the write side asks of the store in one query."""

    @abstractmethod
    def recorded_originators(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these aggregates have any event."""

    @abstractmethod
    def position_of(self, originator_id: UUID, version: int) -> int:
        """The position the store gave one aggregate event."""

    @abstractmethod
    def select_links(self, after: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` links (position, hash) after position ``after``, in order."""

    def writers_turn(self, key: str) -> AbstractContextManager[None]:
        """Writers to ``key`` (an aggregate) in other processes wait until this one has saved:
        a turn across processes, where the store can give one. Correctness never depends on it
        (a stale save loses at the store's unique key and is retried); it spares the lost work
        and the retries' backoff. SQLite: no turn (one process writes there, nearly always)."""
        return nullcontext()

    def close_turns(self) -> None:
        """Close what ``writers_turn`` holds open (connections), if anything."""


class Row(Protocol):
    """A stored event as the chain reads it (a notification, or a row the recorder just wrote)."""

    @property
    def id(self) -> int: ...
    @property
    def originator_id(self) -> UUID | str: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


@dataclass(frozen=True)
class Break:
    position: int
    problem: str  # edited | missing | deleted

    def __str__(self) -> str:
        return {
            "edited": f"position {self.position}: the event does not match its link (edited, moved or inserted)",
            "missing": f"position {self.position}: the event has no link (written around the service?)",
            "deleted": f"position {self.position}: the chain has a link for an event that is gone (deleted)",
        }[self.problem]


def links(previous: str, rows: Iterable[Row]) -> Iterator[tuple[int, str]]:
    """(position, hash) for each row, continuing the chain from ``previous``."""
    for r in rows:
        previous = link(previous, r.originator_id, r.originator_version, r.topic, r.state)
        yield r.id, previous


class LogRow:
    """A stored event read back from the log's table (``Row``), for linking."""

    __slots__ = ("id", "originator_id", "originator_version", "topic", "state")

    def __init__(self, id: int, originator_id: UUID | str, originator_version: int, topic: str, state: bytes):
        self.id, self.originator_id, self.originator_version, self.topic, self.state = (
            id, originator_id, originator_version, topic, state)


def links_of_save(previous: str, before: Iterable[Row], ids: Sequence[int],
                  saved: Sequence[StoredEvent]) -> list[tuple[int, str]]:
    """The links a save writes: for ``before`` (events the chain does not cover yet, from before
    it existed), then for the events just saved, at the positions ``ids`` the store gave them."""
    out = list(links(previous, before))
    if out:
        previous = out[-1][1]
    for i, e in zip(ids, saved, strict=True):  # no Row built for each: a save may hold thousands
        previous = link(previous, e.originator_id, e.originator_version, e.topic, e.state)
        out.append((i, previous))
    return out


def check(events: Iterable[Row], stored: Iterable[tuple[int, str]]) -> tuple[int, str, Break | None]:
    """Walk ``events`` and the ``stored`` links (both in position order) side by side: (events
    checked, head hash, the first break or None). Streams: memory does not grow with the log."""
    links_ = iter(stored)
    at = next(links_, None)
    previous, n = GENESIS, 0
    for r in events:
        if at is not None and at[0] < r.id:
            return n, previous, Break(at[0], "deleted")  # a link whose event is gone
        previous = link(previous, r.originator_id, r.originator_version, r.topic, r.state)
        if at is None or at[0] != r.id:
            return n, previous, Break(r.id, "missing")
        if at[1] != previous:
            return n, previous, Break(r.id, "edited")
        n += 1
        at = next(links_, None)
    if at is not None:
        return n, previous, Break(at[0], "deleted")
    return n, previous, None
