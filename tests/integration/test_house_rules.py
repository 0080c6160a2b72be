"""The rules of the house that issue 14 set, kept by a test rather than by memory: small modules,
and fact types named through their declarations (``events.vocabulary``) or their ``Kind``
(``events.recorded``), never by their strings, outside the few places that declare or produce them."""

from __future__ import annotations

import re
from pathlib import Path

from events.recorded import Kind
from events.vocabulary import TYPES

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("events", "projections", "workers", "service")
MAX_LINES = 400
# where a type's name may be spelled out: its declaration, and the importers that produce facts
DECLARE_OR_PRODUCE = {"events/vocabulary.py", "events/recorded.py"}
PRODUCERS = ("events/imports/",)


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_type_names_are_spelled_only_where_they_are_declared_or_produced():
    names = set(TYPES) | {k.value for k in Kind}
    quoted = re.compile(r"""["'](%s)["']""" % "|".join(sorted(names, key=len, reverse=True)))
    found = {}
    for path in _modules():
        rel = str(path.relative_to(ROOT))
        if rel in DECLARE_OR_PRODUCE or rel.startswith(PRODUCERS):
            continue
        hits = sorted({m.group(1) for m in quoted.finditer(path.read_text())})
        if hits:
            found[rel] = hits
    assert found == {}
