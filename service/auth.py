"""Bearer-token checks for routes: writes need ``write``, operator routes ``operate``; reads are
open unless ORGHISTORY_READ_TOKEN_REQUIRED is set."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from flask import current_app, g, request

from projections import tokens

from .problems import Problem

if TYPE_CHECKING:
    from .bootstrap import Services

P = ParamSpec("P")
R = TypeVar("R")


def services() -> Services:
    """The app's services (``create_app`` puts them in its extensions)."""
    found: Services = current_app.extensions["orghistory"]
    return found


def _authenticate() -> tuple[str, set[str]] | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Unauthorized", "use 'Authorization: Bearer <token>'", "Authorization",
                      )
    found = tokens.verify(services().db, token.strip(), services().settings.admin_token)
    if found is None:
        raise Problem(401, "Unauthorized", "unknown or revoked token", "Authorization")
    return found


def require(scope: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            needed = scope != "read" or services().settings.read_token_required
            who = _authenticate()
            if who is None and needed:
                raise Problem(401, "Unauthorized", f"this route needs a bearer token with scope {scope!r}",
                              "Authorization")
            if who is not None and needed and scope not in who[1]:
                raise Problem(403, "Forbidden", f"the token lacks scope {scope!r}", "Authorization")
            g.writer = who[0] if who else None
            return view(*args, **kwargs)

        return wrapper

    return decorate
