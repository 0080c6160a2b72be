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
from workers.streams import page
from workers.wakeup import Wakeup

HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 1.0


def sse(app: OrgHistory, wakeup: Wakeup, after: int, org: str | None, types: set[str] | None,
        heartbeat: float = HEARTBEAT_SECONDS) -> Iterator[str]:
    yield "retry: 1000\n\n"
    cursor = after
    last_sent = time.monotonic()
    with wakeup.streaming():
        while not wakeup.closed:  # closed: the server is shutting down; clients reconnect elsewhere
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
