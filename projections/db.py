"""The read side's database: the same SQLite file or PostgreSQL schema as the event store.

One small wrapper so the projection SQL is written once: ``?`` placeholders everywhere, rows as
dicts, tables named plainly and bound to a version. What differs between the databases (bulk
loads, id sequences, locks, the catalog) is each database's ``Dialect``, in ``sqlite.py`` and
``postgres.py``, as the eventsourcing library keeps one recorder class per database; nothing else
asks which database it runs on.
"""

from __future__ import annotations

import functools
import re
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, Protocol, Sequence

from events.settings import Settings

DEFAULT_PROJECTION = "history"
# Tables that exist once per version of a projection (``tenures`` is ``tenures_v3`` in version 3).
# Kept in step with ``schema.VERSIONED`` (a test checks); spelled here so db.py imports nothing.
_VERSIONED = ("orgs", "people", "units", "facts", "fact_people", "fact_units", "tenures", "roles", "spans",
              "subscriptions", "names", "identifiers", "imports", "merges")
# A quoted literal (left alone: ``kind='tenures'`` is data) or a versioned table name.
_NAMES = re.compile(r"'[^']*'|\b(" + "|".join(_VERSIONED) + r")\b")


@functools.lru_cache(maxsize=4096)
def _translate(sql: str, suffix: str, dialect: Dialect) -> str:
    """``sql`` with its versioned tables given ``suffix`` and its placeholders in ``dialect``'s
    style. Kept across connections: a request opens a new one, and translating its few
    statements again was a tenth of a small answer's time."""
    return dialect.placeholders(_NAMES.sub(lambda m: m.group(0) + suffix if m.group(1) else m.group(0), sql))


# The version a connection is bound to (the live one, or one asked for that is not dropped), the
# position it has reached (an answer cites it) and the fold that wrote it (``schema.SCHEMA``; 1
# before the numbers), in one statement.
_BOUND = ("SELECT v.version, t.position, p.schema FROM projection_versions v "
          "LEFT JOIN tracking t ON t.name = v.name || '@v' || v.version "
          "LEFT JOIN projection_schema p ON p.name = v.name AND p.version = v.version WHERE v.name=? ")
LIVE_VERSION = _BOUND + "AND v.state='live'"
HELD_VERSION = _BOUND + "AND v.version=? AND v.dropped_at IS NULL"


# A value as the database driver gives it back. Which type a column has is the business of the SQL
# that read it (TEXT gives a str, BIGINT an int, PostgreSQL's clock_timestamp() a datetime), and only
# the code that wrote that SQL knows it: so a row's values are not typed here, as a fact's free-form
# fields are not (``events.jsontypes``). Queries turn rows into declared answers
# (``projections.answers``) before anything leaves this layer.
DBValue = Any
DBRow = dict[str, DBValue]  # a row by column name, as ``Conn.all`` and ``Conn.one`` give it
# What a statement's parameters may be: text, numbers, NULL, PostgreSQL's clock read back, and the
# one array ``one_of`` passes to PostgreSQL.
SQLParam = str | int | float | datetime | list[str] | None
Params = Sequence[SQLParam]


class Cursor(Protocol):
    """What ``Conn`` reads of a driver's cursor (sqlite3's and psycopg's have it)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Sequence[Sequence[DBValue]]:
        """The columns' names (first) and more; only statements that return rows are read by it."""

    def fetchone(self) -> Sequence[DBValue] | None: ...

    def fetchall(self) -> Sequence[Sequence[DBValue]]: ...


class NoSuchVersion(LookupError):
    pass


class Conn:
    """A connection bound to one version of a projection: SQL names the tables plainly
    (``tenures``) and runs against that version's (``tenures_v3``), the way a search_path would."""

    def __init__(self, raw: Any, dialect: Dialect, version: int | None = None, name: str = DEFAULT_PROJECTION):
        self.raw = raw
        self.dialect = dialect
        self.name = name
        self.version = version
        # The position the bound version had reached when it was bound (in a read's snapshot,
        # what it has reached); None until bound by a lookup.
        self.bound_position: int | None = None
        # The fold that wrote the bound version (``schema.SCHEMA``): what its tables hold.
        self.schema: int | None = None
        # Whether this connection writes beside another thread that folds (set by a rebuild's
        # writer thread): a driver that takes the GIL back for every row it writes then waits on
        # that thread at every row, and a dialect may write bulk rows another way
        # (``SQLiteDialect.copy_rows``).
        self.beside_fold = False

    @property
    def track(self) -> str:
        """This version's key in ``tracking`` and ``parked``: ``history@v3``."""
        return f"{self.name}@v{self.version}"

    def table(self, name: str) -> str:
        return f"{name}_v{self.version}" if name in _VERSIONED and self.version is not None else name

    def sql(self, sql: str) -> str:
        return _translate(sql, "" if self.version is None else f"_v{self.version}", self.dialect)

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        cur: Cursor = self.raw.execute(self.sql(sql), params)
        return cur

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            self.dialect.executemany(self, self.sql(sql), rows)

    def insert_with_ids(self, table: str, columns: str, rows: Sequence[Params]) -> list[int]:
        """Insert rows into ``table`` (which has a generated ``id``) and return their ids, in order."""
        return self.dialect.insert_with_ids(self, table, columns, rows) if rows else []

    def one_of(self, column: str, values: Sequence[str]) -> tuple[str, tuple[SQLParam, ...]]:
        """``column`` is one of ``values``, as a condition and its parameters."""
        return self.dialect.one_of(column, values)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        """Many new rows into ``table``, the fastest way the database has."""
        if rows:
            self.dialect.copy_rows(self, table, columns, rows)

    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        """Many rows into ``table``, the fastest way the database has, leaving out any whose key
        the table holds already."""
        if rows:
            self.dialect.insert_new(self, table, columns, rows)

    def set_by_id(self, table: str, column: str, rows: Sequence[tuple[str, int]]) -> None:
        """``column`` of many rows of ``table``: (value, id) each."""
        if rows:
            self.dialect.set_by_id(self, table, column, rows)

    def all_among(self, sql: str, column: str, values: Sequence[str], params: Params = (),
                  chunk: int = 500) -> list[DBRow]:
        """The rows of ``sql`` (its ``{among}`` the condition that ``column`` is one of ``values``,
        after ``params``), a chunk of values a statement: as many as there are, within SQLite's
        limit of bound parameters."""
        ordered = sorted(values)
        out: list[DBRow] = []
        for i in range(0, len(ordered), chunk):
            among, among_params = self.one_of(column, ordered[i:i + chunk])
            out += self.all(sql.format(among=among), (*params, *among_params))
        return out

    def all(self, sql: str, params: Params = ()) -> list[DBRow]:
        cur = self.execute(sql, params)
        rows = cur.fetchall()
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def one(self, sql: str, params: Params = ()) -> DBRow | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Params = ()) -> DBValue:
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def bind(self, version: int | None, name: str = DEFAULT_PROJECTION) -> Conn:
        """Point this connection at ``version`` of projection ``name``, or at its live version.
        Runs inside the transaction, so the choice and the reads share one snapshot."""
        if version is None:
            found = self.execute(LIVE_VERSION, (name,)).fetchone()
        else:
            found = self.execute(HELD_VERSION, (name, version)).fetchone()
        return self.use(found, name, version)

    def use(self, found: Sequence[DBValue] | None, name: str, asked: int | None = None) -> Conn:
        """Point this connection at the version of ``name`` that ``found`` names, the row that
        ``LIVE_VERSION`` or ``HELD_VERSION`` gave for the version ``asked`` (None: the live one)."""
        if found is None:
            raise NoSuchVersion(f"projection {name} has no live version" if asked is None
                                else f"projection {name} has no version {asked}")
        self.name = name
        self.version = int(found[0])
        self.bound_position = int(found[1] or 0)
        self.schema = int(found[2] or 1)
        return self


class Dialect(Protocol):
    """What differs between the databases, one class per database (``sqlite.py``, ``postgres.py``)."""

    name: str
    serial_primary_key: str  # the column type of a generated id
    list_tables: str  # a query of the tables of this database (or schema): a row each, its ``name``

    def __hash__(self) -> int:
        """Dialects are module-level singletons, hashed by identity (statements are cached by them)."""

    def placeholders(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, as this database's driver wants them."""

    def executemany(self, conn: Conn, sql: str, rows: Sequence[Params]) -> None:
        """``sql`` (in this database's placeholders) once per row, on ``conn``'s raw connection."""

    def insert_with_ids(self, conn: Conn, table: str, columns: str, rows: Sequence[Params]) -> list[int]: ...

    def one_of(self, column: str, values: Sequence[str]) -> tuple[str, tuple[SQLParam, ...]]: ...

    def copy_rows(self, conn: Conn, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None: ...

    def insert_new(self, conn: Conn, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        """Many rows into ``table``, leaving out any whose key the table holds already."""

    def set_by_id(self, conn: Conn, table: str, column: str, rows: Sequence[tuple[str, int]]) -> None:
        """Set ``column`` to each row's value (first) in ``table``'s row of that id (second)."""

    def after_copy(self, conn: Conn, table: str, last_id: int) -> None:
        """Rows with ids up to ``last_id`` were written with their ids: keep the generator ahead."""

    def lock_tracking(self, conn: Conn, name: str) -> str:
        """Prepare to hold ``name``'s tracking row for this transaction; the suffix of the SELECT
        that then locks it (SQLite's write transaction already holds the whole database)."""

    def analyze(self, conn: Conn, tables: Sequence[str]) -> None:
        """Give the planner statistics of ``tables`` (full names), bulk-loaded just now."""

    def bulk_cache(self, budget: int) -> int:
        """Bytes of a rebuild's memory budget (``budget``) its bulk-writing connection may keep
        in this process (a page cache): the fold's share is the rest."""

    def tune_bulk_writes(self, conn: Conn, cache: int) -> None:
        """Settings for one connection about to write a rebuild's bulk inserts, holding at most
        ``cache`` bytes (``bulk_cache``) in this process."""


class Database:
    dialect: Dialect

    @staticmethod
    def from_settings(settings: Settings) -> Database:
        # Imported here: each database's module builds on this one.
        from .postgres import PostgresDatabase
        from .sqlite import SQLiteDatabase

        if settings.is_postgres:
            return PostgresDatabase(settings)
        return SQLiteDatabase(settings.sqlite_path)

    def prepare(self) -> None:
        """Create what must exist before the tables can be (a PostgreSQL schema)."""

    def readers_drained(self, grace: float) -> bool:
        """True once no transaction that began before this call is still running (within
        ``grace`` seconds); False if one outlasts it."""
        return True

    @contextmanager
    def read(self, version: int | None = None, name: str = DEFAULT_PROJECTION, bind: bool = True) -> Iterator[Conn]:
        """A read transaction on one snapshot, bound to ``version`` (default: the live one)."""
        raise NotImplementedError  # pragma: no cover - abstract

    @contextmanager
    def write(self, version: int | None = None, name: str = DEFAULT_PROJECTION, bind: bool = True) -> Iterator[Conn]:
        """A write transaction; ``bind=False`` for the shared tables only (before any version exists)."""
        raise NotImplementedError  # pragma: no cover - abstract

    @contextmanager
    def reader(self, version: int, name: str = DEFAULT_PROJECTION) -> Iterator[Conn]:
        """A connection bound to ``version`` that reads outside any transaction: each statement
        sees what was committed before it (a rebuild reading back its own flushes)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def close(self) -> None:
        pass
