"""HTTP routes by resource, one blueprint module each (``service.app`` registers them), and what
their views share: the Blueprint class with the decorator stacks views repeat, the resource tags,
and the small request helpers (read-your-writes, the Idempotency-Key header, the ``type`` filter)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import flask_smorest  # type: ignore[import-untyped]  # it publishes no type information
from flask import g, request

from events import registry
from events.errors import InvalidFact, NotFound
from projections import answers, queries
from projections.db import Conn

from ..auth import require, services
from ..edge import BoundedParser
from ..problems import Problem
from ..schemas import Registered

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
Written = TypeVar("Written", bound=Mapping[str, Any])  # a write's answer, with the position it was written at

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

    def arguments(self, schema, **kwargs):
        # webargs builds a new schema from a class for every request (a tenth of a small as-of
        # answer's time); one instance serves every request, as the response schemas do.
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)

    def query(self, schema: type) -> Decorator:
        """The view's query arguments, read through ``schema``; an unknown one is refused (422)."""
        return self.arguments(schema, location="query", unknown="raise")

    def reads(self, schema: type, query: type | None = None, scope: str = "read") -> Decorator:
        """The stack of a view that reads: the token ``scope`` it needs, its ``query`` arguments (if
        it takes any) and its 200 answer's ``schema``."""
        return _stacked(require(scope), *([self.query(query)] if query else []), self.response(200, schema))

    def registers(self, body: type) -> Decorator:
        """The stack of a view that registers something by slug and name from a ``body``: 201 with
        the ``Registered`` answer, or 200 when it already was, with the same name."""
        return _stacked(require("write"), self.arguments(body), self.response(201, Registered),
                        self.alt_response(200, schema=Registered, description="already registered, with the same name"))


def _stacked(*decorators: Decorator) -> Decorator:
    """The ``decorators`` applied as if written one above the other, the first outermost."""
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        for outer in reversed(decorators):
            view = outer(view)
        return view

    return decorate


def org_or_404(conn: Conn, org: str) -> answers.Listed:
    """The organization as the read side has it, or a 404 naming the ``org`` field."""
    found = queries.get_org(conn, org)
    if found is None:
        raise NotFound(f"no organization {org!r}", "org")
    return found


def wait_for_min_position(args: Mapping[str, Any]) -> int:
    """Read-your-writes: wait (bounded) for ``min_position``; answer 503 if it is not reached."""
    wanted = args.get("min_position")
    if not wanted:
        return 0
    head = services().app.head_position()
    if wanted > head:
        # Nothing to wait for: no append has reached it (a thread held for nothing is a cheap attack).
        raise InvalidFact(f"is beyond the head of the log ({head})", "min_position")
    if not services().wait_for(wanted):
        raise Problem(503, "Projection behind", f"the projection has not reached position {wanted} yet; retry",
                      "min_position")
    return wanted


@contextmanager
def read_as_asked(args: Mapping[str, Any], org: str | None = None) -> Iterator[Conn]:
    """The read side as a query asks for it: once it has reached ``min_position`` (read-your-writes),
    in the projection ``version`` asked for (the live one by default), and, given an ``org``, with
    that organization in it (or a 404 naming the ``org`` field)."""
    wait_for_min_position(args)
    with services().read(args.get("version")) as conn:
        if org is not None:
            org_or_404(conn, org)
        yield conn


def recorded(answer: Written) -> Written:
    """After a write that answered with its ``position``: fold it (or enqueue the fold) and wake
    live readers; then the answer."""
    services().appended(answer["position"])
    return answer


def registered(register: Callable[[str, str, str | None], tuple[registry.Registered, bool]],
               data: Mapping[str, str]) -> tuple[registry.Registered, int]:
    """Register the body's slug and name with ``register`` (``register_org``, ``register_person``),
    written by the token's writer: 201 when it registered now, 200 when it already was (same name)."""
    answer, created = register(data["slug"], data["name"], g.writer)
    return recorded(answer), 201 if created else 200


def idempotency_key() -> str | None:
    """The ``Idempotency-Key`` header: 1 to 200 printable ASCII characters, or None."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 200 and key.isascii() and key.isprintable()):
        raise InvalidFact("must be 1 to 200 printable ASCII characters", "Idempotency-Key")
    return key


def stream_types(args: dict) -> set[str] | None:
    """The ``type`` filter of a log or stream query, or None for every type."""
    return set(args["type"]) if args.get("type") else None


def top_position(answer: dict) -> int:
    """The highest position an append answered with."""
    return max(e["position"] for e in answer["events"])

