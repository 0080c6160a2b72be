"""The service's seams: how errors become problem+json, and the command line's entry points."""

from __future__ import annotations

import subprocess
import sys

import pytest
from werkzeug.exceptions import BadRequest, NotFound, UnsupportedMediaType

from service.app import create_app
from workers.runtime import forget


@pytest.fixture
def app(sqlite_settings):
    app = create_app(sqlite_settings)
    yield app
    app.extensions["orghistory"].wakeup.close()
    app.extensions["orghistory"].dispatcher.stop()
    forget()


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
