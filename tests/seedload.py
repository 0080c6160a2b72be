"""Load the bundled seed history through the HTTP API, as a writer would."""

from __future__ import annotations

from events.seed import seed_document


def post_seed(client) -> int:
    """Returns the highest position appended, for ``min_position``."""
    doc = seed_document()
    top = 0
    for p in doc["people"]:
        client.ok(client.post("/v1/people", {"slug": p["slug"], "name": p["name"]}))
    for org in doc["orgs"]:
        client.ok(client.post("/v1/orgs", {"slug": org["slug"], "name": org["name"]}))
        answer = client.ok(client.post(f"/v1/orgs/{org['slug']}/events", {"events": org["events"]},
                                       headers={"Idempotency-Key": "seed"}))
        top = max(top, max(e["position"] for e in answer["events"]))
    return top
