"""The scratch file a rebuild writes its people's folds to when it lets go (``FoldSpill``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from projections.fold import _Person
from projections.foldcache import Derived
from projections.foldspill import FoldSpill


def _folds(n: int) -> dict[tuple[str, str], Derived]:
    return {("acme", f"p{i}"): Derived(_Person(f"p{i}", {"board": f"200{i % 10}-01-01"}), None, {"board"})
            for i in range(n)}


def test_folds_written_aside_read_back_while_the_file_is_already_gone(tmp_path):
    """The folds come back as written, though nothing of the file is left in the directory once
    it is open: a rebuild killed while it holds the file leaves no scratch behind."""
    spill = FoldSpill(str(tmp_path))
    try:
        assert list(tmp_path.iterdir()) == []
        assert spill.save(_folds(1200)) == 1200
        back = spill.recall("acme", [f"p{i}" for i in range(0, 1300, 7)])
        assert sorted(back) == sorted(("acme", f"p{i}") for i in range(0, 1200, 7))
        assert back[("acme", "p7")].state.formed == {"board": "2007-01-01"} and back[("acme", "p7")].units == {"board"}
        assert list(tmp_path.iterdir()) == []
    finally:
        spill.close()
    assert list(tmp_path.iterdir()) == []


def test_the_scratch_files_page_cache_is_the_size_it_is_given(tmp_path):
    """The rebuild counts the file's page cache in its memory budget: it must be what was given."""
    spill = FoldSpill(str(tmp_path), cache=3 << 20)
    try:
        assert spill._db.execute("PRAGMA cache_size").fetchone()[0] == -(3 << 10)  # negative: KiB
    finally:
        spill.close()


def test_a_killed_process_leaves_no_scratch_file(tmp_path):
    """SIGKILL gives no process a chance to clean up: the file must already be gone."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.getcwd()!r})
        from tests.integration.test_foldspill import _folds
        from projections.foldspill import FoldSpill
        spill = FoldSpill({str(tmp_path)!r})
        spill.save(_folds(100))
        print("saved", flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "saved"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert list(tmp_path.iterdir()) == []
