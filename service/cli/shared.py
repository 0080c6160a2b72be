"""What several command modules use: the stderr console, the services, a progress bar."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from rich.console import Console

from events.settings import Settings

from ..progress import bar as progress_bar

if TYPE_CHECKING:
    from projections.db import Conn

err = Console(stderr=True)


def services(start_background: bool = False):
    # lazy: bootstrap opens the event store (eventsourcing, psycopg: about 0.12 s to import),
    # which `--help` and the commands that only read settings should not pay for
    from ..bootstrap import bootstrap

    return bootstrap(Settings.from_env(), start_background=start_background)


@contextmanager
def caught_up() -> Iterator[Conn]:
    """A read of the projection once it has folded everything in the log (the commands that print
    what we believe)."""
    from workers.catchup import catch_up  # lazy: the fold

    s = services()
    catch_up(s.stores)
    with s.read() as conn:
        yield conn


@contextmanager
def bar(label: str, total: int | None, unit: str = "ev/s"):
    """A progress bar on stderr with count, rate, elapsed time and ETA."""
    with progress_bar(label, total, console=err, unit=unit) as (p, task):
        yield p, task
