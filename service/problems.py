"""RFC 9457 problem details for every error, each naming the failing field where there is one."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from typing import Any, TypedDict

import psycopg
from eventsourcing.persistence import ConnectionUnavailableError, InterfaceError, OperationalError
from flask import Flask, Response, json
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException

from events.errors import (
    AlreadyExists,
    DomainError,
    IdempotencyKeyReused,
    InvalidFact,
    NotFound,
    Unavailable,
    UnknownReference,
    VersionConflict,
)
from projections.db import NoSuchVersion

log = logging.getLogger("orghistory.http")

STATUS = {
    InvalidFact: 422,
    UnknownReference: 422,
    IdempotencyKeyReused: 422,
    NotFound: 404,
    AlreadyExists: 409,
    VersionConflict: 409,
    Unavailable: 501,
}


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str | None = None, field: str | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.field, self.extra = status, title, detail, field, extra


def problem_response(status: int, title: str, detail: str | None = None, field: str | None = None,
                     headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if field:
        body["field"] = field
    body.update(extra)
    resp = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


class FieldMessage(TypedDict):
    """One entry of a problem's ``errors``: the failing field (None: the request as a whole) and why."""

    field: str | None
    message: str


def _flatten(messages: Any, prefix: str = "") -> list[FieldMessage]:
    """webargs/marshmallow errors -> [{"field", "message"}], field paths like ``events[0].type``."""
    out: list[FieldMessage] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if prefix == "" and key in ("json", "query", "headers", "form", "files", "view_args"):
                out += _flatten(value, "")
                continue
            name = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
            out += _flatten(value, name)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out.append({"field": prefix or None, "message": " ".join(messages)})
    elif isinstance(messages, list):
        for m in messages:
            out += _flatten(m, prefix)
    else:
        out.append({"field": prefix or None, "message": str(messages)})
    return out


# The store went away or is locked for a moment (either store, either driver): 503, retry.
STORE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, psycopg.OperationalError,
                                             psycopg.InterfaceError, PoolTimeout, sqlite3.OperationalError)


def register(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(e: Problem) -> Response:
        return problem_response(e.status, e.title, e.detail, e.field, **e.extra)

    @app.errorhandler(DomainError)
    def _domain(e: DomainError) -> Response:
        status = next((s for cls, s in STATUS.items() if isinstance(e, cls)), 422)
        if isinstance(e, VersionConflict):
            return problem_response(status, type(e).__name__, e.message, e.field,
                                    expected_version=e.expected, actual_version=e.actual)
        return problem_response(status, type(e).__name__, e.message, e.field)

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Response:
        data = getattr(e, "data", None) or {}
        exc = getattr(e, "exc", None)  # webargs' ValidationError, on the 422s it raises
        messages = data.get("messages") or exc and getattr(exc, "messages", None)
        if messages:
            errors = _flatten(messages)
            detail, field = (errors[0]["message"], errors[0]["field"]) if errors else (e.description, None)
            return problem_response(e.code or 422, "Invalid request", detail, field, errors=errors)
        title = e.name
        detail = e.description
        field = None
        if e.code == 400 and "json" in (e.description or "").lower():  # only a body that is not JSON
            title, detail, field = "Malformed JSON", "the request body is not valid JSON", "body"
        return problem_response(e.code or 500, title, detail, field, headers=dict(getattr(e, "headers", {}) or {}))

    @app.errorhandler(NoSuchVersion)
    def _no_version(e: NoSuchVersion) -> Response:
        return problem_response(404, "Not Found", str(e), "version")

    @app.errorhandler(ConnectionUnavailableError)
    def _busy(e: Exception) -> Response:
        log.warning("store busy: %s", e)
        return problem_response(503, "Service busy", "the store is busy; retry shortly", None,
                                headers={"Retry-After": "1"})

    def _store_unavailable(e: Exception) -> Response:
        # The database went away (a restart, a failover) or is locked for a moment: nothing was
        # stored by this request (each write is one transaction), so the client can safely retry.
        log.warning("store unavailable: %s: %s", type(e).__name__, e)
        return problem_response(503, "Store unavailable", "the store cannot be reached just now; retry shortly",
                                None, headers={"Retry-After": "1"})

    for error in STORE_ERRORS:
        app.register_error_handler(error, _store_unavailable)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> Response:
        log.exception("unhandled error")
        return problem_response(500, "Internal Server Error", "the error was logged")
