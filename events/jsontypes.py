"""Names for parsed JSON, the one kind of value whose shape the code does not know.

A fact's fields, a correction's changes, an import's records and an answer kept for a retry are
JSON objects whose values are whatever the vocabulary allows for each field: ``Any`` stands for
those values, and only for them. Everything with a known shape is typed as such.
"""

from __future__ import annotations

from typing import Any

JSONObject = dict[str, Any]  # a parsed JSON object (a fact's fields, a record, an answer)
JSONValue = Any  # any parsed JSON text (an object, or a list of ids, of sources, of corrections)
# What an import remembers of its source, by section ("people", "units", ...), then by the
# source's record key: a JSON value each (a record's asserted facts, or a slug).
DatasetState = dict[str, dict[str, Any]]
