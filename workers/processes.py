"""Is a process that said where it runs still there? Seen at once for one on this host; for one
elsewhere only its silence can tell (heartbeats, job rows), which is the caller's to judge."""

from __future__ import annotations

import os
import re
import socket

_PID = re.compile(r"\A[0-9]{1,10}\Z")


def gone(host: str | None, pid: int | str | None) -> bool:
    """True when the process ran on this host and no longer exists (killed: it could not say so)."""
    if host != socket.gethostname() or pid is None or not _PID.match(str(pid)):
        return False  # another machine's (or container's) process
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, as another user's process
        return False
    try:  # a zombie has ended: only its exit status waits to be collected
        with open(f"/proc/{int(pid)}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
