"""Reading the log in pages of notifications, by position: the one place that asks the recorder.

Positions only grow but may have gaps (PostgreSQL's sequence skips the ids of rolled-back
inserts), so a page is always "the next ``size`` notifications with a position greater than the
last one seen", never "positions ``after + 1`` to ``after + size``"; and the log ends where a page
comes back empty, not where a page comes back short (events may be appended while it is read, and
every caller that pages to the end wants them too).

``page`` is one read; ``pages`` reads on from the last position of each page until the log (or
``stop``, or ``total``) ends. Both work the same on SQLite and PostgreSQL: they only use the
library's ``select_notifications``, whose ``stop`` is inclusive.
"""

from __future__ import annotations

from typing import Iterator

from eventsourcing.persistence import ApplicationRecorder, Notification

PAGE = 1000  # notifications per page, unless a caller says otherwise


def page(recorder: ApplicationRecorder, after: int, size: int = PAGE, *,
         stop: int | None = None) -> list[Notification]:
    """Up to ``size`` notifications with ``after < position <= stop`` (no upper bound if ``stop``
    is None), in position order."""
    if size < 1:
        raise ValueError(f"a page holds at least one notification, not {size}")
    notes = recorder.select_notifications(start=after, limit=size, stop=stop, inclusive_of_start=False)
    return notes if isinstance(notes, list) else list(notes)


def pages(recorder: ApplicationRecorder, after: int = 0, size: int = PAGE, *, stop: int | None = None,
          total: int | None = None) -> Iterator[list[Notification]]:
    """Successive non-empty pages of up to ``size`` notifications after position ``after`` (up to
    ``stop``, inclusive), each read when asked for, after the last position of the one before;
    it ends at the first empty page. ``total``: at most this many notifications in all (the last
    page asks for no more than are left)."""
    left = total
    while left is None or left > 0:
        notes = page(recorder, after, size if left is None else min(size, left), stop=stop)
        if not notes:
            return
        after = notes[-1].id  # taken before the caller has the page (and could change the list)
        yield notes
        if left is not None:
            left -= len(notes)
