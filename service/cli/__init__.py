"""The ``orghistory`` command line: the click group ``main`` and its commands, by concern.

- ``serve.py``: serve, worker (the long-running processes)
- ``ops.py``: status, verify, parked, rebuild, replay, versions (operating the projections)
- ``data.py``: seed, tail, import, imports, export (the log and the organizations in and out)
- ``access.py``: tokens (who may write)
- ``shared.py``: what several of them use (the stderr console, the services, a progress bar)

At the top of these modules are only imports that ``--help`` can afford (click, rich, the
settings, small helpers: a few ms each). What a command works with (the event store and psycopg,
the fold, rq, Flask, gunicorn: 0.02-0.25 s each) is imported inside it, with a comment, so
``orghistory --help`` starts in about 0.1 s and no command loads another's machinery.

``orghistory`` (the console script) and ``python -m service.cli`` both run ``main``.
"""

from __future__ import annotations

import click

from workers.logs import configure_logging

from .access import tokens
from .data import export_, import_, imports_command, seed, tail
from .ops import parked, rebuild, replay, status, verify, versions
from .serve import serve, worker


@click.group()
def main() -> None:
    """orghistory: who held which seat, team and role on any date, and on what evidence."""
    # Every command logs as the service does: JSON lines on stderr, at ORGHISTORY_LOG_LEVEL.
    configure_logging()


for _command in (serve, worker, seed, status, verify, tail, parked, import_, imports_command, export_, tokens,
                 rebuild, replay, versions):
    main.add_command(_command)
