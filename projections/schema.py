"""Tables of the read side. Dates are ISO text (they sort as text), record times are fixed-width
UTC ISO text, so the same SQL runs on SQLite and PostgreSQL.

The two bitemporal interval tables, ``tenures`` (seats in units) and ``roles`` (organization-level
roles), hold one row per (tenure, version of our knowledge of it): valid time is
``[start_lo, end_hi)`` possibly and ``[start_hi, end_lo)`` certainly; record time is
``[recorded_from, recorded_to)``. An as-of query is one range lookup on a covering index.
"""

from __future__ import annotations

from .db import Conn

FOREVER = "9999-12-31T23:59:59.999999Z"  # recorded_to of what we still believe
# What this code's fold writes. A version folded by older code (a lower number) still answers, but
# is rebuilt (``versions.stale``); raise it whenever the fold or the tables change what they hold.
# 2: names, identifiers, imports, merges; facts carry origin (imports as syncs).
# 3: an end of unknown date ends the tenure or role it follows (it was folded before every dated fact).
# 4: spans rows carry their row's valid-time bounds (``SPANS_BOUNDED``).
SCHEMA = 4
# The first SCHEMA whose spans rows carry their row's valid-time bounds: an as-of lookup of an
# older version (live while its replacement is built) joins the rows to filter them.
SPANS_BOUNDED = 4

INTERVAL_COLUMNS = """
    org TEXT NOT NULL,
    person TEXT NOT NULL,
    role TEXT NOT NULL,
    tenure_key TEXT NOT NULL DEFAULT '',
    start_text TEXT NOT NULL,
    start_lo TEXT NOT NULL,
    start_hi TEXT NOT NULL,
    end_text TEXT,
    end_lo TEXT NOT NULL,
    end_hi TEXT NOT NULL,
    cause TEXT,
    start_event TEXT,
    end_event TEXT,
    evidence TEXT NOT NULL,
    disputed INTEGER NOT NULL DEFAULT 0,
    recorded_from TEXT NOT NULL,
    recorded_to TEXT NOT NULL
"""


# The tables of one version of the projection. Each version's tables carry the suffix ``_v<N>``
# (``tenures_v3``); readers are pointed at the live one by ``projection_versions`` (see
# ``versions.py``), so a rebuild writes a new version beside the live one and switches atomically.
VERSIONED = ("orgs", "people", "units", "facts", "fact_people", "fact_units", "tenures", "roles", "spans",
             "subscriptions", "names", "identifiers", "imports", "merges")


def version_ddl(serial: str, s: str) -> list[str]:
    """DDL of one version; ``s`` is its suffix, e.g. ``_v3``; ``serial`` the type of a generated id."""
    return [
        f"""CREATE TABLE IF NOT EXISTS orgs{s} (
            slug TEXT PRIMARY KEY, name TEXT NOT NULL, position BIGINT NOT NULL, recorded_at TEXT NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS people{s} (
            slug TEXT PRIMARY KEY, name TEXT NOT NULL, position BIGINT NOT NULL, recorded_at TEXT NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS units{s} (
            org TEXT NOT NULL, slug TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, mandate TEXT,
            commitments TEXT NOT NULL, formed TEXT NOT NULL, formed_lo TEXT NOT NULL, dissolved TEXT,
            formed_event TEXT NOT NULL, dissolved_event TEXT, PRIMARY KEY (org, slug))""",
        # Every fact with its current (corrected) fields; the working set for re-derivation.
        f"""CREATE TABLE IF NOT EXISTS facts{s} (
            org TEXT NOT NULL, id TEXT NOT NULL, position BIGINT NOT NULL, type TEXT NOT NULL,
            recorded_at TEXT NOT NULL, effective TEXT, eff_lo TEXT, eff_hi TEXT, confidence TEXT NOT NULL,
            payload TEXT NOT NULL, original TEXT NOT NULL, corrections TEXT NOT NULL DEFAULT '[]',
            retracted_by TEXT, retracted_at TEXT, writer TEXT, PRIMARY KEY (org, id))""",
        f"CREATE INDEX IF NOT EXISTS facts_position{s} ON facts{s} (org, position)",
        f"CREATE INDEX IF NOT EXISTS facts_valid{s} ON facts{s} (org, eff_lo, position)",
        # Which facts touch which person and unit: the scope of a re-derivation.
        f"""CREATE TABLE IF NOT EXISTS fact_people{s} (org TEXT NOT NULL, person TEXT NOT NULL, fact TEXT NOT NULL,
            PRIMARY KEY (org, person, fact))""",
        f"""CREATE TABLE IF NOT EXISTS fact_units{s} (org TEXT NOT NULL, unit TEXT NOT NULL, fact TEXT NOT NULL,
            PRIMARY KEY (org, unit, fact))""",
        f"CREATE INDEX IF NOT EXISTS fact_people_person{s} ON fact_people{s} (person, org)",
        # who a unit's facts name (the fold's read-through of a unit formed, dissolved or corrected)
        f"CREATE INDEX IF NOT EXISTS fact_people_fact{s} ON fact_people{s} (org, fact)",
        f"CREATE TABLE IF NOT EXISTS tenures{s} (id {serial}, unit TEXT NOT NULL, {INTERVAL_COLUMNS})",
        f"CREATE TABLE IF NOT EXISTS roles{s} (id {serial}, {INTERVAL_COLUMNS})",
        # As-of lookups. Rows still open in valid time are found by a covering index on
        # (org, unit, end_hi = open, ...); closed rows through ``spans``, which lists each closed
        # row under every calendar year it overlaps, so a lookup reads the rows alive in that
        # year only, however long the history after it. Each spans row carries its row's
        # valid-time bounds (a row's bounds never change: a change is a new row), so the rows not
        # alive on the day are passed over in the key, not each fetched to be filtered: a board of
        # high churn lists 233 rows in a year of the 1M history, 11 of them alive on a day (SQLite:
        # 290 us a lookup, 54 with the bounds; an R*Tree of the closed rows: 71, and 66 against 25
        # for a unit of low churn).
        f"""CREATE INDEX IF NOT EXISTS tenures_open{s} ON tenures{s} (org, unit, end_hi, recorded_to, start_lo,
            recorded_from, person, role, start_hi, end_lo, disputed)""",
        f"""CREATE TABLE IF NOT EXISTS spans{s} (
            kind TEXT NOT NULL, org TEXT NOT NULL, unit TEXT NOT NULL, year INTEGER NOT NULL, end_hi TEXT NOT NULL,
            start_lo TEXT NOT NULL, row_id BIGINT NOT NULL, PRIMARY KEY (kind, org, unit, year, end_hi, start_lo, row_id))""",
        f"CREATE INDEX IF NOT EXISTS tenures_person{s} ON tenures{s} (org, person, recorded_to)",
        f"CREATE INDEX IF NOT EXISTS tenures_everyone{s} ON tenures{s} (person, recorded_to)",
        f"""CREATE INDEX IF NOT EXISTS roles_open{s} ON roles{s} (org, end_hi, recorded_to, start_lo,
            recorded_from, person, role, start_hi, end_lo, disputed)""",
        f"CREATE INDEX IF NOT EXISTS roles_person{s} ON roles{s} (org, person, recorded_to)",
        f"CREATE INDEX IF NOT EXISTS roles_everyone{s} ON roles{s} (person, recorded_to)",
        # For changes between two dates. No recorded_to in these: an (org, recorded_to) prefix
        # looked like a one-row match to PostgreSQL's planner on stale statistics and was chosen
        # over tenures_person for the fold's per-person lookups (16 ms instead of 0.1 ms).
        f"CREATE INDEX IF NOT EXISTS tenures_started{s} ON tenures{s} (org, start_lo)",
        f"CREATE INDEX IF NOT EXISTS tenures_ended{s} ON tenures{s} (org, end_lo)",
        # Every name a person was given (registration, renames), in record order: the name on day
        # D as known at T is computed from the few rows of that person (see queries.names).
        f"""CREATE TABLE IF NOT EXISTS names{s} (
            person TEXT NOT NULL, name TEXT NOT NULL, effective TEXT, eff_lo TEXT, position BIGINT NOT NULL,
            recorded_at TEXT NOT NULL, PRIMARY KEY (person, position))""",
        # Identifiers (a Wikidata id, say) and the person each names.
        f"""CREATE TABLE IF NOT EXISTS identifiers{s} (
            scheme TEXT NOT NULL, value TEXT NOT NULL, person TEXT NOT NULL, position BIGINT NOT NULL,
            recorded_at TEXT NOT NULL, PRIMARY KEY (scheme, value))""",
        f"CREATE INDEX IF NOT EXISTS identifiers_person{s} ON identifiers{s} (person)",
        # Each import that stored something: its source, document digest, summary and the range
        # of positions its facts took (what timeline and changes filter on).
        f"""CREATE TABLE IF NOT EXISTS imports{s} (
            org TEXT NOT NULL, id TEXT NOT NULL, source TEXT NOT NULL, format TEXT NOT NULL, digest TEXT NOT NULL,
            position BIGINT NOT NULL, recorded_at TEXT NOT NULL, first_event TEXT, last_event TEXT,
            first_position BIGINT, last_position BIGINT, events INTEGER NOT NULL, summary TEXT NOT NULL,
            writer TEXT, PRIMARY KEY (org, id))""",
        # People merged into another, as currently believed (the rows keep what was believed when).
        f"""CREATE TABLE IF NOT EXISTS merges{s} (
            person TEXT PRIMARY KEY, into_person TEXT NOT NULL, position BIGINT NOT NULL, recorded_at TEXT NOT NULL,
            reason TEXT)""",
        f"CREATE INDEX IF NOT EXISTS merges_into{s} ON merges{s} (into_person)",
        # Webhook subscriptions as recorded (projected from their events; delivery state is shared).
        f"""CREATE TABLE IF NOT EXISTS subscriptions{s} (
            sub TEXT PRIMARY KEY, aggregate_id TEXT NOT NULL UNIQUE, url TEXT NOT NULL, org TEXT, types TEXT NOT NULL,
            secret TEXT NOT NULL, status TEXT NOT NULL, control_position BIGINT NOT NULL, redeliver_from BIGINT,
            start_after BIGINT NOT NULL,
            created_at TEXT NOT NULL)""",
    ]


def shared_ddl() -> list[str]:
    """Tables every version shares: positions, versions, jobs, parked events, delivery state, tokens."""
    return [
        """CREATE TABLE IF NOT EXISTS tracking (
            name TEXT PRIMARY KEY, position BIGINT NOT NULL, recorded_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        # Which version of each projection readers use (state 'live'), which are being built,
        # which are scratch replays, which were retired or dropped. Version numbers never repeat.
        """CREATE TABLE IF NOT EXISTS projection_versions (
            name TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL, until_position BIGINT,
            until_recorded TEXT, created_at TEXT NOT NULL, switched_at TEXT, dropped_at TEXT,
            PRIMARY KEY (name, version))""",
        # Rebuilds and replays, with their progress, readable by any process (GET /v1/ops/jobs/{id}).
        """CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, version INTEGER, state TEXT NOT NULL,
            done BIGINT NOT NULL DEFAULT 0, total BIGINT NOT NULL DEFAULT 0, position BIGINT NOT NULL DEFAULT 0,
            rate REAL, eta_seconds REAL, error TEXT, runner TEXT, created_at TEXT NOT NULL, started_at TEXT,
            updated_at TEXT NOT NULL, finished_at TEXT)""",
        # Events whose fold raised: parked with the error so the projection does not wedge.
        # ``name`` is the version's tracking key (``history@v2``).
        """CREATE TABLE IF NOT EXISTS parked (
            name TEXT NOT NULL, position BIGINT NOT NULL, event_id TEXT, type TEXT, error TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1, parked_at TEXT NOT NULL, resolved_at TEXT, resolution TEXT,
            PRIMARY KEY (name, position))""",
        # Webhook delivery state (operational, written by delivery jobs, not by the fold).
        """CREATE TABLE IF NOT EXISTS webhook_state (
            sub TEXT PRIMARY KEY, cursor BIGINT NOT NULL, control_applied BIGINT NOT NULL, failing INTEGER NOT NULL,
            last_error TEXT, updated_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS webhook_failures (
            sub TEXT NOT NULL, position BIGINT NOT NULL, event_id TEXT, error TEXT NOT NULL, failed_at TEXT NOT NULL)""",
        # Which fold wrote each version (SCHEMA); a version without a row predates the numbers (1).
        """CREATE TABLE IF NOT EXISTS projection_schema (
            name TEXT NOT NULL, version INTEGER NOT NULL, schema INTEGER NOT NULL, PRIMARY KEY (name, version))""",
        """CREATE TABLE IF NOT EXISTS tokens (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL,
            created_at TEXT NOT NULL, revoked_at TEXT)""",
        # This store's identity, one row written once (``identity.py``): what names its rq queue
        # and its wake-up channel, so deployments sharing a Redis database never take each other's jobs.
        """CREATE TABLE IF NOT EXISTS store_identity (
            one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT NOT NULL)""",
    ]


WIDE = 0  # the span "year" of rows overlapping more than MAX_SPAN_YEARS years (unknown starts)
MAX_SPAN_YEARS = 60


def span_years(start_lo: str, end_hi: str) -> list[int]:
    """The calendar years a closed row [start_lo, end_hi) may overlap (end_hi itself is excluded)."""
    first = int(start_lo[:4])
    last = int(end_hi[:4]) - (1 if end_hi[5:] == "01-01" else 0)
    if last < first:
        return []
    if last - first + 1 > MAX_SPAN_YEARS:
        return [WIDE]
    return list(range(first, last + 1))


def suffix(version: int) -> str:
    return f"_v{int(version)}"


def create_shared(conn: Conn) -> None:
    for statement in shared_ddl():
        conn.execute(statement)


def create_version(conn: Conn, version: int, indexes: bool = True) -> None:
    """A version's tables; ``indexes=False`` leaves out the secondary indexes, for a rebuild that
    bulk-loads first and indexes once at the end (``create_indexes``), which is several times
    cheaper than maintaining them row by row."""
    for statement in version_ddl(conn.dialect.serial_primary_key, suffix(version)):
        if indexes or not statement.startswith("CREATE INDEX"):
            conn.raw.execute(statement)


def index_statements(conn: Conn, version: int, only: tuple[str, ...] | None = None) -> list[str]:
    """The secondary indexes of a version (``only``: those named, without the version suffix)."""
    out = [st for st in version_ddl(conn.dialect.serial_primary_key, suffix(version)) if st.startswith("CREATE INDEX")]
    if only is not None:
        out = [st for st in out if st.split()[5][:-len(suffix(version))] in only]
    return out


# What the fold's read-through (``batchstore.py``) looks rows up by: a rebuild that has to read
# back what it flushed builds these before the rest.
READ_THROUGH_INDEXES = ("fact_people_fact", "tenures_person", "roles_person")


def drop_version(conn: Conn, version: int, tables: tuple[str, ...] = VERSIONED) -> None:
    for table in tables:
        conn.raw.execute(f"DROP TABLE IF EXISTS {table}{suffix(version)}")


def versioned_tables(conn: Conn) -> set[int]:
    """The versions that have at least one table in this database (or schema)."""
    out = set()
    for n in (r["name"] for r in conn.all(conn.dialect.list_tables)):
        base, _, v = n.rpartition("_v")
        if base in VERSIONED and v.isdigit():
            out.add(int(v))
    return out
