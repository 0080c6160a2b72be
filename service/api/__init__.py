"""HTTP routes by resource, one blueprint each (the rest still lives in ``service/routes.py``)."""

from __future__ import annotations

import flask_smorest

from events.errors import NotFound
from projections import queries
from projections.db import Conn

from ..edge import BoundedParser


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, parsing arguments with the bound on JSON nesting (``edge``)."""

    ARGUMENTS_PARSER = BoundedParser()


def org_or_404(conn: Conn, org: str) -> dict:
    """The organization as the read side has it, or a 404 naming the ``org`` field."""
    found = queries.get_org(conn, org)
    if found is None:
        raise NotFound(f"no organization {org!r}", "org")
    return found
