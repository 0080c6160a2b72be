"""Bearer tokens with scopes. Only a SHA-256 of each token is stored; the token is shown once.
Tokens live in a shared table of the read side's database, not in a projection version: their
reads bind to no version. The service checks them (``service.auth``); their SQL lives here, with
the rest of the read side's."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import datetime, timezone
from typing import TypedDict

from .db import Database

SCOPES = ("read", "write", "operate")


class Token(TypedDict):
    """A token as listed: never the token itself, which is shown once."""

    id: str
    name: str
    scopes: list[str]
    created_at: str
    revoked_at: str | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(db: Database, name: str, scopes: list[str]) -> str:
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}")
    token = "oh_" + secrets.token_urlsafe(32)
    with db.write(bind=False) as c:
        c.execute("INSERT INTO tokens (id, name, hash, scopes, created_at) VALUES (?,?,?,?,?)",
                  (uuid.uuid4().hex[:12], name, digest(token), json.dumps(sorted(set(scopes))),
                   datetime.now(timezone.utc).isoformat()))
    return token


def verify(db: Database, token: str, admin_token: str | None) -> tuple[str, set[str]] | None:
    """(name, scopes) for a valid token, else None."""
    if admin_token and hmac.compare_digest(digest(token), digest(admin_token)):
        return "admin", set(SCOPES)
    with db.read(bind=False) as c:
        row = c.one("SELECT name, scopes FROM tokens WHERE hash=? AND revoked_at IS NULL", (digest(token),))
    if row is None:
        return None
    return row["name"], set(json.loads(row["scopes"]))


def listing(db: Database) -> list[Token]:
    with db.read(bind=False) as c:
        rows = c.all("SELECT id, name, scopes, created_at, revoked_at FROM tokens ORDER BY created_at")
    return [{"id": r["id"], "name": r["name"], "scopes": json.loads(r["scopes"]), "created_at": r["created_at"],
             "revoked_at": r["revoked_at"]} for r in rows]


def revoke(db: Database, token_id: str) -> bool:
    with db.write(bind=False) as c:
        cur = c.execute("UPDATE tokens SET revoked_at=? WHERE id=? AND revoked_at IS NULL",
                        (datetime.now(timezone.utc).isoformat(), token_id))
        return (cur.rowcount or 0) > 0


def any_tokens(db: Database) -> bool:
    with db.read(bind=False) as c:
        return bool(c.scalar("SELECT COUNT(*) FROM tokens WHERE revoked_at IS NULL"))
