"""The stores a benchmark run uses: opened through the bootstrap's ``open_stores`` on first use,
one per settings, and closed by ``close_stores`` (as if a new process started)."""

from __future__ import annotations

from events.settings import Settings
from workers.runtime import Stores, open_stores

_OPEN: list[Stores] = []


def stores_for(settings: Settings) -> Stores:
    for stores in _OPEN:
        if stores.settings == settings:
            return stores
    stores = open_stores(settings)
    _OPEN.append(stores)
    return stores


def close_stores() -> None:
    while _OPEN:
        _OPEN.pop().close()
