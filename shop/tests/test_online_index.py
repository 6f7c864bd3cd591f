"""The reports' and the order list's indexes (orders 0009 and 0011, payments 0007 and 0008) are built (and replaced) without blocking writes on
PostgreSQL (CREATE INDEX CONCURRENTLY, outside a transaction), and as plain indexes elsewhere."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

REPORT_INDEXES = [
    ("orders", "0009_order_paid_at_index", ["order_paid_at"]),
    ("orders", "0011_order_created_at_index", ["order_created_at"]),
    ("payments", "0007_payment_succeeded_at_refund_created_at_indexes", ["payment_succeeded_at", "refund_created_at"]),
    # the covering index built, then the one it replaces dropped (both concurrently)
    ("payments", "0008_payment_succeeded_covering_index", ["payment_succeeded_covering", "-payment_succeeded_at"]),
]


class RecordingSchemaEditor:
    """Just enough of a schema editor to see what an operation asks of it."""

    def __init__(self, vendor: str) -> None:
        self.connection = SimpleNamespace(vendor=vendor, alias="default", in_atomic_block=False)
        self.calls: list[tuple[str, str, dict]] = []

    def add_index(self, model, index, **options):
        self.calls.append((model._meta.db_table, index.name, options))

    def remove_index(self, model, index, **options):
        self.calls.append((model._meta.db_table, f"-{index.name}", options))


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
@pytest.mark.parametrize(("app", "name", "indexes"), REPORT_INDEXES, ids=["orders", "orders-created", "payments", "payments-covering"])
def test_the_report_indexes_are_built_online_on_postgresql(app, name, indexes, vendor):
    loader = MigrationLoader(None, ignore_no_migrations=True)  # from the files: no database
    migration = loader.get_migration(app, name)
    editor = RecordingSchemaEditor(vendor)

    state = loader.project_state((app, name), at_end=False)
    for operation in migration.operations:
        after = state.clone()
        operation.state_forwards(app, after)
        operation.database_forwards(app, editor, state, after)
        state = after

    options = {"concurrently": True} if vendor == "postgresql" else {}
    assert [(index, extra) for _table, index, extra in editor.calls] == [(index, options) for index in indexes]
    assert migration.atomic is False  # CREATE INDEX CONCURRENTLY cannot run in a transaction


@pytest.mark.django_db
def test_the_report_indexes_exist():
    with connection.cursor() as cursor:
        found = {name for table in ("orders_order", "payments_payment", "payments_refund")
                 for name in connection.introspection.get_constraints(cursor, table)}
    assert {"order_paid_at", "order_created_at", "payment_succeeded_covering", "refund_created_at"} <= found
