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
import http.client
import ipaddress
import json
import logging
import os
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import quote, urlparse

from events.recorded import EventJSON
from projections.clock import now as _now

from .locks import runner_lock
from .runtime import Stores
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


@dataclass(frozen=True)
class Target:
    """Where a delivery goes: the URL's host, and the one address it was checked at (the
    connection goes to that address, so a name that resolves differently a moment later cannot
    redirect it)."""

    scheme: str
    host: str
    port: int
    ip: str
    path: str


def _allowed_networks(allow: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out = []
    for a in allow:
        try:
            out.append(ipaddress.ip_network(a, strict=False))
        except ValueError:
            pass  # a host name, matched by name
    return out


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Global by the standard library's reckoning (so not private, loopback, link-local, shared
    carrier-grade NAT, documentation, reserved...), and so is any IPv4 address it carries
    (IPv4-mapped, 6to4, Teredo): 2002:7f00:1:: is loopback in disguise."""
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        if any(ip in n for n in _NAT64):  # a translator connects to the IPv4 address in its last 32 bits
            inner.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return all(v4 is None or (v4.is_global and not v4.is_multicast) for v4 in inner)
    return True


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def check_address(url: str) -> Target:
    """Resolve the URL's host once and refuse it unless every address is public, or the allow-list
    (ORGHISTORY_WEBHOOK_ALLOW: host names and CIDR ranges, comma-separated) names it."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise AddressNotAllowed("must be an http(s) URL with a host")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        raise AddressNotAllowed("has a port that is not a number from 0 to 65535") from None
    allow = [a.strip() for a in os.environ.get("ORGHISTORY_WEBHOOK_ALLOW", "").split(",") if a.strip()]
    networks = _allowed_networks(allow)
    try:
        infos = socket.getaddrinfo(parsed.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as e:
        raise AddressNotAllowed(f"cannot resolve {parsed.hostname}: {e}") from None
    # an IPv4 or IPv6 socket address (a TCP lookup): its host is text, typed as str or int in typeshed
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for ip in addresses:
        if parsed.hostname in allow or any(ip in n for n in networks) or _public(ip):
            continue
        raise AddressNotAllowed(f"{parsed.hostname} resolves to {ip}, which is not a public address; "
                                "name it in ORGHISTORY_WEBHOOK_ALLOW to allow it")
    path = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
    return Target(parsed.scheme, parsed.hostname, port, str(addresses[0]), path)


class _Pinned(http.client.HTTPConnection):
    """An HTTP connection to the address that was checked, not to whatever the name resolves to now."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._ip = target.ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        self._tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._tls)
        self._ip = target.ip

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)  # the name is still verified


def _header(value: object) -> str:
    """A header value that is always one line of printable ASCII, whatever an event id holds."""
    return quote(str(value), safe="@:/.-_~")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def post(target: Target, secret: str, sub: str, event: EventJSON, timeout: float = 10.0) -> None:
    """POST one event to the checked address. Redirects are not followed (a 3xx is a failure):
    following one would reach a host nobody checked. Any error is a failed delivery."""
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, int(time.time()), body),
               "Orghistory-Subscription": _header(sub), "Orghistory-Event-Id": _header(event.get("id")),
               "Orghistory-Position": _header(event["position"]), "User-Agent": "orghistory-webhooks/1"}
    conn = (_PinnedTLS if target.scheme == "https" else _Pinned)(target, timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        status = conn.getresponse().status
    except Exception as e:  # refused, reset, timed out, TLS, a malformed answer: all a failed delivery
        raise DeliveryFailed(f"{type(e).__name__}: {e}") from None
    finally:
        conn.close()
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else ""))


def deliver(stores: Stores, sub: str, last_attempt: bool = True) -> int:
    """Send the subscription's pending events in order; returns how many were acknowledged."""
    app, db = stores.app, stores.db
    sent = 0
    with runner_lock(stores.settings, f"webhook-{sub}"):
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
            if state is None:  # written just above when it was missing
                raise LookupError(f"no webhook_state row for subscription {sub}")
        cursor = int(state["cursor"])
        types = set(json.loads(row["types"])) or None
        while True:
            events, next_cursor = page(app, cursor, 100, row["org"], types)
            for event in events:
                try:
                    post(check_address(row["url"]), row["secret"], sub, event)
                except Exception as e:  # any error fails the attempt; the last attempt's marks the subscription
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


def pending(stores: Stores) -> list[str]:
    """Active, not failing subscriptions whose cursor is behind the head of the log."""
    app, db = stores.app, stores.db
    head = app.head_position()
    with db.read() as c:
        rows = c.all("SELECT s.sub, s.control_position, w.cursor, w.control_applied, w.failing FROM subscriptions s "
                     "LEFT JOIN webhook_state w ON w.sub = s.sub WHERE s.status='active'")
    return [r["sub"] for r in rows
            if r["cursor"] is None or r["control_applied"] < r["control_position"]
            or (not r["failing"] and r["cursor"] < head)]
