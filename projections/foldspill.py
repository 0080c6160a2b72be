"""Where a rebuild writes its people's unfinished folds when it lets go of its state (``FoldSpill``).

A rebuild over its memory budget lets go of everything it holds and reads back from its tables
what the next facts need (``batchstore.RebuildStore``). Without the folds, each person it met
again was re-derived from all their facts: their facts read back, parsed and folded again, the
larger part of a 1M rebuild's time once past its budget. A fold at rest is a few hundred bytes as
plain values (``foldcache.Derived.dump``), so the rebuild writes every fold it holds here when it
lets go, and a person met again goes on from their fold (``Projector._extend``); their facts are
read only if the fold cannot go on.

The file is the rebuild's scratch: a local SQLite file in the temporary directory (``TMPDIR``),
unlinked as soon as it is open, so nothing is left behind however the rebuild ends (a SIGKILL
included: at 10M events the file grows to about 400 MB). Losing it loses nothing: a resumed
rebuild re-derives people from their facts, as it always could. A fold written here is the truth
only while its person is not held in memory: the rebuild writes every fold it holds at each
letting go, so what it holds is never older than what is here, and it empties the file when
something may have changed people behind their folds' backs (a merge, an event whose fold raised).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from typing import Mapping, Sequence

from .foldcache import Derived

_CHUNK = 500  # people per IN (...) list: under SQLite's limit of bound parameters
CACHE_MAX = 16 << 20  # the file's page cache at most: a budgeted rebuild must not hold it all

SCHEMA = "CREATE TABLE folds (org TEXT NOT NULL, person TEXT NOT NULL, fold BLOB NOT NULL, " \
    "PRIMARY KEY (org, person)) WITHOUT ROWID"
SAVE = "INSERT OR REPLACE INTO folds (org, person, fold) VALUES (?, ?, ?)"
RECALL = "SELECT person, fold FROM folds WHERE org = ? AND person IN ({marks})"
CLEAR = "DELETE FROM folds"


class FoldSpill:
    """Folds written aside by ``save`` and read back by ``recall``, in a scratch SQLite file."""

    def __init__(self, directory: str | None = None, cache: int = CACHE_MAX) -> None:
        """``cache``: bytes of the file's page cache (the rebuild counts it in its budget)."""
        fd, self.path = tempfile.mkstemp(prefix="orghistory-folds-", suffix=".sqlite3", dir=directory)
        os.close(fd)
        # Written and read by the folding thread only; nothing here must survive a crash.
        self._db = sqlite3.connect(self.path, isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", f"cache_size=-{max(1, cache >> 10)}"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute(SCHEMA)
        # Unlinked while open: the one connection keeps the file, which goes when it closes or the
        # process dies. Safe for SQLite here: no journal, no second connection, nothing reopens it.
        self._unlinked = _unlink(self.path)
        self.saved = 0  # folds written, all told
        self.recalled = 0  # folds read back, all told

    def save(self, folds: Mapping[tuple[str, str], Derived]) -> int:
        """Write every fold at rest in ``folds`` (each replaces what was written of its person)."""
        rows = [(org, person, d.dump()) for (org, person), d in folds.items() if d.state.at_rest]
        self._db.execute("BEGIN")
        self._db.executemany(SAVE, rows)
        self._db.execute("COMMIT")
        self.saved += len(rows)
        return len(rows)

    def recall(self, org: str, people: Sequence[str]) -> dict[tuple[str, str], Derived]:
        """The folds written of ``people`` of ``org`` (those never written are missing)."""
        out: dict[tuple[str, str], Derived] = {}
        for i in range(0, len(people), _CHUNK):
            part = people[i:i + _CHUNK]
            for person, blob in self._db.execute(RECALL.format(marks=",".join("?" * len(part))), (org, *part)):
                out[(org, person)] = Derived.load(blob)
        self.recalled += len(out)
        return out

    def clear(self) -> None:
        """Forget every fold: something may have changed people without their folds."""
        self._db.execute(CLEAR)

    def close(self) -> None:
        self._db.close()
        if not self._unlinked:
            _unlink(self.path)


def _unlink(path: str) -> bool:
    """Whether ``path`` is gone. (Where an open file cannot be unlinked, it goes at ``close``.)"""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
