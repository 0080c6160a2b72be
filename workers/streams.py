"""Reading the global stream by position: shared by the HTTP routes, the live tail and webhook
deliveries. Positions may have gaps: a cursor is the last position examined, never "next id"."""

from __future__ import annotations

from events import logreader
from events.application import OrgHistory
from events.recorded import PRIVATE_KINDS, EventJSON, RecordedEvent

SCAN_LIMIT = 5000  # events examined per page at most, however selective the filter


def _matches(e: RecordedEvent, org: str | None, types: set[str] | None) -> bool:
    if e.type in PRIVATE_KINDS:
        return False  # bookkeeping, and webhook secrets: never on the public stream
    if org is not None and e.org != org:
        return False
    return types is None or e.type in types


def page(app: OrgHistory, after: int, limit: int, org: str | None = None, types: set[str] | None = None,
         until: int | None = None) -> tuple[list[EventJSON], int]:
    """Up to ``limit`` matching events after ``after``; returns them and the cursor to continue
    from (the last position examined, which may be past the last event returned)."""
    out: list[EventJSON] = []
    cursor = after
    if limit < 1:
        return out, cursor
    for notes in logreader.pages(app.recorder, after, 1000, stop=until, total=SCAN_LIMIT):
        for e in [app.decode(n) for n in notes]:  # a page decoded whole, as before
            cursor = e.position
            if _matches(e, org, types):
                out.append(e.as_json())
                if len(out) >= limit:
                    return out, cursor
    return out, cursor
