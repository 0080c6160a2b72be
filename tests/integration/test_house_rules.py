"""The rules of the house that issue 14 set, kept by a test rather than by memory: small modules,
fact types named through their declarations (``events.vocabulary``) or their ``Kind``
(``events.recorded``), never by their strings, outside the few places that declare or produce them,
and no ``Any`` in the signatures the layers above call."""

from __future__ import annotations

import ast
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


SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT INTO|UPDATE\s+\w+\s+SET|DELETE FROM)\b")


def test_the_service_holds_no_sql():
    """Routes parse, call and render: what the service reads or writes in the database is a
    function of the layers below (the token store was the last SQL in service/)."""
    found = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "service").rglob("*.py"))
             for i, line in enumerate(p.read_text().splitlines(), 1) if SQL.search(line)]
    assert found == []


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


# Where a value's shape is truly unknown to the code, and the only names that may say so in a
# signature: a fact's free-form fields (JSON) or any parsed JSON text, and a database row or value, whose columns are
# whatever the SQL that read it selected (``projections.db``; the queries turn rows into declared
# answers before anything leaves the layer).
OPEN_SHAPES = {"JSONObject", "JSONValue", "DBRow", "DBValue"}
TYPED_LAYERS = ("projections", "workers")


def _imprecise(node: ast.expr, aliases: set[str]) -> str | None:
    """What in an annotation hides a shape: ``Any``, a bare ``dict`` or ``list``, or an alias of them."""
    subscripted = {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Subscript)}
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str):  # a quoted forward reference
            try:
                found = _imprecise(ast.parse(n.value, mode="eval").body, aliases)
            except SyntaxError:  # a Literal's text
                continue
            if found:
                return found
        name = n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute) else None
        if name == "Any":
            return "Any"
        if name in ("dict", "list", "Dict", "List") and id(n) not in subscripted:
            return f"bare {name}"
        if name in aliases and name not in OPEN_SHAPES:
            return f"{name} (an alias of Any or a bare dict)"
    return None


def _aliases() -> set[str]:
    """Module-level type aliases whose value hides a shape (``X = Any``, ``Y = dict[str, X]``)."""
    candidates = {}
    for path in _modules():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target, value = node.targets[0].id, node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                target, value = node.target.id, node.value
            else:
                continue
            if target[:1].isupper() and isinstance(value, (ast.Subscript, ast.BinOp, ast.Name, ast.Attribute)):
                candidates[target] = value
    out: set[str] = set()
    while True:  # an alias of an alias that hides a shape hides it too
        more = {name for name, value in candidates.items() if name not in out and _imprecise(value, out)}
        if not more:
            return out
        out |= more


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _public_functions(body: list[ast.stmt], prefix: str = "") -> list[tuple[str, Function]]:
    """Functions and methods the other layers may call: no leading underscore, nor on their class."""
    out: list[tuple[str, Function]] = []
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            out.append((prefix + node.name, node))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            out += _public_functions(node.body, f"{prefix}{node.name}.")
    return out


def test_public_signatures_of_projections_and_workers_declare_their_shapes():
    aliases = _aliases()
    found = {}
    for path in _modules():
        rel = str(path.relative_to(ROOT))
        if not rel.startswith(TYPED_LAYERS):
            continue
        for name, fn in _public_functions(ast.parse(path.read_text()).body):
            a = fn.args
            params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *([a.vararg] if a.vararg else []),
                      *([a.kwarg] if a.kwarg else [])]
            annotations = [p.annotation for p in params if p.annotation is not None]
            annotations += [fn.returns] if fn.returns is not None else []
            problems = sorted({p for ann in annotations if (p := _imprecise(ann, aliases))})
            if problems:
                found[f"{rel}:{fn.lineno} {name}"] = problems
    assert found == {}
