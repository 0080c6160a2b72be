"""A client generated from ``/openapi.json`` works: datamodel-code-generator builds pydantic models
from the document the service serves, and those models write an append the service takes and
read its board answer back, strictly (no field the document does not declare)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from ..conftest import BIN


def _models(tmp_path, document: dict):
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    out = tmp_path / "orghistory_models.py"
    subprocess.run([str(BIN / "datamodel-codegen"), "--input", str(spec), "--input-file-type", "openapi",
                    "--output", str(out), "--output-model-type", "pydantic_v2.BaseModel",
                    "--formatters", "black", "--disable-timestamp",
                    # defaults of enum fields as their members, as an integrator would want: as
                    # strings, every dump of a model warns that the value is not the enum
                    "--deserialize-default-values", "enum"], check=True, capture_output=True)
    loader = importlib.util.spec_from_file_location("orghistory_models", out)
    module = importlib.util.module_from_spec(loader)
    sys.modules["orghistory_models"] = module
    loader.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("error::UserWarning")  # pydantic's "not the expected value" while dumping
def test_models_generated_from_the_document_append_and_read_a_board(inprocess_service, tmp_path):
    api = inprocess_service
    m = _models(tmp_path, api.ok(api.get("/openapi.json"), 200))
    api.ok(api.post("/v1/orgs", json=m.OrgIn(slug="acme", name="Acme").model_dump(mode="json", exclude_none=True)))
    api.ok(api.post("/v1/people", json=m.PersonIn(slug="ada", name="Ada Lovelace").model_dump(
        mode="json", exclude_none=True)))
    batch = m.FactBatch(events=[
        m.Fact(m.UnitFormedFact(type="unit_formed", unit="board", name="Board", kind="board", effective="2020")),
        m.Fact(m.MemberJoinedFact(type="member_joined", unit="board", person="ada", role="chair",
                                  effective="2021-03-01",
                                  sources=[m.Source(url="https://example.org/minutes", publisher="Acme")])),
    ])
    appended = m.AppendOut.model_validate(api.ok(api.post("/v1/orgs/acme/events", json=batch.model_dump(
        mode="json", exclude_none=True))))
    assert [e.type for e in appended.events] == ["unit_formed", "member_joined"]
    position = appended.events[-1].position
    board = m.Roster.model_validate(api.ok(api.get("/v1/orgs/acme/board", as_of="2022-01-01",
                                                   min_position=position), 200))
    assert [(d.person, d.role, d.since) for d in board.directors] == [("ada", "chair", "2021-03-01")]
    # the union is discriminated on type: a document of another type is read as that type
    parsed = m.Fact.model_validate({"type": "resigned", "person": "ada", "effective": "2023"})
    assert type(parsed.root).__name__ == "ResignedFact"
