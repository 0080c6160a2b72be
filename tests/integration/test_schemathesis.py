"""Hostile input, generated: schemathesis sends what /openapi.json describes, and what it does not
(wrong types, missing and extra fields, odd strings), to every operation, with a write token, on
SQLite and on PostgreSQL. No answer may be a 5xx, and no answer may break its own schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from events.seed import load_seed

from ..conftest import ADMIN

EXAMPLES = 10  # per operation and store: bounded, so the suite stays within its time


@pytest.fixture(params=["sqlite", "postgres"])
def api_app(request):
    from service.app import create_app

    from ..conftest import close_stores, stores_for

    close_stores()
    store = request.getfixturevalue("sqlite_settings" if request.param == "sqlite" else "pg_settings")
    app_ = stores_for(store).app
    load_seed(app_)  # real organizations, units and people to aim at
    flask_app = create_app(store)
    yield flask_app
    flask_app.extensions["orghistory"].wakeup.close()
    flask_app.extensions["orghistory"].dispatcher.stop()
    close_stores()


@pytest.fixture
def api_schema(api_app):
    return schemathesis.openapi.from_wsgi("/openapi.json", api_app)


SKIP = {"/v1/streams/all/live"}  # an endless stream: it answers, then never ends (tested in test_streams)


def _describe(e: BaseException) -> str:
    """The failures schemathesis found, each with the request that reproduces it."""
    parts = [str(e)]
    for sub in getattr(e, "exceptions", ()):
        parts.append(str(sub))
    text = "\n".join(parts)
    curl = [line.strip() for line in text.splitlines() if line.strip().startswith("curl ")]
    kinds = [line.strip() for line in text.splitlines() if line.strip().startswith("- ")]
    return "; ".join(kinds[:4]) + (f" | {curl[0]}" if curl else "") + f" | {text[:600]}"


def test_no_input_breaks_the_api(api_schema):
    """Each operation in turn, with valid (positive) and invalid (negative) data. The operations
    are driven here rather than through schemathesis' pytest plugin, whose lazy fixtures reach
    into pytest internals that pytest 9.2 removed."""
    from schemathesis import GenerationMode

    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIP:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN}"},
                                       checks=[not_a_server_error, response_schema_conformance])

            try:
                check()
            except Unsatisfiable:
                pass  # nothing in this operation can be made invalid (a GET with no parameters, say)
            except (Exception, BaseExceptionGroup) as e:  # all of them: one run shows every operation that breaks
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {_describe(e)}")
    assert not failures, "\n\n".join(failures)
