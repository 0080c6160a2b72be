"""The Flask app factory."""

from __future__ import annotations

import logging
import os
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify, send_from_directory

# flask-smorest and swagger-ui-bundle publish no type information (no py.typed, no stubs)
from flask_smorest import Api  # type: ignore[import-untyped]
from flask_smorest.utils import prepare_response  # type: ignore[import-untyped]
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from events.settings import Settings
from workers.logs import configure_logging

from . import edge, openapi, problems
from .api import RESOURCES, asof, events, imports, ops, orgs, people, streams, subscriptions
from .bootstrap import Services, bootstrap
from .schemas import ProblemSchema

# One blueprint per resource (``api.RESOURCES``), each in its module under ``service/api/``.
BLUEPRINTS = (orgs.blp, people.blp, events.blp, asof.blp, imports.blp, streams.blp, subscriptions.blp, ops.blp)


class OrghistoryApi(Api):
    """flask-smorest's Api, documenting errors as they are answered: problem+json."""

    def _register_responses(self) -> None:
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = ProblemSchema
            prepare_response(response, self.spec, "application/problem+json")
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error, as RFC 9457 problem details naming the field", "schema": ProblemSchema}
        prepare_response(response, self.spec, "application/problem+json")
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    configure_logging()
    app = Flask(__name__, static_folder=None)
    app.config.update(
        API_TITLE="orghistory",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    edge.register(app)
    api = OrghistoryApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}})
    openapi.register(api.spec)  # the fact vocabulary's schemas, which the append route refers to
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    # /docs groups routes by resource (each route's tag, ``api.RESOURCES``), not by the blueprint
    # that holds them: drop the tags flask-smorest gave the blueprints (apispec has no public way)
    api.spec._tags[:] = []
    for tag, description, _ in RESOURCES:
        api.spec.tag({"name": tag, "description": description})
    problems.register(app)  # after Api: our problem+json handlers replace flask-smorest's
    app.extensions["orghistory"] = services or bootstrap(settings)

    @app.get("/healthz")
    def healthz() -> Response:
        s: Services = app.extensions["orghistory"]
        head = s.app.head_position()
        position = s.projected_position()
        return jsonify(status="ok", store="postgresql" if s.settings.is_postgres else "sqlite",
                       dispatch=s.dispatcher.mode, head=head, projected=position, lag=head - position)

    @app.get("/livez")
    def livez() -> Response:
        """The process answers (it touches no store): for liveness probes, and the load bench's baseline."""
        return jsonify(status="ok")

    static = os.path.join(os.path.dirname(__file__), "static")

    @app.get("/")
    def index() -> Response:
        return send_from_directory(static, "index.html")

    @app.get("/docs")
    def docs() -> Response:
        """Interactive API documentation: Swagger UI from the installed ``swagger-ui-bundle-v2``
        package, started by a script of ours (the CSP forbids inline scripts)."""
        resp = send_from_directory(static, "docs.html")
        # Swagger UI draws some icons from data: URLs in its stylesheet
        resp.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        return resp

    @app.get("/docs/assets/<any('swagger-ui.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js'):name>")
    def docs_asset(name: str) -> Response:
        return send_from_directory(str(swagger_ui_path), name)

    @app.get("/favicon.ico")
    def favicon() -> tuple[str, int]:
        return "", 204  # no icon, and no 404 in every browser's console

    @app.get("/static/<path:name>")
    def static_file(name: str) -> Response:
        return send_from_directory(static, name)

    logging.getLogger("orghistory").debug("app created")
    return app
