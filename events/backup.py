"""The whole log as NDJSON, and back: one stored event a line, exactly as stored.

Each line keeps the event's originator id and version, topic and state (which holds its record
time and valid time), so a log moved from SQLite to PostgreSQL and back answers every as-of and
known_at query the same. Positions are renumbered by the target store; their order is kept.
"""

from __future__ import annotations

import json
from typing import IO, Callable, Iterable, Iterator
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from . import chain, logreader
from .application import OrgHistory


def export_log(app: OrgHistory, out: IO[str], batch: int = 2000,
               progress: Callable[[int, int], None] | None = None) -> int:
    head = app.head_position()
    after, n = 0, 0
    for page in logreader.pages(app.recorder, 0, batch):
        links = dict(app.recorder.select_links(after, len(page) * 2 + 10))
        for note in page:
            event = app.decode(note)
            out.write(json.dumps({
                "position": note.id, "id": event.id, "type": event.type, "recorded_at": event.recorded_at.isoformat(),
                "originator_id": str(note.originator_id), "originator_version": note.originator_version,
                "topic": note.topic, "state": json.loads(note.state), "hash": links.get(note.id),
            }, ensure_ascii=False, separators=(",", ":")) + "\n")
        n += len(page)
        after = page[-1].id
        if progress:
            progress(after, head)
    return n


class NotEmpty(RuntimeError):
    pass


def _rows(lines: Iterable[str]) -> Iterator[tuple[int, StoredEvent, str | None]]:
    """(line number, the stored event, the hash the export gave it), checking the chain as it
    goes: an edited, removed or reordered line no longer matches its hash."""
    previous = chain.GENESIS
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            event = StoredEvent(
                originator_id=UUID(row["originator_id"]), originator_version=int(row["originator_version"]),
                topic=str(row["topic"]),
                state=json.dumps(row["state"], ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"line {number}: not an exported event ({e})") from None
        previous = chain.link(previous, event.originator_id, event.originator_version, event.topic, event.state)
        if row.get("hash") is not None and row["hash"] != previous:
            raise ValueError(f"line {number}: the event does not match its hash in the export "
                             "(the file was edited, or lines were removed or reordered)")
        yield number, event, row.get("hash")


def import_log(app: OrgHistory, lines: Iterable[str] | IO[str], batch: int = 2000,
               progress: Callable[[int], None] | None = None) -> int:
    """Insert the exported events, in order, into an empty store. A file is read twice: first
    to check every line and the whole hash chain, so that an altered file imports nothing."""
    if app.head_position():
        raise NotEmpty("the target store already has events; import into an empty one")
    if hasattr(lines, "seek"):
        for _ in _rows(lines):
            pass
        lines.seek(0)
    pending: list[StoredEvent] = []
    hashes: list[tuple[int, str | None]] = []
    n = 0

    def flush() -> None:
        nonlocal n
        if pending:
            ids = app.recorder.insert_events(pending)
            assert ids is not None, "our recorders return the positions they gave"
            # The store links each event itself; it must come to the very hash the export gave.
            got = dict(app.recorder.select_links(min(ids) - 1, len(ids)))
            for i, (number, expected) in zip(ids, hashes, strict=True):
                if expected is not None and got.get(i) != expected:
                    raise ValueError(f"line {number}: the store linked this event to another hash than the "
                                     "export's (was the store empty?)")
            n += len(pending)
            pending.clear()
            hashes.clear()
            if progress:
                progress(n)

    for number, event, expected in _rows(lines):
        pending.append(event)
        hashes.append((number, expected))
        if len(pending) >= batch:
            flush()
    flush()
    return n
