"""A save of many events on PostgreSQL (an import of a large dataset is one save): it used to hang
in psycopg's pipeline mode at about 8,000 events; now it is sent in chunks, in one transaction."""

from __future__ import annotations

from events.domain import Organization
from events.vocabulary import parse_fact


def test_twenty_thousand_events_in_one_save(pg_settings):
    from ..conftest import stores_for

    app = stores_for(pg_settings).app  # creates the schema
    org = Organization(slug="big", name="Big", writer=None)
    for i in range(20_000):
        org.record(parse_fact({"type": "noted", "title": f"note {i} " + "x" * 200, "effective": "2020",
                               "sources": [{"url": f"https://e.example/{i}"}]}), None, "")
    recordings = app.save(org)
    positions = [r.notification.id for r in recordings]
    assert len(positions) == 20_001 and positions == sorted(positions)
    assert app.repository.get(org.id).version == 20_001


def test_as_of_reads_keep_one_prepared_plan(pg_settings):
    """Readers on PostgreSQL prepare the as-of statements and PostgreSQL keeps a generic plan for
    them, instead of planning each answer afresh (planning was most of an answer's time); the
    names of the people come in the same statement, not in a second round trip."""
    from datetime import date

    from events.seed import load_seed
    from projections import queries
    from workers.catchup import catch_up

    from ..conftest import close_stores, stores_for

    close_stores()
    app, db = stores_for(pg_settings).app, stores_for(pg_settings).db
    load_seed(app)
    catch_up(stores_for(pg_settings))
    with db.read() as c:
        units = queries.board_units(c, "openai")
        answers = {queries.members(c, "openai", units, day, None).__len__()
                   for day in (date(2023, 11, 18), date(2023, 11, 18), date(2024, 3, 10)) * 4}
        assert answers == {4, 8}  # the four left on 2023-11-18; seven and the observer on 2024-03-10
        plans = c.all("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
    as_of = [p for p in plans if "spans" in p["statement"]]
    assert len(as_of) == 1 and as_of[0]["generic_plans"] > 0, plans
    assert "JOIN names" in as_of[0]["statement"], plans
    assert not [p for p in plans if "FROM names" in p["statement"]], plans  # no second statement for names


def test_a_pooled_connection_the_server_dropped_is_replaced_not_failed(pg_settings, monkeypatch):
    """A connection idle a while is checked when taken from the pool: one the server ended (a
    restart, a failover) is replaced, and the read that took it answers."""
    import psycopg

    from projections import postgres as db_module

    from ..conftest import close_stores, stores_for

    close_stores()
    db = stores_for(pg_settings).db
    with db.read(bind=False) as c:
        c.scalar("SELECT 1")
    pool = db.pool("read")
    held = [pool.getconn() for _ in range(pool.get_stats()["pool_size"])]  # every pooled connection
    pids = [conn.info.backend_pid for conn in held]
    for conn in held:
        pool.putconn(conn)
    with psycopg.connect(db.conninfo(), autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    monkeypatch.setattr(db_module, "IDLE_CHECK_SECONDS", 0.0)  # idle long enough to be checked
    with db.read(bind=False) as c:
        assert c.scalar("SELECT pg_backend_pid()") not in pids


def test_a_board_answer_on_postgresql_is_five_round_trips(pg_settings, tmp_path):
    """Each round trip costs 30-100 us on this machine's loopback, more across a network: a board
    answer is psycopg's BEGIN, the lookup of the live version with the position it has reached,
    the board's units, the members with their names, and the commit (it was seven: the position
    and the names were statements of their own). Counted on the wire with libpq's protocol trace:
    each request from the client ends in a Sync or is a simple Query."""
    from datetime import date

    from psycopg import pq

    from events.seed import load_seed
    from projections import queries
    from workers.catchup import catch_up

    from ..conftest import close_stores, stores_for

    close_stores()
    stores = stores_for(pg_settings)
    load_seed(stores.app)
    catch_up(stores)
    pool = stores.db.pool("read")
    with stores.db.read():
        pass
    trace = tmp_path / "wire.trace"
    with open(trace, "w") as out:
        held = [pool.getconn() for _ in range(pool.get_stats()["pool_size"])]  # whichever the read takes
        for raw in held:
            raw.pgconn.trace(out.fileno())
            raw.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            pool.putconn(raw)
        with stores.db.read() as c:
            seats = queries.members(c, "openai", queries.board_units(c, "openai"), date(2023, 11, 18), None)
            reached = queries.position(c)  # the answer cites it: read with the version, no round trip of its own
        for raw in held:
            raw.pgconn.untrace()
    assert reached == stores.app.head_position()
    assert {s["name"] for s in seats} == {"Adam D'Angelo", "Ilya Sutskever", "Helen Toner", "Tasha McCauley"}
    sent = [line.split("\t")[2] for line in trace.read_text().splitlines() if line.startswith("F\t")]
    assert sum(1 for m in sent if m in ("Sync", "Query")) == 5, sent


def _open_and_close(settings, go, out) -> None:
    """A process of its own (spawned) opening the stores when told, as a booting gunicorn
    worker or rq worker does, and saying whether it could."""
    from workers.runtime import open_stores

    go.wait(30)
    try:
        open_stores(settings).close()
        out.put("ok")
    except Exception as e:  # noqa: BLE001 - the test reports what the process met
        out.put(f"{type(e).__name__}: {e}")


def test_processes_opening_one_store_at_once_all_open_it(pg_settings):
    """gunicorn's workers and the rq workers boot together, and each opens the stores, which
    creates the schema, the library's tables, types and functions and ours if they are missing.
    PostgreSQL refuses two such catalog changes at once: CREATE SCHEMA IF NOT EXISTS, run
    outside the lock, failed one process with a UniqueViolation one run in four ("tuple
    concurrently updated" is the same race at the library's tables). So they take turns. Four
    processes, twice: on an empty schema, then on a made one."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    for _ in range(2):
        go, out = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_open_and_close, args=(pg_settings, go, out)) for _ in range(4)]
        for p in procs:
            p.start()
        go.set()
        answers = [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(30)
        assert answers == ["ok"] * 4
