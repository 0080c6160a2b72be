"""Schema evolution: member_joined gained ``title`` in version 2 and ``origin`` and ``post`` in
version 3 (with upcasters; every other fact gained ``origin`` in its version 2). A log written
by version 1 (tests/fixtures/log-v1.ndjson, exported by the code before the change) still loads
and projects, beside new version-2 events, across process boundaries."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from events.settings import Settings
from projections import queries
from workers.catchup import catch_up

from ..conftest import ADMIN, BIN, close_stores, service_env, stores_for

V1_LOG = Path(__file__).resolve().parents[1] / "fixtures" / "log-v1.ndjson"

WRITE_V2 = """
from events.settings import Settings
from events.application import OrgHistory
app = OrgHistory(Settings.from_env())
app.register_person("larry-ellison", "Larry Ellison")
print(app.append("openai", [{"type": "member_joined", "unit": "board", "person": "larry-ellison",
                             "role": "director", "title": "Independent Director", "effective": "2030-01-01"}]))
"""


def test_a_version_1_log_loads_and_projects_beside_version_2_events(tmp_path):
    v1 = [json.loads(line) for line in V1_LOG.read_text().splitlines()]
    assert not any("class_version" in row["state"] for row in v1)  # really written by version 1
    settings = Settings(data_dir=tmp_path / "d", admin_token=ADMIN)
    env = service_env(settings, None)
    subprocess.run([str(BIN / "orghistory"), "import", str(V1_LOG)], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", WRITE_V2], env=env, check=True, capture_output=True)

    close_stores()
    app, db = stores_for(settings).app, stores_for(settings).db
    catch_up(stores_for(settings))
    with db.read() as c:
        board = queries.members(c, "openai", ["board"], date(2023, 11, 18), None)
        assert {e["person"] for e in board} == {"ilya-sutskever", "adam-dangelo", "tasha-mccauley", "helen-toner"}
        later = queries.members(c, "openai", ["board"], date(2030, 6, 1), None)
        ellison = next(e for e in later if e["person"] == "larry-ellison")
        cited = queries.evidence(c, "openai", set(ellison["evidence"]))
    old = [e for e in app.read_all() if e.type == "member_joined" and e.fields["person"] == "adam-dangelo"][0]
    new = [e for e in app.read_all() if e.type == "member_joined" and e.fields["person"] == "larry-ellison"][0]
    assert old.fields["title"] is None and new.fields["title"] == "Independent Director"
    assert cited[ellison["evidence"][0]]["type"] == "member_joined"
    out = subprocess.run([str(BIN / "orghistory"), "verify"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    exported = subprocess.run([str(BIN / "orghistory"), "export"], env=env, capture_output=True, text=True,
                              check=True).stdout.splitlines()
    versions = {json.loads(line)["state"].get("class_version") for line in exported
                if json.loads(line)["type"] == "member_joined"}
    assert versions == {None, 3}  # old events stay as written; new ones are version 3 (origin, post)
    # upcast through every version: a version 1 join reads with no title, post or origin
    assert old.fields["origin"] is None and old.fields["post"] is None
