"""Answers are served as built (``service.schemas.answer.AsBuilt``: as-of answers, log and stream
pages, person histories), not dumped field by field; checked, any difference from the schema's
dump fails the request instead."""

from __future__ import annotations

import pytest

from service.schemas import Roster
from service.schemas.answer import AnswerShapeError


def _board() -> dict:
    entry = {"person": "ilya-sutskever", "name": "Ilya Sutskever", "role": "director", "since": "2015-12",
             "until": None, "certain": True, "disputed": False, "evidence": ["e1"], "unit": "board"}
    return {"org": "openai", "as_of": "2023-11-18", "known_at": None, "position": 114, "version": 1,
            "units": ["board"], "directors": [entry], "observers": [],
            "evidence": {"e1": {"id": "e1", "position": 3, "sources": []}}}


@pytest.fixture
def checked(monkeypatch):
    monkeypatch.setattr(Roster, "checked", True)


@pytest.fixture
def unchecked(monkeypatch):
    monkeypatch.setattr(Roster, "checked", False)


def test_an_answer_is_served_as_built(unchecked):
    board = _board()
    assert Roster().dump(board) is board


def test_checked_an_answer_in_its_schemas_shape_passes(checked):
    board = _board()
    assert Roster().dump(board) is board


@pytest.mark.parametrize("spoil", [
    lambda a: a.update(secret="kept out by the schema"),  # a field the schema does not declare
    lambda a: a.update(position="114"),  # the wrong type: the schema would make it an integer
    lambda a: a["directors"][0].update(internal_row_id=7),  # undeclared, in a nested answer
    lambda a: a["directors"][0].update(since=2015),  # the wrong type, nested
])
def test_checked_an_answer_its_schema_would_change_fails(checked, spoil):
    board = _board()
    spoil(board)
    with pytest.raises(AnswerShapeError):
        Roster().dump(board)
