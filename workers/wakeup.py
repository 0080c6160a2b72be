"""Wake-ups for live readers (SSE): "something was appended, look in the store".

The store is the truth; a wake-up only shortens the wait. In one process a Condition does it;
with Redis, appenders publish on a channel and one subscriber thread per process relays it, so
a listener that misses a wake-up (Redis down) still catches up by position on its next poll.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Iterator

from events.settings import Settings

log = logging.getLogger("orghistory.wakeup")


class Wakeup:
    def __init__(self, settings: Settings, store_id: str):
        """``store_id``: the store's (``projections.identity``), which names the channel: processes of
        another deployment on the same Redis, whatever their schema's name, are not woken."""
        self.settings = settings
        self._cond = threading.Condition()
        self._generation = 0
        self._channel = f"orghistory:{store_id}:appended"
        self._redis = None
        self._listener: threading.Thread | None = None
        self.closed = False  # set by close(): live streams end at their next step
        self._streams = 0  # live streams now reading the store
        if settings.redis_url:
            from .dispatch import redis_for_clients

            self._redis = redis_for_clients(settings.redis_url)

    def notify(self) -> None:
        """Called after an append (never raises: the append already stands)."""
        self._local()
        if self._redis is not None:
            try:
                self._redis.publish(self._channel, "1")
            except Exception as e:
                log.warning("could not publish a wake-up: %s", e)

    def _local(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """Wait until a wake-up newer than ``seen`` or ``timeout``; returns the generation now."""
        self._ensure_listener()
        with self._cond:
            self._cond.wait_for(lambda: self._generation != seen or self.closed, timeout)
            return self._generation

    @property
    def generation(self) -> int:
        return self._generation

    @contextmanager
    def streaming(self) -> Iterator[None]:
        """Held by a live stream for as long as it may read the store."""
        with self._cond:
            self._streams += 1
        try:
            yield
        finally:
            with self._cond:
                self._streams -= 1
                self._cond.notify_all()

    def end_streams(self) -> None:
        """End the live streams, each at its next step, without waiting for them (a signal
        handler calls this: the server is stopping, and clients reconnect where they left off)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def close(self, timeout: float = 10.0) -> bool:
        """End the live streams (each at its next step) and wait until none reads the store any
        more, so that the store can be closed under them. True if they all ended in time."""
        self.end_streams()
        with self._cond:
            return self._cond.wait_for(lambda: self._streams == 0, timeout)

    def _ensure_listener(self) -> None:
        if self._redis is None or (self._listener is not None and self._listener.is_alive()):
            return
        self._listener = threading.Thread(target=self._listen, daemon=True, name="orghistory-wakeup")
        self._listener.start()

    def _listen(self) -> None:
        import time

        import redis

        while True:
            try:
                conn = redis.Redis.from_url(self.settings.required_redis_url(), socket_timeout=None,
                                            socket_connect_timeout=5, health_check_interval=30)
                pubsub = conn.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self._channel)
                for message in pubsub.listen():
                    if message and message.get("type") == "message":
                        self._local()
            except Exception as e:  # Redis gone: readers keep polling the store; try again later
                log.warning("wake-up listener: %s", e)
                time.sleep(1)
