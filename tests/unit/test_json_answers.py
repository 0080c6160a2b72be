"""Answers are written by orjson (``service.edge.BoundedJSON.response``): the same JSON that
Flask's own provider writes, for whatever an answer can hold."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from service.edge import BoundedJSON


def _both(value):
    app = Flask(__name__)
    ours, flasks = BoundedJSON(app), DefaultJSONProvider(app)
    ours.sort_keys = flasks.sort_keys = False
    with app.app_context():
        return ours.response(value), flasks.response(value)


def test_answers_read_back_as_flask_would_have_written_them():
    answer = {"name": "Ünïcode — 名前 🏛", "quote": 'a "quoted" \\ line\nnext', "n": 2 ** 63 - 1, "x": 0.1,
              "none": None, "list": [True, False, {"nested": []}],
              "at": datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)}  # Flask's own default spells dates
    ours, flasks = _both(answer)
    assert ours.mimetype == flasks.mimetype == "application/json"
    assert json.loads(ours.get_data()) == json.loads(flasks.get_data())
    assert list(json.loads(ours.get_data())) == list(answer)  # in the order the answer was built


def test_what_orjson_refuses_is_still_answered():
    huge = {"changes": {"seats": 10 ** 30}}  # past 64 bits: orjson refuses, Flask's provider writes it
    ours, flasks = _both(huge)
    assert ours.get_data() == flasks.get_data()
    assert json.loads(ours.get_data()) == huge
