"""The answers /openapi.json documents are the answers the service gives: real answers on the seed
history, for every documented read, validated against the document's own schemas."""

from __future__ import annotations

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ..seedload import post_seed

URLS = [
    "/v1/orgs", "/v1/orgs/openai", "/v1/orgs/openai/units", "/v1/people?limit=5", "/v1/people/ilya-sutskever",
    "/v1/people/ilya-sutskever/history", "/v1/orgs/openai/events?limit=20", "/v1/streams/all?limit=20",
    "/v1/orgs/openai/board?as_of=2024-03-10", "/v1/orgs/openai/roles?as_of=2023-11-20",
    "/v1/orgs/openai/units/superalignment/members?as_of=2024-04-01",
    "/v1/orgs/openai/changes?from=2023-01-01&to=2025-01-01", "/v1/orgs/openai/timeline",
    "/v1/orgs/openai/units/board/members/adam-dangelo/why?as_of=2023-11-18",
    "/v1/orgs/openai/roles/sam-altman/why?as_of=2023-11-18",
    "/v1/ops/projections", "/v1/ops/projections/history/versions", "/v1/ops/parked", "/v1/subscriptions",
    "/v1/orgs/openai/popolo",
]


def test_every_documented_read_answers_as_documented(inprocess_service):
    client = inprocess_service
    position = post_seed(client)
    document = client.ok(client.get("/openapi.json"), 200)
    registry = Registry().with_resource("urn:orghistory", Resource.from_contents(document, default_specification=DRAFT202012))
    templates = {path.replace("{", "<").replace("}", ">"): ops for path, ops in document["paths"].items()}
    checked = 0
    for url in URLS:
        path, _, query = url.partition("?")
        params = dict(p.split("=") for p in query.split("&")) if query else {}
        if "as_of" in params or "from" in params or path.endswith(("timeline", "history")):
            params["min_position"] = position
        answer = client.ok(client.get(path, **params), 200)
        operation = next(ops["get"] for template, ops in templates.items() if _matches(template, path))
        _check(answer, operation["responses"]["200"]["content"]["application/json"]["schema"], registry)
        checked += 1
    assert checked == len(URLS)
    job = client.post("/v1/ops/projections/history/rebuild")  # an operator's rebuild: a job, then its state
    assert job.status_code == 202, job.text
    _validate(document, registry, "/v1/ops/projections/<name>/rebuild", "post", "202", job.json())
    _validate(document, registry, "/v1/ops/jobs/<job_id>", "get", "200",
              client.ok(client.get(f"/v1/ops/jobs/{job.json()['id']}"), 200))


def _validate(document: dict, registry: Registry, template: str, method: str, status: str, answer) -> None:
    path = template.replace("<", "{").replace(">", "}")
    schema = document["paths"]["/v1" + path.removeprefix("/v1")][method]["responses"][status]["content"][
        "application/json"]["schema"]
    _check(answer, schema, registry)


def _check(answer, schema: dict, registry: Registry) -> None:
    if "$ref" in schema:  # a component: resolved inside the document
        schema = {"$ref": schema["$ref"].replace("#", "urn:orghistory#")}
    jsonschema.validate(answer, schema, cls=jsonschema.Draft202012Validator, registry=registry)


def _matches(template: str, path: str) -> bool:
    a, b = template.strip("/").split("/"), path.strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("<") for x, y in zip(a, b, strict=True))


def test_every_operation_has_a_summary_a_resource_and_a_documented_answer(inprocess_service):
    document = inprocess_service.ok(inprocess_service.get("/openapi.json"), 200)
    lacking = []
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            ok = {status: r for status, r in op["responses"].items() if status.startswith("2")}
            described = all(status == "204" or r.get("content") for status, r in ok.items())
            if not (op.get("summary") and op.get("tags") and ok and described):
                lacking.append(f"{method.upper()} {path}")
    assert lacking == []
