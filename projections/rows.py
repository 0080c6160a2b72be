"""The read side's rows by name, and the store the projector folds into (``ProjectionState``).

``tenures`` (seats in units) and ``roles`` (organization-level roles) have one shape but for the
unit column: ``RowTable`` says which, so no code counts column offsets. Rows of those two tables
are handled as *keys*, tuples of ``RowTable.columns`` values, the identity the projector diffs on:
plain tuples, as a rebuild builds millions of them.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from functools import lru_cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, Iterable, NamedTuple, Protocol, Sequence

from events.jsontypes import JSONObject

if TYPE_CHECKING:  # the projector's cached folds, kept opaque by the store
    from .fold import FactView
    from .foldcache import Derived

TABLE_COLUMNS = ("person", "role", "tenure_key", "start_text", "start_lo", "start_hi", "end_text", "end_lo",
                 "end_hi", "cause", "start_event", "end_event", "evidence", "disputed")
FACT_COLUMNS = ("org", "id", "position", "type", "recorded_at", "effective", "eff_lo", "eff_hi", "confidence",
                "payload", "original", "writer")
ALL_FACT_COLUMNS = FACT_COLUMNS + ("corrections", "retracted_by", "retracted_at")
FACT_UPDATE_COLUMNS = ("payload", "corrections", "effective", "eff_lo", "eff_hi", "confidence", "retracted_by",
                       "retracted_at")
UNIT_COLUMNS = ("org", "slug", "name", "kind", "mandate", "commitments", "formed", "formed_lo", "dissolved",
                "formed_event", "dissolved_event")
SUB_COLUMNS = ("sub", "aggregate_id", "url", "org", "types", "secret", "status", "control_position",
               "redeliver_from", "start_after", "created_at")
NAME_COLUMNS = ("person", "name", "effective", "eff_lo", "position", "recorded_at")
IDENTIFIER_COLUMNS = ("scheme", "value", "person", "position", "recorded_at")
IMPORT_COLUMNS = ("org", "id", "source", "format", "digest", "position", "recorded_at", "first_event", "last_event",
                  "first_position", "last_position", "events", "summary", "writer")
MERGE_COLUMNS = ("person", "into_person", "position", "recorded_at", "reason")
FACT_PEOPLE_COLUMNS = ("org", "person", "fact")
FACT_UNITS_COLUMNS = ("org", "unit", "fact")
# a closed row listed under a year it overlaps: its table, org, unit ("" for a role), the year,
# the row's valid-time bounds, its id
SPAN_COLUMNS = ("kind", "org", "unit", "year", "end_hi", "start_lo", "row_id")
EDGES = ("formed", "dissolved")
# (unit, role, tenure key) of a tenure; (None, role, "") of an organization-level role
Seat = tuple[str | None, str, str]
Cell = str | int | None  # one column's value, as the tables hold it
Values = tuple[Cell, ...]  # one table row's column values, in its columns' order
# One row of ``tenures``/``roles`` as the store holds it: ``RowTable.columns`` values (plain
# tuples: a rebuild builds millions). Where a column sits depends on the table, so reading one
# by its position (``RowTable.person_at``) gives a ``Cell``, not the column's own type.
RowKey = Values
# A new fact's ``facts`` row (``FACT_COLUMNS``), as ``encoding.fact_values`` builds it: org, id,
# position, type, recorded_at, effective, eff_lo, eff_hi, confidence, payload, original, writer.
FactValues = tuple[str, str, int, str, str, str | None, str | None, str | None, str, str, str, str | None]




class RowTable:
    """``tenures`` or ``roles``: the same columns, a tenure's led by its unit. There are exactly
    two, compared and hashed by identity; the positions are worked out once (the fold indexes
    millions of rows by them)."""

    __slots__ = ("name", "has_unit", "columns", "person_at", "end_event_at", "start_lo_at", "end_hi_at")

    def __init__(self, name: str, has_unit: bool) -> None:
        self.name, self.has_unit = name, has_unit
        self.columns: tuple[str, ...] = (("unit",) if has_unit else ()) + TABLE_COLUMNS
        self.person_at = self.columns.index("person")
        self.end_event_at = self.columns.index("end_event")
        self.start_lo_at = self.columns.index("start_lo")
        self.end_hi_at = self.columns.index("end_hi")

    def __repr__(self) -> str:
        return f"RowTable({self.name!r})"

    def person(self, key: RowKey) -> str:
        # the person column holds a slug; no cast, as this runs for every row a rebuild keeps
        return key[self.person_at]  # type: ignore[return-value]

    def seat(self, key: RowKey) -> Seat:
        """The seat a row is of: (unit, role, tenure key), unit None for a role."""
        # (unit, role, tenure_key) are slugs; no casts, as this runs for every row a rebuild keeps
        if self.has_unit:
            return key[0], key[2], key[3]  # type: ignore[return-value]
        return None, key[1], key[2]  # type: ignore[return-value]


TENURES = RowTable("tenures", has_unit=True)
ROLES = RowTable("roles", has_unit=False)
ROW_TABLES = (TENURES, ROLES)


class OrgRow(NamedTuple):
    slug: str
    name: str
    position: int
    recorded_at: str


class PersonRow(NamedTuple):
    slug: str
    name: str
    position: int
    recorded_at: str


class NameRow(NamedTuple):
    person: str
    name: str
    effective: str | None
    eff_lo: str | None
    position: int
    recorded_at: str


class IdentifierRow(NamedTuple):
    scheme: str
    value: str
    person: str
    position: int
    recorded_at: str


class ImportRow(NamedTuple):
    org: str
    id: str
    source: str
    format: str
    digest: str
    position: int
    recorded_at: str
    first_event: str | None
    last_event: str | None
    first_position: int | None
    last_position: int | None
    events: int
    summary: str
    writer: str | None


class MergeRow(NamedTuple):
    person: str
    into_person: str
    position: int
    recorded_at: str
    reason: str | None


class UnitRow(NamedTuple):
    org: str
    slug: str
    name: str
    kind: str
    mandate: str | None
    commitments: str
    formed: str
    formed_lo: str
    dissolved: str | None
    formed_event: str
    dissolved_event: str | None


@dataclass(slots=True)
class SubscriptionRow:
    """A webhook subscription; its status and delivery control change in place."""

    sub: str
    aggregate_id: str
    url: str
    org: str | None
    types: str
    secret: str
    status: str
    control_position: int
    redeliver_from: int | None
    start_after: int
    created_at: str

    def values(self) -> Values:
        return astuple(self)


class FactRow:
    """A ``facts`` row as ``MemoryStore`` keeps it: read and written like a dict (``row["payload"]``),
    in slots rather than a dict, because a rebuild holds every fact of the log (measured: a fifth of
    its memory went on these dicts).
    ``_payload`` and ``_view`` are the projector's parsed caches."""

    __slots__ = ALL_FACT_COLUMNS + ("_payload", "_view")
    org: str
    id: str
    position: int
    type: str
    recorded_at: str
    effective: str | None
    eff_lo: str | None
    eff_hi: str | None
    confidence: str
    payload: str
    original: str
    writer: str | None
    corrections: str
    retracted_by: str | None
    retracted_at: str | None
    _payload: JSONObject | None
    _view: FactView | None

    def __init__(self, values: Sequence[Cell]) -> None:
        # One unpacking statement, not a setattr call per column: a rebuild builds a row per fact.
        # (``_FACT_SLOTS_IN_ORDER`` below checks that this order is ALL_FACT_COLUMNS'.)
        (self.org, self.id, self.position, self.type, self.recorded_at, self.effective, self.eff_lo, self.eff_hi,
         self.confidence, self.payload, self.original, self.writer, self.corrections, self.retracted_by,
         self.retracted_at) = values  # type: ignore[assignment]  # each cell is its column's type
        self._payload = self._view = None

    # Read and written by a column's name, like a database row: the value's type is the column's.
    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)

    def correct(self, payload: str, corrections: str, effective: str | None, eff_lo: str, eff_hi: str,
                confidence: str) -> None:
        """The row as a correction leaves it; the projector's parsed caches of the old payload go."""
        self.payload, self.corrections, self.effective = payload, corrections, effective
        self.eff_lo, self.eff_hi, self.confidence = eff_lo, eff_hi, confidence
        self._payload = self._view = None

    def values(self, columns: tuple[str, ...] = ALL_FACT_COLUMNS) -> Values:
        return _getter(columns)(self)


@lru_cache(maxsize=None)  # a few column lists; attrgetter reads them all in one C call
def _getter(columns: tuple[str, ...]) -> Callable[[FactRow], Values]:
    get: Callable[[FactRow], Any] = attrgetter(*columns)  # one column: its value, not a tuple
    return (lambda row: (get(row),)) if len(columns) == 1 else get


_FACT_SLOTS_IN_ORDER = FactRow(tuple(ALL_FACT_COLUMNS)).values() == ALL_FACT_COLUMNS
assert _FACT_SLOTS_IN_ORDER, "FactRow.__init__ must assign the columns in ALL_FACT_COLUMNS' order"




class ProjectionState(Protocol):
    """What the projector folds into: the whole version in memory (``MemoryStore``, a rebuild),
    or one batch read through from the tables (``BatchStore``, the catch-up)."""

    derived: dict[tuple[str, str], Derived]

    def position(self, lock: bool = False) -> tuple[int, str]: ...
    def set_position(self, position: int, recorded: str) -> None: ...
    def add_org(self, row: OrgRow) -> None: ...
    def add_person(self, row: PersonRow) -> None: ...
    def add_name(self, row: NameRow) -> None: ...
    def set_person_name(self, person: str, name: str) -> None: ...
    def add_identifier(self, row: IdentifierRow) -> None: ...
    def add_import(self, row: ImportRow) -> None: ...
    def set_merge(self, row: MergeRow | None, person: str) -> None: ...
    def merged_into(self, person: str) -> str | None: ...
    def merged_from(self, person: str) -> set[str]: ...
    def person_orgs(self, person: str) -> set[str]: ...
    def add_subscription(self, row: SubscriptionRow) -> None: ...
    def change_subscription(self, aggregate_id: str, status: str | None, position: int, action: str,
                            from_position: int | None) -> None: ...
    def insert_fact(self, values: FactValues, fields: JSONObject | None = None) -> FactRow:
        """Add a new fact's row (unless held already) and return the row held for it."""
        ...
    def fact(self, org: str, fact_id: str) -> FactRow | None: ...
    def retract(self, org: str, fact_id: str, by: str, at: str) -> None: ...
    def correct(self, org: str, fact_id: str, payload: str, corrections: str, effective: str | None,
                eff_lo: str, eff_hi: str, confidence: str) -> None: ...
    def link(self, org: str, fact_id: str, people: set[str], units: set[str]) -> None: ...
    def person_facts(self, org: str, person: str) -> list[FactRow]: ...
    def facts_by_ids(self, org: str, ids: Sequence[str]) -> list[FactRow]: ...
    def fact_count(self, org: str, person: str) -> int: ...
    def unit_people(self, org: str, unit: str) -> set[str]: ...
    def unit_edges(self, org: str, unit: str) -> list[FactRow]: ...
    def set_unit(self, org: str, unit: str, row: UnitRow | None) -> None: ...
    def units_info(self, org: str, units: Sequence[str]) -> list[UnitRow]: ...
    def current_rows(self, table: RowTable, org: str, person: str) -> list[tuple[int, RowKey]]: ...
    def open_rows(self, table: RowTable, org: str, person: str, seats: Iterable[Seat]) -> list[tuple[int, RowKey]]: ...
    def close_rows(self, table: RowTable, ids: list[int], recorded: str) -> None: ...
    def add_rows(self, table: RowTable, org: str, keys: list[RowKey], recorded: str) -> None: ...
