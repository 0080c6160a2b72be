"""`python -m service.cli` is the same command line as the `orghistory` script, every command
included (it once stopped at a `__main__` block placed before rebuild, replay and versions)."""

from __future__ import annotations

import os
import subprocess
import sys

from ..conftest import BIN

COMMANDS = {"serve", "worker", "seed", "status", "verify", "tail", "parked", "import", "imports", "export", "tokens",
            "rebuild", "replay", "versions"}


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGHISTORY_")} | {"COLUMNS": "100"}
    out = subprocess.run(list(args), capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    return out


def _listed(help_text: str) -> set[str]:
    lines = help_text.split("Commands:\n", 1)[1].splitlines()
    return {line.split()[0] for line in lines if line.startswith("  ")}


def test_python_m_lists_every_command_as_the_script_does():
    module = _run(sys.executable, "-m", "service.cli", "--help").stdout
    assert module.startswith("Usage: python -m service.cli [OPTIONS] COMMAND")
    assert _listed(module) == COMMANDS
    script = _run(str(BIN / "orghistory"), "--help").stdout
    assert module.replace("python -m service.cli", "orghistory") == script


def test_python_m_reaches_a_subcommand():
    out = _run(sys.executable, "-m", "service.cli", "rebuild", "--help").stdout
    assert out.startswith("Usage: python -m service.cli rebuild [OPTIONS] [NAME]")
    assert "blue/green" in out
    drop = _run(sys.executable, "-m", "service.cli", "versions", "drop", "--help").stdout
    assert "never the live one" in drop


def test_help_does_not_load_what_the_commands_work_with():
    """The imports kept inside commands are there so that --help stays quick: keep them there."""
    probe = ("import sys; from service.cli import main; "
             "heavy = {'eventsourcing', 'psycopg', 'rq', 'redis', 'flask', 'gunicorn', 'followthemoney'}; "
             "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    assert _run(sys.executable, "-c", probe).stdout.strip() == "[]"
