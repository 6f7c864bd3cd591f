"""Planner statistics after bulk loads.

PostgreSQL plans from statistics that autovacuum refreshes only some time after a table changes;
straight after a bulk load (COPY, multi-row INSERTs into empty tables) the planner still believes
the tables are nearly empty, and picked plans that ran a 100,000-product category page past 30 s.
SQLite has no statistics until `ANALYZE` runs once. Every bulk writer calls `analyze` when done.
"""
from __future__ import annotations

from django.db import connections
from django.db.models import Model


def analyze(*tables: str | type[Model], using: str = "default") -> list[str]:
    """Refresh the statistics of `tables` (models or table names); return the statements run.

    Cheap on both databases at our sizes (PostgreSQL samples at most 30,000 rows per table;
    SQLite reads the indexes once). Allowed inside a transaction on both. Outside the request
    path: seeds, imports, management commands.
    """
    connection = connections[using]
    names = list(dict.fromkeys(
        table if isinstance(table, str) else table._meta.db_table for table in tables
    ))
    if not names:
        return []
    quoted = [connection.ops.quote_name(name) for name in names]
    if connection.vendor == "postgresql":
        statements = [f"ANALYZE {', '.join(quoted)}"]
    else:
        statements = [f"ANALYZE {name}" for name in quoted]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements
