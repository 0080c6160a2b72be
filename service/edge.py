"""What every request meets before a route: size and nesting limits, one way to read a JSON body,
and the security headers on every answer.

Limits are settings (``ORGHISTORY_MAX_BODY_BYTES``, ``ORGHISTORY_MAX_IMPORT_BYTES``,
``ORGHISTORY_MAX_JSON_DEPTH``); a body over its limit is refused with 413 before it is read, one
nested deeper than the limit with 422 naming where, so no input can exhaust memory or the stack.
"""

from __future__ import annotations

import json
import os
from typing import Any, TypeVar

import orjson
from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.sansio.response import Response as BaseResponse

from events.errors import InvalidFact

from .problems import Problem

MAX_BODY = int(os.environ.get("ORGHISTORY_MAX_BODY_BYTES") or 5_000_000)
MAX_IMPORT_BODY = int(os.environ.get("ORGHISTORY_MAX_IMPORT_BYTES") or 200_000_000)
MAX_DEPTH = int(os.environ.get("ORGHISTORY_MAX_JSON_DEPTH") or 32)
IMPORT_ROUTES = ("/popolo", "/ftm")


class TooDeep(Exception):  # not a ValueError: Flask would take that for malformed JSON (a 400)
    def __init__(self, path: str):
        super().__init__(f"the JSON nests deeper than {MAX_DEPTH} levels")
        self.path = path


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raise ``TooDeep`` with the path where ``value`` nests deeper than ``limit`` (iteratively:
    the check itself must not recurse)."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict):
            items = [(v, f"{path}.{k}" if path else str(k)) for k, v in node.items()]
        elif isinstance(node, list):
            items = [(v, f"{path}[{i}]") for i, v in enumerate(node)]
        else:
            continue
        if depth > limit:
            raise TooDeep(path or "body")
        stack += [(v, depth + 1, p) for v, p in items if isinstance(v, (dict, list))]


class BoundedJSON(DefaultJSONProvider):
    """Request bodies parsed with a bound on nesting: Python's parser recurses, so a body of ten
    thousand brackets would otherwise end in a RecursionError (a 500). Answers written by orjson."""

    # What orjson writes itself only where ``json`` writes the same: dates, dataclasses and
    # subclasses of str, int, dict and list go to Flask's own ``default``, as with ``json``.
    _OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS

    def response(self, *args: Any, **kwargs: Any) -> BaseResponse:
        """An answer as JSON, written by orjson: a 5,000-event timeline answer took 9.5 ms with
        Flask's provider and takes 0.55. Non-ASCII text is written as UTF-8 rather than escaped
        (the same JSON). What orjson refuses (an integer past 64 bits, a lone surrogate) Flask's
        own provider writes."""
        obj = self._prepare_response_obj(args, kwargs)
        indent = (self.compact is None and self._app.debug) or self.compact is False
        try:
            body = orjson.dumps(obj, default=self.default,
                                option=self._OPTIONS | orjson.OPT_APPEND_NEWLINE | (orjson.OPT_INDENT_2 if indent else 0))
        except TypeError:  # orjson.JSONEncodeError
            return super().response(*args, **kwargs)
        return Response(body, mimetype=self.mimetype)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise TooDeep("body") from None
        check_depth(value)
        return value


class BoundedParser(FlaskParser):
    """flask-smorest's argument parser, reading JSON bodies with the same bound on nesting."""

    def _raw_load_json(self, req) -> Any:
        if not is_json_request(req):
            if req.get_data(cache=True).strip():
                raise _not_json()
            return core.missing
        raw = req.get_data(cache=True)
        try:
            value = core.parse_json(raw)
        except RecursionError:
            raise InvalidFact(f"the JSON nests deeper than {MAX_DEPTH} levels", "body") from None
        try:
            check_depth(value)
        except TooDeep as e:
            raise InvalidFact(str(e), e.path) from None
        return value


def _not_json() -> Problem:
    return Problem(415, "Unsupported Media Type", "send the body as application/json", "Content-Type")


JSONShape = TypeVar("JSONShape", dict[str, Any], list[Any])


def json_body(expected: type[JSONShape], what: str) -> JSONShape:
    """The request's JSON body: 400 naming ``body`` if it is not JSON, 422 if it is JSON of another
    shape than ``expected`` (a ``dict`` or a ``list``)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise Problem(400, "Malformed JSON", "the request body is empty; it must be JSON", "body")
    if not request.is_json:
        raise _not_json()
    try:
        value = request.get_json(force=True, silent=False)
    except TooDeep as e:
        raise InvalidFact(str(e), e.path) from None
    except Exception:
        raise Problem(400, "Malformed JSON", "the request body is not valid JSON", "body") from None
    if not isinstance(value, expected):
        raise InvalidFact(f"the request body must be {what}", "body")
    return value


def register(app: Flask) -> None:
    app.json = BoundedJSON(app)
    app.json.sort_keys = False

    @app.before_request
    def _limits() -> None:
        big = request.method == "POST" and request.path.endswith(IMPORT_ROUTES)
        request.max_content_length = MAX_IMPORT_BODY if big else MAX_BODY

    @app.after_request
    def _headers(resp: Response) -> Response:
        h = resp.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith("/v1/") and "Cache-Control" not in h:
            h["Cache-Control"] = "no-store"  # answers change with every append; never cache them
        if resp.mimetype == "text/html":
            h.setdefault("Content-Security-Policy",
                         "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                         "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        return resp
