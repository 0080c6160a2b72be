"""Imports that keep an organization in sync with a dataset (Popolo, FollowTheMoney).

``read(format, document)`` turns a document into a ``model.Dataset``; ``OrgHistory.sync`` records
the difference from what the same source said last time (``sync.py``), in one transaction.
"""

from __future__ import annotations

import json
from typing import IO, Any

from ..errors import InvalidFact
from .model import Dataset

FORMATS = ("popolo", "ftm")


def read(fmt: str, document: Any) -> Dataset:
    """``document``: a parsed JSON value, or text / a text stream to parse (NDJSON for ``ftm``)."""
    if fmt == "popolo":
        from .popolo import read_popolo

        if isinstance(document, (str, bytes)) or hasattr(document, "read"):
            raw = document.read() if hasattr(document, "read") else document
            try:
                document = json.loads(raw)
            except ValueError as e:
                raise InvalidFact(f"not JSON: {e}", "") from None
            except RecursionError:
                raise InvalidFact("the JSON nests too deep", "") from None
        return read_popolo(document)
    if fmt == "ftm":
        from .ftm import parse_lines, read_ftm

        if isinstance(document, list):
            return read_ftm((f"entities[{i}]", e) for i, e in enumerate(document))
        if isinstance(document, bytes):
            document = document.decode("utf-8")
        lines = document.splitlines() if isinstance(document, str) else document
        return read_ftm(parse_lines(lines))
    raise InvalidFact(f"must be one of {', '.join(FORMATS)}", "format")


def read_file(fmt: str, fh: IO[str]) -> Dataset:
    return read(fmt, fh if fmt == "ftm" else fh.read())
