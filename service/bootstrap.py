"""The composition root of the web service and the CLI (as in Cosmic Python's ``bootstrap``):
the stores, the dispatcher and the wake-ups are built once, here, and passed in."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from events.application import OrgHistory
from events.settings import Settings
from projections.db import Conn, Database
from workers.catchup import projected
from workers.dispatch import Dispatcher, dispatcher_for, wait_for_position
from workers.runtime import Stores, open_stores
from workers.wakeup import Wakeup
from workers.worker import open_stores_when_reachable


@dataclass
class Services:
    stores: Stores
    dispatcher: Dispatcher
    wakeup: Wakeup | None = None

    @property
    def settings(self) -> Settings:
        return self.stores.settings

    @property
    def app(self) -> OrgHistory:
        return self.stores.app

    @property
    def db(self) -> Database:
        return self.stores.db

    def appended(self, position: int | None) -> None:
        """After an append: fold it (or enqueue the fold) and wake live readers."""
        self.dispatcher.after_append(position)
        if self.wakeup is not None:
            self.wakeup.notify()

    @contextmanager
    def read(self, version: int | None = None, name: str = "history") -> Iterator[Conn]:
        """A read transaction on the live version of ``name``, or on ``version`` (a replay, say)."""
        with self.db.read(version=version, name=name) as conn:
            yield conn

    def projected_position(self) -> int:
        return projected(self.stores)

    def wait_for(self, position: int, timeout: float = 10.0) -> bool:
        return wait_for_position(self.projected_position, position, timeout, nudge=self.dispatcher.nudge)

    def close(self) -> None:
        """Stop the background work, then close the stores it used (live streams end first:
        closing SQLite under a running query can crash the process)."""
        if self.wakeup is not None:
            self.wakeup.close()
        self.dispatcher.stop()
        self.stores.close()


def bootstrap(settings: Settings | None = None, start_background: bool = True) -> Services:
    """Open the stores (creating tables) and wire the service. On PostgreSQL, a server that does
    not answer yet (restarting, failing over) is waited for: under gunicorn, a worker whose boot
    raised stops the whole server (measured: PostgreSQL restarted while a worker was starting
    took the API down). A file the embedded store cannot open fails at once."""
    settings = settings or Settings.from_env()
    stores = open_stores_when_reachable(settings, "api") if settings.is_postgres else open_stores(settings)
    dispatcher = dispatcher_for(stores)
    if start_background:
        dispatcher.start()
    return Services(stores, dispatcher, Wakeup(stores.settings, stores.store_id))
