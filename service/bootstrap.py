"""One place that wires the dependencies together (as in Cosmic Python's bootstrap)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from events.application import OrgHistory
from events.settings import Settings
from projections.db import Conn, Database
from workers.catchup import projected
from workers.dispatch import dispatcher_for, wait_for_position
from workers.runtime import open_store
from workers.wakeup import Wakeup


@dataclass
class Services:
    settings: Settings
    dispatcher: Any
    wakeup: Any = None

    def appended(self, position: int | None) -> None:
        """After an append: fold it (or enqueue the fold) and wake live readers."""
        self.dispatcher.after_append(position)
        if self.wakeup is not None:
            self.wakeup.notify()

    @property
    def app(self) -> OrgHistory:
        return open_store(self.settings)[0]

    @property
    def db(self) -> Database:
        return open_store(self.settings)[1]

    @contextmanager
    def read(self, version: int | None = None, name: str = "history") -> Iterator[Conn]:
        """A read transaction on the live version of ``name``, or on ``version`` (a replay, say)."""
        with self.db.read(version=version, name=name) as conn:
            yield conn

    def projected_position(self) -> int:
        return projected(self.settings)

    def wait_for(self, position: int, timeout: float = 10.0) -> bool:
        return wait_for_position(self.projected_position, position, timeout, nudge=self.dispatcher.nudge)


def bootstrap(settings: Settings | None = None, start_background: bool = True) -> Services:
    settings = settings or Settings.from_env()
    open_store(settings)  # create tables, fail fast on a bad database URL
    dispatcher = dispatcher_for(settings)
    if start_background:
        dispatcher.start()
    return Services(settings, dispatcher, Wakeup(settings))
