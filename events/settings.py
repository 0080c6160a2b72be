"""Settings read from the environment, the same for every command and process."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str | None = None
    database_schema: str = "public"
    redis_url: str | None = None
    admin_token: str | None = None
    read_token_required: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            data_dir=Path(env.get("ORGHISTORY_DATA_DIR") or "var"),
            database_url=env.get("ORGHISTORY_DATABASE_URL") or None,
            database_schema=env.get("ORGHISTORY_DATABASE_SCHEMA") or "public",
            redis_url=env.get("ORGHISTORY_REDIS_URL") or None,
            admin_token=env.get("ORGHISTORY_ADMIN_TOKEN") or None,
            read_token_required=(env.get("ORGHISTORY_READ_TOKEN_REQUIRED", "").lower() in ("1", "true", "yes")),
        )

    @property
    def is_postgres(self) -> bool:
        return bool(self.database_url)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "orghistory.sqlite3"

    def required_redis_url(self) -> str:
        """The Redis URL, where Redis is required (rq dispatch, its jobs and workers, the wakeup
        listener): those run only when it is configured."""
        if self.redis_url is None:
            raise RuntimeError("Redis is required here: set ORGHISTORY_REDIS_URL")
        return self.redis_url

    def postgres_params(self) -> dict[str, str]:
        """Connection parameters from ``postgresql://user:password@host:port/dbname``."""
        assert self.database_url
        u = urlparse(self.database_url)
        if u.scheme not in ("postgres", "postgresql"):
            raise ValueError("ORGHISTORY_DATABASE_URL must start with postgresql://")
        query = parse_qs(u.query)
        return {
            "dbname": (u.path or "/postgres").lstrip("/") or "postgres",
            "host": u.hostname or "127.0.0.1",
            "port": str(u.port or 5432),
            "user": unquote(u.username or "postgres"),
            "password": unquote(u.password or ""),
            "schema": query.get("schema", [self.database_schema])[0],
        }

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's own settings for this store."""
        if self.is_postgres:
            p = self.postgres_params()
            return {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": p["dbname"],
                "POSTGRES_HOST": p["host"],
                "POSTGRES_PORT": p["port"],
                "POSTGRES_USER": p["user"],
                "POSTGRES_PASSWORD": p["password"],
                "POSTGRES_SCHEMA": p["schema"],
                "POSTGRES_POOL_SIZE": "4",
                "POSTGRES_MAX_OVERFLOW": "8",
                "POSTGRES_CONNECT_TIMEOUT": "10",
                "POSTGRES_LOCK_TIMEOUT": "10",
                "POSTGRES_PRE_PING": "y",  # replace connections the server dropped (a restart) when taken
                # large saves (an import is one) in chunks, and the hash chain: see pgstore.py
                "APPLICATION_RECORDER_TOPIC": "events.pgstore:ChunkedPostgresApplicationRecorder",
            }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(self.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "30",
            # each save's events linked into the hash chain: see chain.py
            "APPLICATION_RECORDER_TOPIC": "events.sqlitestore:ChainedSQLiteApplicationRecorder",
        }
