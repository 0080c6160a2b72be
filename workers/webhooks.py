"""Webhook deliveries: rq jobs, one subscription's events in position order, at least once.

Each POST carries ``Orghistory-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
A failed delivery raises, and rq's scheduler retries the job with exponential backoff; the job
resumes from the subscription's cursor (advanced after each acknowledged event, so a worker
killed mid-delivery re-sends at most the event in flight). After the last attempt the
subscription is marked failing and the event recorded in ``webhook_failures``; a resume or a
redelivery request clears it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

from events.settings import Settings
from projections.clock import now as _now

from .locks import runner_lock
from .runtime import open_store
from .streams import page

log = logging.getLogger("orghistory.webhooks")
DEFAULT_BACKOFF = (10, 30, 90, 270, 810, 2430)  # seconds between attempts: x3 each time
SIGNATURE_HEADER = "Orghistory-Signature"


class DeliveryFailed(RuntimeError):
    pass


class AddressNotAllowed(ValueError):
    pass


def backoff() -> list[int]:
    raw = os.environ.get("ORGHISTORY_WEBHOOK_BACKOFF")
    return [int(x) for x in raw.split(",")] if raw else list(DEFAULT_BACKOFF)


def check_address(url: str) -> None:
    """Refuse private, loopback, link-local and reserved addresses unless the allow-list
    (ORGHISTORY_WEBHOOK_ALLOW: host names and CIDR ranges, comma-separated) names them."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise AddressNotAllowed("must be an http(s) URL with a host")
    allow = [a.strip() for a in os.environ.get("ORGHISTORY_WEBHOOK_ALLOW", "").split(",") if a.strip()]
    if parsed.hostname in allow:
        return
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise AddressNotAllowed(f"cannot resolve {parsed.hostname}: {e}") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if any(ip in ipaddress.ip_network(a, strict=False) for a in allow if "/" in a or a.replace(".", "").isdigit()):
            continue
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise AddressNotAllowed(f"{parsed.hostname} resolves to {ip}, a private or local address; "
                                    "name it in ORGHISTORY_WEBHOOK_ALLOW to allow it")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def post(url: str, secret: str, sub: str, event: dict, timeout: float = 10.0) -> None:
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, int(time.time()), body),
        "Orghistory-Subscription": sub, "Orghistory-Event-Id": str(event.get("id")),
        "Orghistory-Position": str(event["position"]), "User-Agent": "orghistory-webhooks/1"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if not 200 <= resp.status < 300:
                raise DeliveryFailed(f"HTTP {resp.status}")
    except urllib.error.HTTPError as e:
        raise DeliveryFailed(f"HTTP {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        raise DeliveryFailed(str(e)) from None


def deliver(settings: Settings, sub: str, last_attempt: bool = True) -> int:
    """Send the subscription's pending events in order; returns how many were acknowledged."""
    app, db = open_store(settings)
    sent = 0
    with runner_lock(settings, f"webhook-{sub}"):
        with db.write() as c:
            row = c.one("SELECT * FROM subscriptions WHERE sub=?", (sub,))
            if row is None or row["status"] != "active":
                return 0
            state = c.one("SELECT * FROM webhook_state WHERE sub=?", (sub,))
            if state is None or state["control_applied"] < row["control_position"]:
                # new, resumed or asked to redeliver: (re)start from the requested position
                if row["redeliver_from"]:
                    cursor = row["redeliver_from"] - 1
                else:
                    cursor = state["cursor"] if state else row["start_after"]
                c.execute("INSERT INTO webhook_state (sub, cursor, control_applied, failing, updated_at) "
                          "VALUES (?,?,?,0,?) ON CONFLICT (sub) DO UPDATE SET cursor=excluded.cursor, "
                          "control_applied=excluded.control_applied, failing=0, updated_at=excluded.updated_at",
                          (sub, max(cursor, 0), row["control_position"], _now()))
                state = c.one("SELECT * FROM webhook_state WHERE sub=?", (sub,))
        cursor = int(state["cursor"])
        types = set(json.loads(row["types"])) or None
        while True:
            events, next_cursor = page(app, cursor, 100, row["org"], types)
            for event in events:
                try:
                    check_address(row["url"])
                    post(row["url"], row["secret"], sub, event)
                except (DeliveryFailed, AddressNotAllowed) as e:
                    with db.write() as c:
                        c.execute("UPDATE webhook_state SET last_error=?, updated_at=? WHERE sub=?",
                                  (str(e)[:2000], _now(), sub))
                        if last_attempt:
                            c.execute("UPDATE webhook_state SET failing=1 WHERE sub=?", (sub,))
                            c.execute("INSERT INTO webhook_failures (sub, position, event_id, error, failed_at) "
                                      "VALUES (?,?,?,?,?)", (sub, event["position"], event.get("id"), str(e)[:2000], _now()))
                    raise DeliveryFailed(f"subscription {sub}, position {event['position']}: {e}") from None
                with db.write() as c:  # acknowledged: never sent again (unless redelivery is asked)
                    c.execute("UPDATE webhook_state SET cursor=?, failing=0, last_error=NULL, updated_at=? WHERE sub=?",
                              (event["position"], _now(), sub))
                cursor, sent = event["position"], sent + 1
            if next_cursor == cursor and not events:
                break
            if next_cursor > cursor:
                with db.write() as c:  # events examined that this subscription does not want
                    c.execute("UPDATE webhook_state SET cursor=? WHERE sub=? AND cursor < ?", (next_cursor, sub, next_cursor))
                cursor = next_cursor
    return sent


def pending(settings: Settings) -> list[str]:
    """Active, not failing subscriptions whose cursor is behind the head of the log."""
    app, db = open_store(settings)
    head = app.head_position()
    with db.read() as c:
        rows = c.all("SELECT s.sub, s.control_position, w.cursor, w.control_applied, w.failing FROM subscriptions s "
                     "LEFT JOIN webhook_state w ON w.sub = s.sub WHERE s.status='active'")
    return [r["sub"] for r in rows
            if r["cursor"] is None or r["control_applied"] < r["control_position"]
            or (not r["failing"] and r["cursor"] < head)]
