"""HTTP routes by resource, one blueprint each (the rest still lives in ``service/routes.py``)."""

from __future__ import annotations

import re

import flask_smorest

from events.errors import NotFound
from projections import queries
from projections.db import Conn

from ..edge import BoundedParser

# The API's resources, as /docs groups its routes: (tag, what it is, the routes it has).
RESOURCES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("as of", "Who was where on a date, as known now or at a record time, and why",
     re.compile(r"^/orgs/<org>/(board|roles|changes|timeline|units/<unit>/members)")),
    ("events", "Appending facts to an organization's log, and reading it back",
     re.compile(r"^/orgs/<org>/events")),
    ("imports", "Datasets kept in sync: Popolo and FollowTheMoney imports and exports",
     re.compile(r"^/orgs/<org>/(imports|popolo|ftm)")),
    ("organizations", "Organizations and their units", re.compile(r"^/orgs")),
    ("people", "People, their names, merges and histories", re.compile(r"^/people")),
    ("streams", "The whole log, paged or live (server-sent events)", re.compile(r"^/streams")),
    ("subscriptions", "Webhooks: the log delivered to a URL", re.compile(r"^/subscriptions")),
    ("operations", "Projections, rebuilds, replays, jobs and parked events", re.compile(r"^/ops")),
)


def resource_of(rule: str) -> str:
    return next(tag for tag, _, pattern in RESOURCES if pattern.match(rule))


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, parsing arguments with the bound on JSON nesting (``edge``), each
    route tagged with its resource (``RESOURCES``) unless it names its own."""

    ARGUMENTS_PARSER = BoundedParser()

    def route(self, rule, *, parameters=None, tags=None, **options):
        return super().route(rule, parameters=parameters, tags=tags or [resource_of(rule)], **options)


def org_or_404(conn: Conn, org: str) -> dict:
    """The organization as the read side has it, or a 404 naming the ``org`` field."""
    found = queries.get_org(conn, org)
    if found is None:
        raise NotFound(f"no organization {org!r}", "org")
    return found
