"""Poison events: an event whose fold raises is parked with its error and position; the
projection goes on; operators list, retry or skip it (command line and HTTP)."""

from __future__ import annotations

import json
import subprocess

from eventsourcing.persistence import StoredEvent

from events.domain import org_id
from events.seed import load_seed
from events.settings import Settings
from projections import queries
from projections.projector import Projector
from workers.catchup import catch_up, parked, retry_parked
from workers.status import status

from ..conftest import ADMIN, BIN, close_stores, service_env, stores_for


def _insert_corrupt_fact(app) -> int:
    """A member_joined with an impossible date, as a buggy importer of old might have stored it."""
    org = app.get_org("openai")
    template = next(n for n in app.recorder.select_notifications(start=1, limit=1000)
                    if n.topic.endswith("MemberJoined"))
    state = json.loads(template.state)
    state["effective"] = "2024-02-30"
    app.recorder.insert_events([StoredEvent(originator_id=org_id("openai"), originator_version=org.version + 1,
                                            topic=template.topic, state=json.dumps(state).encode())])
    return app.head_position()


def test_a_poison_event_is_parked_and_the_projection_goes_on(tmp_path):
    settings = Settings(data_dir=tmp_path / "d", admin_token=ADMIN)
    close_stores()
    app, db = stores_for(settings).app, stores_for(settings).db
    load_seed(app)
    catch_up(stores_for(settings))
    bad = _insert_corrupt_fact(app)
    after = app.append("openai", [{"type": "noted", "title": "after the bad one", "effective": "2024-06-01"}])
    catch_up(stores_for(settings))

    [row] = parked(stores_for(settings))
    assert row["position"] == bad and "2024-02-30" in row["error"] and row["type"] == "MemberJoined"
    info = status(stores_for(settings))["projections"]["history"]
    assert info["parked"] == 1 and info["position"] == after["events"][0]["position"] and info["lag_events"] == 0
    with db.read() as c:
        assert any(f["title"] == "after the bad one" for f in queries.timeline(c, "openai", None) if f["type"] == "noted")

    env = service_env(settings, None)
    run = lambda *a: subprocess.run([str(BIN / "orghistory"), *a], env=env, capture_output=True, text=True)
    assert run("verify").returncode == 0  # parked events are left out of the fresh fold too
    listed = json.loads(run("parked").stdout)
    assert [r["position"] for r in listed] == [bad]
    again = run("parked", "retry", str(bad))
    assert again.returncode == 1 and json.loads(again.stdout)["attempts"] == 2  # still broken: still parked
    skipped = run("parked", "skip", str(bad))
    assert skipped.returncode == 0 and json.loads(skipped.stdout)["resolution"] == "skipped"
    close_stores()
    assert parked(stores_for(settings)) == [] and status(stores_for(settings))["projections"]["history"]["parked"] == 0
    assert run("parked", "skip", str(bad)).returncode == 2


def test_retry_after_a_fix(tmp_path, monkeypatch):
    settings = Settings(data_dir=tmp_path / "d", admin_token=ADMIN)
    close_stores()
    app, db = stores_for(settings).app, stores_for(settings).db
    app.register_org("acme", "Acme")
    catch_up(stores_for(settings))
    original = Projector._apply_one

    def buggy(self, e, recorded):
        if e.type == "noted" and e.fields["title"] == "boom":
            raise KeyError("a bug in the fold")
        return original(self, e, recorded)

    monkeypatch.setattr(Projector, "_apply_one", buggy)
    boom = app.append("acme", [{"type": "noted", "title": "boom", "effective": "2020"}])
    app.append("acme", [{"type": "noted", "title": "fine", "effective": "2021"}])
    catch_up(stores_for(settings))
    position = boom["events"][0]["position"]
    assert [r["position"] for r in parked(stores_for(settings))] == [position]
    monkeypatch.setattr(Projector, "_apply_one", original)  # the fix is deployed
    row = retry_parked(stores_for(settings), position)
    assert row["resolution"] == "retried" and row["resolved_at"]
    with db.read() as c:
        titles = {f["title"] for f in queries.timeline(c, "acme", None)}
    assert titles == {"boom", "fine"}


def test_parked_events_over_http(inprocess_service):
    client = inprocess_service
    assert client.get("/v1/ops/parked", auth=False).status_code == 401
    auth = {"Authorization": f"Bearer {ADMIN}"}
    assert client.s.get(client.base + "/v1/ops/parked", headers=auth).json() == {"parked": []}
    missing = client.post("/v1/ops/parked/999/skip", {})
    assert missing.status_code == 404 and missing.json()["field"] == "position"
    assert client.post("/v1/ops/parked/999/explode", {}).status_code == 404
