"""The log reader (``events/logreader.py``) on a real SQLite file and the real PostgreSQL: pages of
the asked size, resuming after a position, a stop bound, a total, an empty log, a log that grows
while it is read, and (PostgreSQL) positions with gaps left by rolled-back saves."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent

from events.logreader import page, pages

from ..conftest import stores_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def recorder(request) -> ApplicationRecorder:
    settings = request.getfixturevalue("sqlite_settings" if request.param == "sqlite" else "pg_settings")
    app = stores_for(settings).app
    return app.recorder


def _append(recorder: ApplicationRecorder, n: int) -> list[int]:
    """``n`` stored events of one new aggregate (the reader never decodes them); their positions."""
    aggregate = uuid.uuid4()
    events = [StoredEvent(originator_id=aggregate, originator_version=v, topic="tests:Noted", state=b'{"v":%d}' % v)
              for v in range(1, n + 1)]
    recorder.insert_events(events)
    return [n.id for n in page(recorder, 0, 1_000_000) if n.originator_id == aggregate]


def _positions(got: list[list]) -> list[int]:
    return [n.id for p in got for n in p]


def test_an_empty_log_has_no_pages(recorder):
    assert page(recorder, 0) == []
    assert list(pages(recorder)) == []
    assert list(pages(recorder, 10, 5, stop=20, total=3)) == []


def test_pages_of_the_asked_size_in_position_order(recorder):
    positions = _append(recorder, 25)
    got = list(pages(recorder, 0, 10))
    assert [len(p) for p in got] == [10, 10, 5]
    assert _positions(got) == positions
    assert all(isinstance(p, list) for p in got)
    assert page(recorder, 0, 7) == got[0][:7]


def test_resuming_after_a_position(recorder):
    positions = _append(recorder, 25)
    assert _positions(list(pages(recorder, positions[12], 10))) == positions[13:]
    assert [n.id for n in page(recorder, positions[12], 3)] == positions[13:16]
    assert list(pages(recorder, positions[-1])) == []  # after the head: nothing


def test_a_stop_bound_is_inclusive(recorder):
    positions = _append(recorder, 25)
    got = list(pages(recorder, 0, 10, stop=positions[16]))
    assert [len(p) for p in got] == [10, 7] and _positions(got) == positions[:17]
    assert _positions(list(pages(recorder, positions[4], 10, stop=positions[4]))) == []
    assert [n.id for n in page(recorder, positions[4], 10, stop=positions[6])] == positions[5:7]


def test_a_total_asks_no_more_than_is_left(recorder, monkeypatch):
    positions = _append(recorder, 25)
    limits: list[int] = []
    select = recorder.select_notifications

    def spy(*args, **kwargs):
        limits.append(kwargs["limit"])
        return select(*args, **kwargs)

    monkeypatch.setattr(recorder, "select_notifications", spy)
    got = list(pages(recorder, 0, 10, total=15))
    assert [len(p) for p in got] == [10, 5] and _positions(got) == positions[:15]
    assert limits == [10, 5]  # and no third read: the total is reached
    limits.clear()
    assert _positions(list(pages(recorder, positions[19], 10, total=15))) == positions[20:]
    assert limits == [10, 10]  # five come back, ten more are allowed: an empty page, the end of the log
    assert list(pages(recorder, 0, 10, total=0)) == []


def test_the_log_ends_at_an_empty_page_not_a_short_one(recorder):
    """Events appended while the log is read are read too (a rebuild reads to the head as it
    grows; a catch-up to whatever was appended meanwhile)."""
    first = _append(recorder, 5)
    reader = pages(recorder, 0, 3)
    got = [next(reader), next(reader)]
    assert [len(p) for p in got] == [3, 2]
    more = _append(recorder, 4)
    got += list(reader)
    assert _positions(got) == first + more


def test_a_size_below_one_is_refused(recorder):
    with pytest.raises(ValueError):
        page(recorder, 0, 0)
    with pytest.raises(ValueError):
        next(pages(recorder, 0, -1))


def test_positions_with_gaps_on_postgres(pg_settings):
    """A save that conflicts (two writers, one aggregate version) is rolled back, and PostgreSQL's
    sequence keeps the positions it handed out: the log has gaps. Pages skip them; a cursor or a
    stop bound inside a gap works."""
    app = stores_for(pg_settings).app
    recorder = app.recorder
    before = _append(recorder, 3)
    aggregate = uuid.uuid4()
    recorder.insert_events([StoredEvent(originator_id=aggregate, originator_version=1, topic="tests:Noted",
                                        state=b"{}")])
    for _ in range(3):  # each try takes positions for its first events, then conflicts on version 1
        with pytest.raises(IntegrityError):
            recorder.insert_events([StoredEvent(originator_id=aggregate, originator_version=v, topic="tests:Noted",
                                                state=b"{}") for v in (3, 4, 1)])
    after = _append(recorder, 3)
    positions = [n.id for n in page(recorder, 0, 100)]
    assert positions == [*before, positions[3], *after]
    missing = sorted(set(range(1, positions[-1] + 1)) - set(positions))
    assert missing and min(missing) > positions[3] and max(missing) < after[0], positions  # the gap
    got = list(pages(recorder, 0, 2))
    assert [len(p) for p in got] == [2, 2, 2, 1] and _positions(got) == positions
    assert _positions(list(pages(recorder, missing[0], 2))) == after  # a cursor in the gap
    assert _positions(list(pages(recorder, 0, 2, stop=missing[-1]))) == positions[:4]  # a stop in the gap
    assert _positions(list(pages(recorder, positions[3], 1, total=2))) == after[:2]  # across the gap


def test_only_the_reader_asks_the_recorder_for_notifications():
    """Every page of the log the service reads goes through ``events/logreader.py``."""
    callers = []
    for package in ("events", "projections", "workers", "service"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Attribute) and node.attr == "select_notifications":
                    callers.append(str(path.relative_to(ROOT)))
    assert set(callers) == {"events/logreader.py"}, callers
