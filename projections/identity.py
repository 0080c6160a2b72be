"""The store's identity: a random id written into its database the first time it is opened.

Every process of one deployment (the web service, ``orghistory worker``, the CLI) opens the same
store, so they all read the same id, however each spells the address (``localhost`` or
``127.0.0.1``, a relative or an absolute data directory). Two deployments have two stores, so two
ids, even when they share one Redis database: the id names the rq queue and the wake-up channel
(``workers.dispatch.queue_for``), and a worker takes only its own store's jobs. A copy of the
database (a restored dump, a copied SQLite file) keeps the id of its original.
"""

from __future__ import annotations

import secrets

from .db import Database


def store_id(db: Database) -> str:
    """This store's id, written now if it has none (by whichever process gets there first: the
    insert does nothing when another process's is already there, and both then read the same)."""
    with db.write(bind=False) as conn:
        found = conn.scalar("SELECT id FROM store_identity WHERE one = 1")
        if found is not None:
            return str(found)
        conn.execute("INSERT INTO store_identity (one, id) VALUES (1, ?) ON CONFLICT (one) DO NOTHING",
                     (secrets.token_hex(8),))
        return str(conn.scalar("SELECT id FROM store_identity WHERE one = 1"))
