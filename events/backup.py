"""The whole log as NDJSON, and back: one stored event a line, exactly as stored.

Each line keeps the event's originator id and version, topic and state (which holds its record
time and valid time), so a log moved from SQLite to PostgreSQL and back answers every as-of and
known_at query the same. Positions are renumbered by the target store; their order is kept.
"""

from __future__ import annotations

import json
from typing import IO, Callable, Iterable
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from .application import OrgHistory


def export_log(app: OrgHistory, out: IO[str], batch: int = 2000,
               progress: Callable[[int, int], None] | None = None) -> int:
    head = app.head_position()
    after, n = 0, 0
    while True:
        page = app.recorder.select_notifications(start=after, limit=batch, inclusive_of_start=False)
        if not page:
            return n
        for note in page:
            event = app.decode(note)
            out.write(json.dumps({
                "position": note.id, "id": event.id, "type": event.type, "recorded_at": event.recorded_at.isoformat(),
                "originator_id": str(note.originator_id), "originator_version": note.originator_version,
                "topic": note.topic, "state": json.loads(note.state),
            }, ensure_ascii=False, separators=(",", ":")) + "\n")
        n += len(page)
        after = page[-1].id
        if progress:
            progress(after, head)


class NotEmpty(RuntimeError):
    pass


def import_log(app: OrgHistory, lines: Iterable[str], batch: int = 2000,
               progress: Callable[[int], None] | None = None) -> int:
    """Insert the exported events, in order, into an empty store."""
    if app.head_position():
        raise NotEmpty("the target store already has events; import into an empty one")
    pending: list[StoredEvent] = []
    n = 0

    def flush() -> None:
        nonlocal n
        if pending:
            app.recorder.insert_events(pending)
            n += len(pending)
            pending.clear()
            if progress:
                progress(n)

    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pending.append(StoredEvent(
                originator_id=UUID(row["originator_id"]), originator_version=int(row["originator_version"]),
                topic=str(row["topic"]),
                state=json.dumps(row["state"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"line {number}: not an exported event ({e})") from None
        if len(pending) >= batch:
            flush()
    flush()
    return n
