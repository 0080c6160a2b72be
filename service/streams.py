"""The global event stream: pages by position, and a live Server-Sent Events tail.

Positions may have gaps (PostgreSQL): cursors are "greater than the last position seen",
never "next id". The live tail first catches up from the store, then waits for wake-ups;
because each step reads the store after the cursor, there is no gap and no duplicate at the
seam between catching up and following.
"""

from __future__ import annotations

import json
import time
from typing import Iterator

from events.application import OrgHistory

SCAN_LIMIT = 5000  # events examined per page at most, however selective the filter
HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 1.0


def _matches(e, org: str | None, types: set[str] | None) -> bool:
    if e.type == "internal":
        return False
    if org is not None and e.org != org:
        return False
    return types is None or e.type in types


def page(app: OrgHistory, after: int, limit: int, org: str | None = None, types: set[str] | None = None,
         until: int | None = None) -> tuple[list[dict], int]:
    """Up to ``limit`` matching events after ``after``; returns them and the cursor to continue
    from (the last position examined, which may be past the last event returned)."""
    out: list[dict] = []
    cursor, scanned = after, 0
    while len(out) < limit and scanned < SCAN_LIMIT:
        batch = app.read(after=cursor, limit=min(1000, SCAN_LIMIT - scanned), stop=until)
        if not batch:
            break
        for e in batch:
            cursor = e.position
            scanned += 1
            if _matches(e, org, types):
                out.append(e.as_json())
                if len(out) >= limit:
                    break
    return out, cursor


def sse(app: OrgHistory, wakeup, after: int, org: str | None, types: set[str] | None,
        heartbeat: float = HEARTBEAT_SECONDS) -> Iterator[str]:
    yield "retry: 1000\n\n"
    cursor = after
    last_sent = time.monotonic()
    while True:
        seen, before = wakeup.generation, cursor
        events, cursor = page(app, cursor, 500, org, types)
        for e in events:
            yield f"id: {e['position']}\nevent: {e['type']}\ndata: {json.dumps(e, ensure_ascii=False)}\n\n"
            last_sent = time.monotonic()
        if cursor != before:
            continue  # more may be waiting: read on before sleeping
        if time.monotonic() - last_sent >= heartbeat:
            yield ": heartbeat\n\n"
            last_sent = time.monotonic()
        wakeup.wait(seen, min(POLL_SECONDS, heartbeat))
