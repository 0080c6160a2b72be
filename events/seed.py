"""The seed history (the OpenAI board crisis of 2023 and the safety-team departures of 2024).

Loading is idempotent: each organization's facts are appended under the Idempotency-Key
``seed``, so a second load stores nothing new and a changed seed file is refused, not doubled.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from .application import OrgHistory
from .errors import IdempotencyKeyReused
from .jsontypes import JSONObject


def seed_document(path: str | Path | None = None) -> JSONObject:
    source = Path(path) if path is not None else resources.files("events").joinpath("seed/openai.json")
    document: JSONObject = json.loads(source.read_text(encoding="utf-8"))
    return document


def load_seed(app: OrgHistory, path: str | Path | None = None, writer: str = "seed") -> dict[str, Any]:
    """Returns ``{"people": n_new, "orgs": {slug: {"appended": n, "replayed": bool}}}``."""
    doc = seed_document(path)
    new_people = sum(app.register_person(p["slug"], p["name"], writer)[1] for p in doc["people"])
    report: dict[str, Any] = {"people": new_people, "orgs": {}}
    for org in doc["orgs"]:
        app.register_org(org["slug"], org["name"], writer)
        try:
            answer = app.append(org["slug"], org["events"], writer=writer, idempotency_key="seed",
                                path=f"orgs[{org['slug']}].events")
        except IdempotencyKeyReused:
            report["orgs"][org["slug"]] = {"appended": 0, "replayed": True, "note": "seeded from another version"}
            continue
        report["orgs"][org["slug"]] = {"appended": 0 if answer.get("replayed") else len(answer["events"]),
                                       "replayed": bool(answer.get("replayed"))}
    return report
