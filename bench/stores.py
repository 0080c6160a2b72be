"""The stores a benchmark run uses: opened through the bootstrap's ``open_stores`` on first use,
one per settings, and closed by ``close_stores`` (as if a new process started)."""

from __future__ import annotations

from workers.runtime import StoresBySettings

stores_for = StoresBySettings()
close_stores = stores_for.close
