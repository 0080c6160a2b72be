"""Is a process that said where it runs still there? Seen at once for one on this host; for one
elsewhere only its silence can tell (heartbeats, job rows), which is the caller's to judge."""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import sys

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


def end_with_parent(parent: int) -> None:
    """In a forked child (an rq work horse, a gunicorn worker): end when the parent ends, however
    it ends. A child left running after its parent was killed answers to nobody: a work horse's
    job is retried and resumes from its own tracked position; a server's clients reconnect."""
    if not sys.platform.startswith("linux"):
        return  # pragma: no cover
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above: no signal would come
        os._exit(1)
