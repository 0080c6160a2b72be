"""Versions of a projection: the live one readers use, one being built beside it, scratch replays.

A version is a set of tables with the suffix ``_v<N>`` plus a row here. Readers bind to the
version whose state is ``live`` inside their read transaction (``Conn.bind``), so switching is one
committed UPDATE: a reader sees either the old version or the new one, never a half-built one.

States: ``building`` (a rebuild is filling it) -> ``live`` -> ``retired`` (replaced, tables about
to be dropped) -> ``dropped``; ``replaying`` -> ``scratch`` (a replay up to a point, for
debugging) -> ``dropped``.
Version numbers never repeat, so a URL with ``?version=3`` can never silently mean other tables.
"""

from __future__ import annotations

import logging

from .answers import ListedVersion, ProjectionVersion
from .clock import now as _now
from .db import DEFAULT_PROJECTION, Conn, Database, DBRow
from .schema import (
    SCHEMA,
    VERSIONED,
    create_shared,
    create_version,
    drop_version,
    index_statements,
    suffix,
    versioned_tables,
)

log = logging.getLogger("orghistory.versions")
PROJECTIONS = (DEFAULT_PROJECTION,)  # the projections this service knows


class UnknownProjection(LookupError):
    pass


def check_name(name: str) -> str:
    if name not in PROJECTIONS:
        raise UnknownProjection(f"no projection named {name!r}; known: {', '.join(PROJECTIONS)}")
    return name


def setup(db: Database) -> None:
    """Shared tables, and a live version 1 of each projection if it has none yet (a new store)."""
    with db.write(bind=False) as conn:
        create_shared(conn)
        if not conn.scalar("SELECT COUNT(*) FROM projection_versions"):
            # A store from before versions: its unversioned projection tables are derived data,
            # rebuilt below as version 1 from the log. Drop them rather than leave dead weight.
            for table in VERSIONED:
                conn.raw.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute("DELETE FROM tracking WHERE name=?", (DEFAULT_PROJECTION,))
        for name in PROJECTIONS:
            if conn.scalar("SELECT version FROM projection_versions WHERE name=? AND state='live'", (name,)) is None:
                version = _next(conn, name)
                create_version(conn, version)
                conn.execute("INSERT INTO projection_versions (name, version, state, created_at, switched_at) "
                             "VALUES (?,?,?,?,?)", (name, version, "live", _now(), _now()))
                _mark(conn, name, version)
            _upgrade(conn, name)


def _mark(conn: Conn, name: str, version: int, schema: int = SCHEMA) -> None:
    conn.execute("INSERT INTO projection_schema (name, version, schema) VALUES (?,?,?) "
                 "ON CONFLICT (name, version) DO NOTHING", (name, version, schema))


def _upgrade(conn: Conn, name: str) -> None:
    """Versions folded by code from before schema numbers (1): give them the tables this code
    reads, filled as far as their own tables allow (every registered person's name, which is all
    the names that code knew), so they keep answering until a rebuild replaces them."""
    rows = conn.all("SELECT v.version FROM projection_versions v LEFT JOIN projection_schema s "
                    "ON s.name = v.name AND s.version = v.version "
                    "WHERE v.name=? AND v.dropped_at IS NULL AND s.schema IS NULL", (name,))
    for r in rows:
        version = int(r["version"])
        create_version(conn, version)
        bound = Conn(conn.raw, conn.dialect, version, name)
        bound.execute("INSERT INTO names (person, name, effective, eff_lo, position, recorded_at) "
                      "SELECT slug, name, NULL, NULL, position, recorded_at FROM people WHERE true ON CONFLICT DO NOTHING")
        _mark(conn, name, version, 1)
        log.warning("projection version folded by older code; it answers, but rebuild it",
                    extra={"projection": name, "version": version})


def schema_of(conn: Conn, name: str, version: int) -> int:
    found = conn.scalar("SELECT schema FROM projection_schema WHERE name=? AND version=?", (name, version))
    return 1 if found is None else int(found)


def stale(conn: Conn, name: str) -> bool:
    """The live version was folded by older code: a rebuild brings it up to this code's fold."""
    return schema_of(conn, name, live(conn, name)) < SCHEMA


def _next(conn: Conn, name: str) -> int:
    return int(conn.scalar("SELECT COALESCE(MAX(version), 0) FROM projection_versions WHERE name=?", (name,))) + 1


def create(db: Database, name: str, state: str, until_position: int | None = None,
           until_recorded: str | None = None) -> int:
    """A new, empty version of ``name`` (its tables created in the same transaction; secondary
    indexes come later, from ``create_indexes``, once the bulk load is done)."""
    with db.write(bind=False) as conn:
        version = _next(conn, name)
        create_version(conn, version, indexes=False)
        conn.execute("INSERT INTO projection_versions (name, version, state, until_position, until_recorded, "
                     "created_at) VALUES (?,?,?,?,?,?)", (name, version, state, until_position, until_recorded, _now()))
        _mark(conn, name, version)
    return version


def create_indexes(db: Database, version: int, only: tuple[str, ...] | None = None) -> None:
    """The secondary indexes of a bulk-loaded version (``only``: those named), one transaction
    each (on SQLite each holds the write lock only as long as its own index takes to build)."""
    with db.read(bind=False) as conn:
        statements = index_statements(conn, version, only)
    for statement in statements:
        with db.write(bind=False) as conn:
            conn.raw.execute(statement)
    if only is None:  # the version is complete: readers will use it (a rebuild switches to it next)
        analyze(db, version)


def analyze(db: Database, version: int) -> None:
    """Statistics of a bulk-loaded version's tables for the planner."""
    with db.write(bind=False) as conn:
        conn.dialect.analyze(conn, [table + suffix(version) for table in VERSIONED])


def _version(r: DBRow) -> ProjectionVersion:
    return {"name": r["name"], "version": r["version"], "state": r["state"], "until_position": r["until_position"],
            "until_recorded": r["until_recorded"], "created_at": r["created_at"], "switched_at": r["switched_at"],
            "dropped_at": r["dropped_at"]}


def get(conn: Conn, name: str, version: int) -> ProjectionVersion | None:
    row = conn.one("SELECT * FROM projection_versions WHERE name=? AND version=?", (name, version))
    return None if row is None else _version(row)


def listing(conn: Conn, name: str, include_dropped: bool = False) -> list[ListedVersion]:
    """The versions of ``name``, each with the position it has reached."""
    where = "" if include_dropped else " AND v.dropped_at IS NULL"
    rows = conn.all("SELECT v.*, COALESCE(t.position, 0) AS position FROM projection_versions v "
                    "LEFT JOIN tracking t ON t.name = v.name || '@v' || CAST(v.version AS TEXT) "
                    f"WHERE v.name=?{where} ORDER BY v.version", (name,))
    return [ListedVersion(**_version(r), position=int(r["position"])) for r in rows]


def live(conn: Conn, name: str) -> int:
    return int(conn.scalar("SELECT version FROM projection_versions WHERE name=? AND state='live'", (name,)))


def building(conn: Conn, name: str) -> int | None:
    """The unfinished rebuild of ``name``, if one was interrupted (it is resumed, not restarted)."""
    v = conn.scalar("SELECT MAX(version) FROM projection_versions WHERE name=? AND state='building'", (name,))
    return None if v is None else int(v)


def set_state(db: Database, name: str, version: int, state: str) -> None:
    with db.write(bind=False) as conn:
        conn.execute("UPDATE projection_versions SET state=? WHERE name=? AND version=?", (state, name, version))


def switch(conn: Conn, name: str, version: int) -> int:
    """Make ``version`` live and retire the old live version, in the caller's transaction."""
    old = live(conn, name)
    now = _now()
    conn.execute("UPDATE projection_versions SET state='retired' WHERE name=? AND version=?", (name, old))
    conn.execute("UPDATE projection_versions SET state='live', switched_at=? WHERE name=? AND version=?",
                 (now, name, version))
    return old


def drop(db: Database, name: str, version: int, grace: float = 30.0) -> bool:
    """Drop a retired or scratch version's tables. Never the live one. On PostgreSQL, first wait
    (up to ``grace`` seconds) for transactions that began before now, which may still be reading
    the old tables; if they outlast it the version stays ``retired`` and a later drop finishes it."""
    with db.read(bind=False) as conn:
        row = get(conn, name, version)
    if row is None or row["dropped_at"] is not None:
        return False
    if row["state"] == "live":
        raise ValueError(f"version {version} of {name} is live; rebuild to replace it instead")
    if not db.readers_drained(grace):
        log.warning("old readers still running; version left retired", extra={"projection": name, "version": version})
        return False
    with db.write(bind=False) as conn:
        conn.execute("DELETE FROM tracking WHERE name=?", (f"{name}@v{version}",))
        conn.execute("UPDATE projection_versions SET state='dropped', dropped_at=? WHERE name=? AND version=?",
                     (_now(), name, version))
    # No reader can bind to it any more. Its tables go one per transaction: SQLite has one writer,
    # and appends and the catch-up then wait for one table's DROP at a time, never for all of a
    # million-event version's at once. Killed in between, the rest go with the next sweep.
    _drop_tables(db, version)
    log.info("dropped version", extra={"projection": name, "version": version})
    return True


def _drop_tables(db: Database, version: int) -> None:
    for table in VERSIONED:
        with db.write(bind=False) as conn:
            drop_version(conn, version, tables=(table,))


def sweep(db: Database) -> list[int]:
    """Drop what is left of versions marked dropped (a drop killed between two tables)."""
    with db.read(bind=False) as conn:
        dropped = {int(r["version"]) for r in conn.all("SELECT version FROM projection_versions WHERE state='dropped'")}
        left = {v for v in versioned_tables(conn) if v in dropped}
    for v in sorted(left):
        _drop_tables(db, v)
    return sorted(left)


def drop_retired(db: Database, name: str, grace: float = 30.0) -> list[int]:
    sweep(db)
    with db.read(bind=False) as conn:
        retired = [int(r["version"]) for r in conn.all(
            "SELECT version FROM projection_versions WHERE name=? AND state='retired' AND dropped_at IS NULL", (name,))]
    return [v for v in retired if drop(db, name, v, grace)]
