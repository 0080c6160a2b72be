"""Webhook subscriptions as operators see them (never their secrets), with their delivery state."""

from __future__ import annotations

import json
from typing import Any

from .db import Conn


def _subscription_view(row: dict[str, Any], state: dict[str, Any] | None) -> dict[str, Any]:
    """A webhook subscription as operators see it (never its secret)."""
    return {"id": row["sub"], "url": row["url"], "filter": {"org": row["org"], "types": json.loads(row["types"])},
            "status": "failing" if state and state["failing"] and row["status"] == "active" else row["status"],
            "delivered_up_to": state["cursor"] if state else row["start_after"],
            "last_error": state["last_error"] if state else None, "created_at": row["created_at"]}


def subscriptions(conn: Conn, sub: str | None = None) -> list[dict[str, Any]]:
    where, params = ("AND s.sub = ?", (sub,)) if sub else ("", ())
    rows = conn.all("SELECT s.*, w.cursor, w.failing, w.last_error FROM subscriptions s "
                    f"LEFT JOIN webhook_state w ON w.sub = s.sub WHERE s.status <> 'deleted' {where} "
                    "ORDER BY s.created_at", params)
    return [_subscription_view(r, r if r["cursor"] is not None else None) for r in rows]


def subscription(conn: Conn, sub: str) -> dict[str, Any] | None:
    found = subscriptions(conn, sub)
    return found[0] if found else None


def subscription_failures(conn: Conn, sub: str) -> list[dict[str, Any]]:
    return conn.all("SELECT position, event_id, error, failed_at FROM webhook_failures WHERE sub=? ORDER BY failed_at",
                    (sub,))
