"""As-of answers: who was where on a date, as known now or at a record time, with evidence, and why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from events.errors import NotFound
from projections import answers, queries
from projections.db import Conn

from ..schemas import AsOfArgs, Changes, ChangesArgs, Roster, Timeline, TimelineArgs, Why
from . import Blueprint, org_or_404, read_as_asked
from .people import person_or_404

blp = Blueprint("asof", __name__, url_prefix="/v1", description="Who was where on a date, and why")


def _unit_or_404(c: Conn, org: str, unit: str) -> None:
    """A 404 naming the ``org`` field if there is no such organization, else ``unit`` if it has no
    such unit. Found, the unit vouches for its organization: one lookup, not two."""
    if queries.get_unit(c, org, unit) is None:
        org_or_404(c, org)
        raise NotFound(f"no unit {unit!r} in {org}", "unit")


def _roster(c: Conn, org: str, args: Mapping[str, Any], entries: list[answers.Entry],
            **fields: str | list[str] | list[answers.Entry]) -> dict[str, Any]:
    """A roster answer: its date, record time, the position and version that answered, its own
    ``fields`` (``members=[...]``), and the evidence its ``entries`` cite."""
    cited = queries.evidence(c, org, {i for e in entries for i in e["evidence"]})
    head = {"org": org, "as_of": args["as_of"].isoformat(), "known_at": args["known_at"],
            "position": queries.position(c), "version": c.version}
    return {**head, **fields, "evidence": cited}


@blp.route("/orgs/<org>/units/<unit>/members")
@blp.reads(Roster, AsOfArgs)
def unit_members(args, org, unit):
    """Who was in a unit on a date, as known now or at a record time, with evidence."""
    with read_as_asked(args) as c:
        _unit_or_404(c, org, unit)
        members = queries.members(c, org, [unit], args["as_of"], args["known_at"])
        return _roster(c, org, args, members, unit=unit, members=members)


@blp.route("/orgs/<org>/board")
@blp.reads(Roster, AsOfArgs)
def board(args, org):
    """The board on a date: directors and observers, as known now or at a record time, with evidence."""
    with read_as_asked(args) as c:
        units = queries.board_units(c, org)
        if not units:  # an organization without a board, or none at all: only then ask which
            org_or_404(c, org)
        seats = queries.members(c, org, units, args["as_of"], args["known_at"])
        return _roster(c, org, args, seats, units=units, directors=[e for e in seats if e["role"] != "observer"],
                       observers=[e for e in seats if e["role"] == "observer"])


@blp.route("/orgs/<org>/roles")
@blp.reads(Roster, AsOfArgs)
def roles(args, org):
    """Organization-level roles (CEO, CTO, ...) on a date, with evidence."""
    with read_as_asked(args) as c:
        held = queries.roles(c, org, args["as_of"], args["known_at"])
        if not held:  # none held, or no such organization: only then ask which
            org_or_404(c, org)
        return _roster(c, org, args, held, roles=held)


def _why(args: Mapping[str, Any], org: str, unit: str | None, person: str) -> answers.Why:
    with read_as_asked(args, org if unit is None else None) as c:  # a unit vouches for its organization
        if unit is not None:
            _unit_or_404(c, org, unit)
        person_or_404(c, person)
        return queries.why(c, org, unit, person, args["as_of"], args["known_at"])


@blp.route("/orgs/<org>/units/<unit>/members/<person>/why")
@blp.reads(Why, AsOfArgs)
def why_member(args, org, unit, person):
    """Why a person is (or is not) in a unit on a date: the chain of events, with sources."""
    return _why(args, org, unit, person)


@blp.route("/orgs/<org>/roles/<person>/why")
@blp.reads(Why, AsOfArgs)
def why_role(args, org, person):
    """Why a person holds (or does not hold) organization roles on a date."""
    return _why(args, org, None, person)


@blp.route("/orgs/<org>/changes")
@blp.reads(Changes, ChangesArgs)
def changes(args, org):
    """Who joined and who left which unit and role between two dates, with causes."""
    with read_as_asked(args, org) as c:
        found = queries.changes(c, org, args["from_"], args["to"], args["known_at"], args.get("import_"))
        return {"org": org, "from": args["from_"].isoformat(), "to": args["to"].isoformat(),
                "known_at": args["known_at"], "changes": found}


@blp.route("/orgs/<org>/timeline")
@blp.reads(Timeline, TimelineArgs)
def timeline(args, org):
    """Every fact in valid-time order, with sources, confidence and record time."""
    with read_as_asked(args, org) as c:
        facts = queries.timeline(c, org, args["known_at"], args.get("from_"), args.get("to"), args["limit"],
                                 args.get("import_"))
        return {"org": org, "known_at": args["known_at"], "events": facts}
