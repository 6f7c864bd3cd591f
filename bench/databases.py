"""The benchmarks' own PostgreSQL databases: created on first use, never a shared one by mistake."""
from __future__ import annotations

import sys
from urllib.parse import urlsplit


def ensure_postgres_database(url: str, *, name_must_contain: str = "") -> None:
    """Create the PostgreSQL database named in `url` if it does not exist yet (no-op for SQLite).

    With `name_must_contain`, refuse (exit) a database whose name lacks it: a benchmark that fills
    and truncates tables must never be pointed at the store's own database by a stray DATABASE_URL.
    """
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if name_must_contain and name_must_contain not in name:
        sys.exit(f"Refusing to fill {name!r}: the benchmark database's name must contain {name_must_contain!r}.")
    with psycopg.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username or None,
                         password=parts.password or None, dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"Created database {name}")
