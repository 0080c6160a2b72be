"""The README's walk-through, run as a newcomer would paste it: every command of its shell blocks,
in order, in one shell, against a fresh ``orghistory serve`` started the README's way (data in
``./var``, the token in ``var/admin-token``), each answer checked against what the README says of
it. A command this test does not know fails it, so the README cannot gain an unchecked example."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, Callable

from ..conftest import BIN, _wait_http, free_port, spawn, stop

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = ("## A walk through the seed history", "## Following the stream")


def _commands() -> list[str]:
    text = README.read_text()
    section = text[text.index(SECTION[0]):text.index(SECTION[1])]
    out = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                out.append(line)
    return out


def _names(entries: list[dict]) -> set[str]:
    return {e["name"] for e in entries}


def _noted(answer: dict) -> list[tuple[str, str]]:
    return [(e["title"], e["effective"]) for e in answer["events"] if e["type"] == "noted"]


# What the README says each command answers: (a pattern of the command, a check of its JSON).
EXPECTED: list[tuple[str, Callable[[Any], bool]]] = [
    (r"board\?as_of=2023-11-16", lambda a: len(a["directors"]) == 6
     and [d["name"] for d in a["directors"] if d["role"] == "chair"] == ["Greg Brockman"]),
    (r"board\?as_of=2023-11-18", lambda a: _names(a["directors"]) == {
        "Adam D'Angelo", "Helen Toner", "Ilya Sutskever", "Tasha McCauley"}),
    (r"board\?as_of=2024-03-10", lambda a: len(a["directors"]) == 7 and len(a["observers"]) == 1),
    (r"roles\?as_of=2023-11-20", lambda a: {(r["role"], r["name"]) for r in a["roles"]} >= {
        ("interim-ceo", "Emmett Shear")} and "ceo" not in {r["role"] for r in a["roles"]}),
    (r"superalignment/members\?as_of=2024-04-01", lambda a: {"Jan Leike", "Ilya Sutskever"} <= _names(a["members"])),
    (r"superalignment/members\?as_of=2024-05-20", lambda a: a["members"] == []),
    (r"changes\?from=2024-04-01&to=2024-06-01", lambda a: any(c["change"] == "left" and c.get("cause")
                                                              for c in a["changes"])),
    (r"people/ilya-sutskever/history", lambda a: a["name"] == "Ilya Sutskever" and len(a["history"]) >= 3),
    (r"adam-dangelo/why\?as_of=2023-11-18", lambda a: a["holds"] and any(
        s.get("url") for f in a["chain"] for s in f["sources"])),
    (r"timeline'\s*#\s*every fact", lambda a: len(a["events"]) > 50),
    (r"^TOKEN=", lambda a: a is None),
    (r'"type": "noted"', lambda a: a["version"] == 79 and a["events"][0]["id"] == "openai@79"
     and a["events"][0]["position"] == 114),
    (r"to=2024-07-01&min_position=114", lambda a: ("An example", "2024-06") in _noted(a)),
    (r"^sleep 1; BEFORE=", lambda a: a is None),
    (r'"type": "corrected"', lambda a: a["version"] == 80 and a["events"][0]["id"] == "openai@80"
     and a["events"][0]["position"] == 116),
    (r"to=2024-07-01&min_position=116", lambda a: "An example" not in dict(_noted(a))),
    (r"known_at=\$BEFORE", lambda a: ("An example", "2024-06") in _noted(a)),
]


def test_the_readme_walk_through_answers_as_it_says(tmp_path):
    port = free_port()
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)}  # nothing of ours: the README's defaults
    server = spawn([str(BIN / "orghistory"), "serve", "--port", str(port)], cwd=tmp_path, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", server)
        commands = _commands()
        checks = []
        for command in commands:
            matching = [check for pattern, check in EXPECTED if re.search(pattern, command)]
            assert len(matching) == 1, f"the README's command has {len(matching)} expectations here: {command}"
            checks.append(matching[0])
        marker = "@@README-COMMAND-DONE@@"
        script = "set -e\n" + "".join(
            f"{c.replace('localhost:8000', f'127.0.0.1:{port}')}\necho; echo {marker}\n" for c in commands)
        run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        outputs = run.stdout.split(marker)[:-1]
        assert len(outputs) == len(commands)
        for command, output, check in zip(commands, outputs, checks, strict=True):
            answer = json.loads(output) if output.strip() else None
            assert check(answer), f"{command}\nanswered: {output[:2000]}"
    finally:
        stop(server)
