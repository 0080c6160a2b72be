"""People, their names, merges and histories."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from events.errors import NotFound
from projections import answers, queries
from projections.db import Conn

from ..auth import require, services
from ..schemas import (
    HistoryArgs,
    Merge,
    MergeIn,
    MergeRetractIn,
    PeoplePageArgs,
    Person,
    PersonHistory,
    PersonIn,
    PersonList,
)
from . import Blueprint, read_as_asked, recorded, registered

blp = Blueprint("people", __name__, url_prefix="/v1", description="People, their names, merges and histories")


def person_or_404(conn: Conn, person: str) -> answers.Person:
    """The person as the read side has them, or a 404 naming the ``person`` field."""
    found = queries.get_person(conn, person)
    if found is None:
        raise NotFound(f"no person {person!r}", "person")
    return found


@blp.route("/people")
class People(MethodView):
    @blp.reads(PersonList, PeoplePageArgs)
    def get(self, args):
        """People, in slug order, a page at a time."""
        with services().read() as c:
            return {"people": queries.list_people(c, args["after"], args["limit"])}

    @blp.registers(PersonIn)
    def post(self, data):
        """Register a person (the same slug and name again is a no-op)."""
        return registered(services().app.register_person, data)


@blp.route("/people/<person>")
@blp.reads(Person)
def get_person(person):
    """One person, with identifiers and merges."""
    with services().read() as c:
        return person_or_404(c, person)


@blp.route("/people/<person>/merge", methods=["POST"])
@require("write")
@blp.arguments(MergeIn)
@blp.response(201, Merge)
def merge_person(data, person):
    """Record that ``person`` is the person ``into`` (two records of one person, from two sources
    say): answers then show one person with both histories. Undone by retracting the merge."""
    return recorded(services().app.merge_people(person, data["into"], data.get("reason"), g.writer))


@blp.route("/people/<person>/merge/retract", methods=["POST"])
@require("write")
@blp.arguments(MergeRetractIn)
@blp.response(201, Merge)
def retract_merge(data, person):
    """The merge of ``person`` no longer counts: two people again, each with their own history."""
    return recorded(services().app.retract_merge(person, data["reason"], g.writer))


@blp.route("/people/<person>/history")
@blp.reads(PersonHistory, HistoryArgs)
def person_history(args, person):
    """Every seat and role a person held, in every organization."""
    with read_as_asked(args) as c:
        found = person_or_404(c, person)
        return {**found, "known_at": args["known_at"], "history": queries.person_history(c, person, args["known_at"])}
