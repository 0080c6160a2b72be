"""Reading the global stream by position: shared by the HTTP routes, the live tail and webhook
deliveries. Positions may have gaps: a cursor is the last position examined, never "next id"."""

from __future__ import annotations

from events.application import OrgHistory

SCAN_LIMIT = 5000  # events examined per page at most, however selective the filter


def _matches(e, org: str | None, types: set[str] | None) -> bool:
    if e.type == "internal" or e.type.startswith("subscription_"):
        return False  # bookkeeping, and webhook secrets: never on the public stream
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
