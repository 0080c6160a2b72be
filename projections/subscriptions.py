"""Webhook subscriptions as operators see them (never their secrets), with their delivery state."""

from __future__ import annotations

import json

from .answers import DeliveryFailure, Subscription
from .db import Conn, DBRow


def _subscription_view(row: DBRow, state: DBRow | None) -> Subscription:
    """A webhook subscription as operators see it (never its secret)."""
    return {"id": row["sub"], "url": row["url"], "filter": {"org": row["org"], "types": json.loads(row["types"])},
            "status": "failing" if state and state["failing"] and row["status"] == "active" else row["status"],
            "delivered_up_to": state["cursor"] if state else row["start_after"],
            "last_error": state["last_error"] if state else None, "created_at": row["created_at"]}


def subscriptions(conn: Conn, sub: str | None = None) -> list[Subscription]:
    where, params = ("AND s.sub = ?", (sub,)) if sub else ("", ())
    rows = conn.all("SELECT s.*, w.cursor, w.failing, w.last_error FROM subscriptions s "
                    f"LEFT JOIN webhook_state w ON w.sub = s.sub WHERE s.status <> 'deleted' {where} "
                    "ORDER BY s.created_at", params)
    return [_subscription_view(r, r if r["cursor"] is not None else None) for r in rows]


def subscription(conn: Conn, sub: str) -> Subscription | None:
    found = subscriptions(conn, sub)
    return found[0] if found else None


def subscription_failures(conn: Conn, sub: str) -> list[DeliveryFailure]:
    return [{"position": r["position"], "event_id": r["event_id"], "error": r["error"], "failed_at": r["failed_at"]}
            for r in conn.all("SELECT position, event_id, error, failed_at FROM webhook_failures WHERE sub=? "
                              "ORDER BY failed_at", (sub,))]
