"""The service's seams: how errors become problem+json, and the command line's entry points."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.exceptions import BadRequest, NotFound, UnsupportedMediaType

from service.app import create_app

from ..conftest import close_stores


@pytest.fixture
def app(sqlite_settings):
    app = create_app(sqlite_settings)
    yield app
    app.extensions["orghistory"].wakeup.close()
    app.extensions["orghistory"].dispatcher.stop()
    close_stores()


@pytest.mark.parametrize("error", [
    NotFound("no such json document"),  # "json" in the text of an error that is not about the body
    UnsupportedMediaType("the request Content-Type was not 'application/json'"),
])
def test_only_a_400_about_json_is_called_malformed_json(app, error):
    def boom():
        raise error

    app.add_url_rule("/boom", "boom", boom)
    resp = app.test_client().get("/boom")
    assert resp.status_code == error.code
    assert resp.mimetype == "application/problem+json"
    assert resp.json["title"] == error.name
    assert resp.json["detail"] == error.description
    assert "field" not in resp.json


def test_a_400_about_json_is_malformed_json_naming_the_body(app):
    def boom():
        raise BadRequest("Failed to decode JSON object")

    app.add_url_rule("/boom", "boom", boom)
    resp = app.test_client().get("/boom")
    assert resp.status_code == 400
    assert (resp.json["title"], resp.json["field"]) == ("Malformed JSON", "body")


@pytest.mark.parametrize("command", ["rebuild", "replay", "versions", "serve", "tokens"])
def test_python_dash_m_service_cli_knows_every_command(command):
    """``python -m service.cli`` is the same command line as ``orghistory``, every command included
    (those defined below the ``__main__`` block were unknown to it)."""
    done = subprocess.run([sys.executable, "-m", "service.cli", command, "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout


def test_every_json_answer_is_a_declared_schema(app):
    """Each view declares its answer (``@blp.response(status, Schema)``): every JSON 2xx answer in
    /openapi.json is a component, so what is documented is what is rendered."""
    document = app.test_client().get("/openapi.json").json
    undeclared = []
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            for status, r in op.get("responses", {}).items():
                schema = r.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema is not None and "$ref" not in schema:
                    undeclared.append(f"{method.upper()} {path} {status}")
    assert undeclared == []


def test_views_are_thin():
    """Routes parse, call and render: no view over 25 lines, no import inside a function."""
    api = Path(__file__).resolve().parents[2] / "service" / "api"
    long, inner = [], []
    for module in sorted(api.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 25:
                long.append(f"{module.name}:{node.name}")
            if isinstance(node, (ast.Import, ast.ImportFrom)) and node.col_offset > 0:
                inner.append(f"{module.name}:{node.lineno}")
    assert (long, inner) == ([], [])
