"""The fold: from the facts about one person in one organization to their tenures and roles.

Pure functions, no SQL. The projector calls ``derive`` for every person a new fact touches, with
every fact it knows about that person (corrections applied, retractions removed), and stores the
difference. Because the whole person is re-derived in valid-time order, facts may arrive in any
record order: learning today of a 2018 appointment gives the same rows as learning it in 2018.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Iterable, NamedTuple

from events import vocabulary as v
from events.jsontypes import JSONObject
from events.validtime import BEGINNING, END_OF_TIME, ValidTime
from events.vocabulary import FactType

OPEN_END = END_OF_TIME.isoformat()
ENDS = frozenset(t.name for t in v.TYPES.values() if t.ends)  # fact types that end tenures or roles
UNKNOWN_START = BEGINNING.isoformat()
# How facts are ordered for the fold: valid time's earliest and latest day, then log position.
SortKey = tuple[date, date, int]


@dataclass(frozen=True)
class FactView:
    """A fact as currently believed: its fields after corrections; ``evidence`` adds the corrections."""

    id: str
    position: int
    type: str
    fields: JSONObject
    confidence: str
    evidence: tuple[str, ...] = ()

    @property
    def when(self) -> ValidTime:
        # Kept in the instance's dict by hand: functools.cached_property takes a lock on every
        # read before Python 3.12, and the fold reads this for every fact.
        w: ValidTime | None = self.__dict__.get("_when")
        if w is None:
            w = self.__dict__["_when"] = ValidTime.parse(self.fields.get("effective") or "unknown")
        return w

    def sort_key(self) -> SortKey:
        w = self.when
        if w.precision == "unknown" and self.type in ENDS:
            # An end of unknown date ends what was held before it, whenever that began: it is the
            # last thing known of the person (an undated start, the first, sorts by its bounds).
            return (END_OF_TIME, END_OF_TIME, self.position)
        return (w.earliest, w.latest, self.position)


class Row(NamedTuple):
    """A tenure (``unit`` set) or role as the fold derives it. A named tuple, not a frozen
    dataclass: one is built for every seat a fact touches, and a tuple is built in one call."""

    unit: str | None  # None for an organization-level role
    person: str
    role: str
    tenure_key: str
    start_text: str
    start_lo: str
    start_hi: str
    end_text: str | None
    end_lo: str
    end_hi: str
    cause: str | None
    start_event: str | None
    end_event: str | None
    evidence: tuple[str, ...]
    disputed: bool


@dataclass(slots=True)
class _Open:
    start: ValidTime | None  # None: started before anything we know (a leave without a join)
    start_event: str | None
    evidence: list[str] = field(default_factory=list)
    disputed: bool = False


def _ids(f: FactView) -> list[str]:
    return [f.id, *f.evidence]


# An open seat or role as plain values: its start's text (None: unknown start), the fact that
# started it, its evidence, whether it is disputed.
OpenDump = tuple[str | None, str | None, list[str], bool]
# A fold at rest as plain values (``_Person.dump``): the person, when each of their units was
# formed, their open seats ((unit, role, key), open) in order, their open roles, what their
# ousters took.
PersonDump = tuple[str, dict[str, str], list[tuple[tuple[str, str, str], OpenDump]],
                   list[tuple[str, OpenDump]], dict[str, list[str]]]


def _dump_open(o: _Open) -> OpenDump:
    return (None if o.start is None else o.start.text, o.start_event, o.evidence, o.disputed)


def _load_open(d: OpenDump) -> _Open:
    # A start is parsed from its text (``FactView.when``), so its text gives it back.
    text, event, evidence, disputed = d
    return _Open(None if text is None else ValidTime.parse(text), event, evidence, disputed)


class _Person:
    # slots: a rebuild keeps one unfinished fold per person it has met (``foldcache.Derived``)
    __slots__ = ("person", "formed", "seats", "by_unit", "roles", "ousted", "rows", "dirty")

    def __init__(self, person: str, formed: dict[str, str]):
        self.person = person
        self.formed = formed  # unit -> earliest day it existed: nobody sat in it before
        self.seats: dict[tuple[str, str, str], _Open] = {}
        self.by_unit: dict[str, dict[tuple[str, str, str], None]] = {}  # unit -> its open seats, in order
        self.roles: dict[str, _Open] = {}
        self.ousted: dict[str, list[str]] = {}
        self.rows: list[Row] = []
        # Seats (unit, role, key) and roles (None, role, "") opened, closed or given more evidence
        # since ``take_changes``: only their rows can differ from what was stored before.
        self.dirty: set[tuple[str | None, str, str]] = set()

    # -- opening and closing ------------------------------------------------------------------

    def open_seat(self, unit: str, role: str, key: str, f: FactView) -> None:
        self.dirty.add((unit, role, key))
        current = self.seats.get((unit, role, key))
        if current is not None:  # a second report of the same appointment: more evidence
            current.evidence += _ids(f)
            current.disputed |= f.confidence == "disputed"
            return
        self.seats[(unit, role, key)] = _Open(f.when, f.id, _ids(f), f.confidence == "disputed")
        self.by_unit.setdefault(unit, {})[(unit, role, key)] = None

    def open_role(self, role: str, f: FactView) -> None:
        self.dirty.add((None, role, ""))
        current = self.roles.get(role)
        if current is not None:
            current.evidence += _ids(f)
            return
        self.roles[role] = _Open(f.when, f.id, _ids(f), f.confidence == "disputed")

    def _row(self, unit: str | None, role: str, key: str, o: _Open, end: FactView | None, cause: str | None) -> Row:
        if o.start is None:
            start_text, lo, hi = "unknown", UNKNOWN_START, OPEN_END
        else:
            start_text, lo, hi = o.start.text, o.start.lo, o.start.hi
            if o.start.precision == "unknown":
                hi = OPEN_END
        if unit is not None and unit in self.formed:
            lo = max(lo, self.formed[unit])
        evidence = list(o.evidence)
        if end is None:
            end_text, end_lo, end_hi, end_event = None, OPEN_END, OPEN_END, None
        else:
            w = end.when
            end_text, end_lo, end_hi, end_event = w.text, w.lo, w.hi, end.id
            if w.precision == "unknown":  # ended at some unknown time: never certain, possibly still on
                end_lo, end_hi = lo, OPEN_END
            evidence += [i for i in _ids(end) if i not in evidence]
        disputed = o.disputed or (end is not None and end.confidence == "disputed")
        return Row(unit, self.person, role, key, start_text, lo, hi, end_text, end_lo, end_hi, cause,
                   o.start_event, end_event, tuple(dict.fromkeys(evidence)), disputed)

    def close_seats(self, f: FactView, cause: str, unit: str | None = None, role: str | None = None,
                    key: str | None = None, unmatched: bool = True) -> list[str]:
        among = self.seats if unit is None else self.by_unit.get(unit, ())
        matched = [k for k in among if (role is None or k[1] == role) and (key is None or k[2] == key)]
        for k in matched:
            self.dirty.add(k)
            del self.by_unit[k[0]][k]
            self.rows.append(self._row(k[0], k[1], k[2], self.seats.pop(k), f, cause))
        if not matched and unmatched and unit is not None:
            # A leave we cannot match: they held the seat from some time we do not know.
            self.rows.append(self._row(unit, role or "member", key or "", _Open(None, None), f, cause))
        return [k[1] for k in matched]

    def close_role(self, f: FactView, role: str, cause: str, unmatched: bool = True) -> None:
        o = self.roles.pop(role, None)
        self.dirty.add((None, role, ""))
        if o is None:
            if not unmatched:
                return
            o = _Open(None, None)
        self.rows.append(self._row(None, role, "", o, f, cause))

    def apply(self, f: FactView) -> None:
        rule = RULES.get(f.type)
        if rule is not None:  # facts without a rule (noted, unit_formed) change no tenure
            rule(self, f.fields, f)

    def open_rows(self) -> list[Row]:
        """The rows of what is still held, without ending the fold (more facts may follow)."""
        return ([self._row(unit, role, key, o, None, None) for (unit, role, key), o in self.seats.items()] +
                [self._row(None, role, "", o, None, None) for role, o in self.roles.items()])

    def take_changes(self) -> tuple[list[Row], set[tuple[str | None, str, str]]]:
        """The rows closed since the last call and the open rows of the seats touched since, and
        those seats: what folding the facts since then changed, whatever else the person holds."""
        dirty, rows = self.dirty, self.rows
        for unit, role, key in sorted(dirty, key=lambda k: (k[0] is not None, k[0] or "", k[1], k[2])):
            o = self.seats.get((unit, role, key)) if unit is not None else self.roles.get(role)
            if o is not None:
                rows.append(self._row(unit, role, key, o, None, None))
        self.rows, self.dirty = [], set()
        return rows, dirty

    def finish(self) -> list[Row]:
        return self.rows + self.open_rows()

    @property
    def at_rest(self) -> bool:
        """Every row taken (``take_changes``): all the fold holds is what is open."""
        return not self.rows and not self.dirty

    def dump(self) -> PersonDump:
        """The fold at rest as plain values, which ``load`` turns back into a fold that goes on
        exactly as this one would: what a rebuild writes aside when it lets go of its state."""
        if not self.at_rest:
            raise ValueError(f"the fold of {self.person} has rows not taken")
        return (self.person, self.formed, [(k, _dump_open(o)) for k, o in self.seats.items()],
                [(role, _dump_open(o)) for role, o in self.roles.items()], self.ousted)

    @classmethod
    def load(cls, d: PersonDump) -> _Person:
        person, formed, seats, roles, ousted = d
        p = cls(person, formed)
        for (unit, role, key), o in seats:
            p.seats[(unit, role, key)] = _load_open(o)
            # a unit's open seats in the order they were opened, as ``open_seat`` keeps them
            p.by_unit.setdefault(unit, {})[(unit, role, key)] = None
        p.roles = {role: _load_open(o) for role, o in roles}
        p.ousted = ousted
        return p


def fold_person(person: str, facts: Iterable[FactView], formed: dict[str, str]) -> _Person:
    """The fold of ``facts`` in valid-time order, not yet finished: ``apply`` may go on with a
    fact that sorts after all of them and give what ``derive`` would with that fact added."""
    state = _Person(person, formed)
    for f in sorted(facts, key=FactView.sort_key):
        state.apply(f)
    return state


def derive(person: str, facts: Iterable[FactView], formed: dict[str, str]) -> list[Row]:
    """Every tenure and role of ``person``; ``facts`` are theirs plus the dissolutions of their units."""
    return fold_person(person, facts, formed).finish()


# -- the rules: one per fact type that changes tenures or roles -------------------------------------
# Fields are as ``events.vocabulary.parse_fact`` normalized them: its defaults are already filled.

Rule = Callable[[_Person, JSONObject, FactView], None]
RULES: dict[str, Rule] = {}


def rule(spec: FactType) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES[spec.name] = fn
        return fn
    return register


@rule(v.MEMBER_JOINED)
def _member_joined(p: _Person, x: JSONObject, f: FactView) -> None:
    p.open_seat(x["unit"], x["role"], x.get("tenure") or "", f)


@rule(v.MEMBER_LEFT)
def _member_left(p: _Person, x: JSONObject, f: FactView) -> None:
    p.close_seats(f, x["cause"], x["unit"], x.get("role"), x.get("tenure"))


@rule(v.ROLE_ASSIGNED)
def _role_assigned(p: _Person, x: JSONObject, f: FactView) -> None:
    p.open_role(x["role"], f)


@rule(v.ROLE_ENDED)
def _role_ended(p: _Person, x: JSONObject, f: FactView) -> None:
    p.close_role(f, x["role"], x["cause"])


@rule(v.LEADER_OUSTED)
def _leader_ousted(p: _Person, x: JSONObject, f: FactView) -> None:
    for role in x["roles"]:
        p.close_role(f, role, "removed")
    for unit in x["seats"]:
        # what they held there, to be given back if they are reinstated
        p.ousted[unit] = p.close_seats(f, "removed", unit) or ["member"]


@rule(v.REINSTATED)
def _reinstated(p: _Person, x: JSONObject, f: FactView) -> None:
    for role in x["roles"]:
        p.open_role(role, f)
    for unit in x["seats"]:
        for role in p.ousted.pop(unit, ["member"]):
            p.open_seat(unit, role, "", f)


@rule(v.RESIGNED)
def _resigned(p: _Person, x: JSONObject, f: FactView) -> None:
    p.close_seats(f, v.RESIGNATION, unmatched=False)
    for role in list(p.roles):
        p.close_role(f, role, v.RESIGNATION)


@rule(v.LEAD_REPLACED)
def _lead_replaced(p: _Person, x: JSONObject, f: FactView) -> None:
    if x["outgoing"] == p.person:
        p.close_seats(f, "replaced", x["unit"], x["role"])
    if x["incoming"] == p.person:
        p.open_seat(x["unit"], x["role"], "", f)


@rule(v.UNIT_DISSOLVED)
def _unit_dissolved(p: _Person, x: JSONObject, f: FactView) -> None:
    p.close_seats(f, "unit-dissolved", x["unit"], unmatched=False)


# Every fact type that names people changes their tenures or roles, so it needs a rule here.
assert {t.name for t in v.TYPES.values() if t.people} <= set(RULES), "a fact type about people has no fold rule"
