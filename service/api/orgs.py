"""Organizations and their units."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from events.vocabulary import UNIT_FORMED
from projections import queries

from ..auth import require, services
from ..schemas import AppendOut, Org, OrgIn, OrgList, UnitIn, UnitList
from . import Blueprint, idempotency_key, org_or_404, registered, top_position

blp = Blueprint("orgs", __name__, url_prefix="/v1", description="Organizations and their units")


@blp.route("/orgs")
class Orgs(MethodView):
    @blp.reads(OrgList)
    def get(self):
        """Every organization: slug, name and when it was recorded."""
        with services().read() as c:
            return {"orgs": queries.list_orgs(c)}

    @blp.registers(OrgIn)
    def post(self, data):
        """Register an organization (the same slug and name again is a no-op)."""
        return registered(services().app.register_org, data)


@blp.route("/orgs/<org>")
@blp.reads(Org)
def get_org(org):
    """One organization."""
    with services().read() as c:
        return org_or_404(c, org)


@blp.route("/orgs/<org>/units")
class Units(MethodView):
    @blp.reads(UnitList)
    def get(self, org):
        """The organization's units (board, teams, committees), formed and dissolved when."""
        with services().read() as c:
            org_or_404(c, org)
            return {"org": org, "units": queries.list_units(c, org)}

    @require("write")
    @blp.arguments(UnitIn)
    @blp.response(201, AppendOut)
    def post(self, data, org):
        """Form a unit (a unit_formed fact)."""
        fact = {"type": UNIT_FORMED.name, "unit": data.pop("slug"), **data}
        answer = services().app.append(org, [fact], writer=g.writer, path="", idempotency_key=idempotency_key())
        services().appended(top_position(answer))
        return answer
