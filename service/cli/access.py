"""Who may write: ``orghistory tokens``, and the local admin token ``serve`` makes."""

from __future__ import annotations

import json
import os
import sys

import click

from projections import tokens as token_store

from .shared import err, services


def local_admin_token(s) -> str | None:
    """On the embedded default with no admin token configured, make one and keep it in the data dir."""
    if s.settings.admin_token or s.settings.is_postgres:
        return None
    path = s.settings.data_dir / "admin-token"
    if path.exists():
        return path.read_text().strip()
    token = token_store.create(s.db, "local-admin", list(token_store.SCOPES))
    path.write_text(token + "\n")
    os.chmod(path, 0o600)
    return token


@click.group()
def tokens() -> None:
    """Manage bearer tokens (stored hashed; shown once)."""


@tokens.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["read", "write", "operate"]), required=True)
def tokens_create(name: str, scopes: tuple[str, ...]) -> None:
    click.echo(token_store.create(services().db, name, list(scopes)))


@tokens.command("list")
def tokens_list() -> None:
    click.echo(json.dumps(token_store.listing(services().db), indent=2))


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id: str) -> None:
    if not token_store.revoke(services().db, token_id):
        err.print(f"no active token {token_id}")
        sys.exit(1)
