"""One runner per projection at a time, across processes: an advisory lock on PostgreSQL, a file
lock beside the SQLite database. A second runner waits its turn instead of skipping, so a wake-up
is never lost; correctness does not depend on the lock (tracking is transactional), only tidiness."""

from __future__ import annotations

import fcntl
import time
import zlib
from contextlib import contextmanager
from typing import Iterator

from events.settings import Settings


class LockTimeout(RuntimeError):
    pass


@contextmanager
def runner_lock(settings: Settings, name: str, timeout: float = 120.0, wait: bool = True) -> Iterator[None]:
    """``wait=False``: take the lock now or raise ``LockTimeout`` (a second rebuild must not queue)."""
    if settings.is_postgres:
        import psycopg

        p = settings.postgres_params()
        key = zlib.crc32(f"orghistory:{p['schema']}:{name}".encode())
        with psycopg.connect(dbname=p["dbname"], host=p["host"], port=p["port"], user=p["user"],
                             password=p["password"] or None, autocommit=True) as conn:
            if not wait:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if row is None:
                    raise RuntimeError("pg_try_advisory_lock returned no row")
                if not row[0]:
                    raise LockTimeout(f"{name} is busy")
            else:
                conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{int(timeout * 1000)}ms",))
                try:
                    conn.execute("SELECT pg_advisory_lock(%s)", (key,))
                except psycopg.errors.LockNotAvailable as e:
                    raise LockTimeout(f"projection {name} is busy") from e
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return
    path = settings.sqlite_path.with_name(settings.sqlite_path.name + f".{name.replace(':', '-')}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait or time.monotonic() > deadline:
                    raise LockTimeout(f"projection {name} is busy") from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
