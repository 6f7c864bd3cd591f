"""`AddIndexOnline` and `RemoveIndexOnline`: migration operations that add or drop an index
without blocking writes.

On PostgreSQL it is Django's `AddIndexConcurrently` (CREATE INDEX CONCURRENTLY: the table stays
open to inserts and updates while the index builds, so a big `orders_order` or `payments_payment`
is not locked for the minutes a plain CREATE INDEX takes). That cannot run inside a transaction,
so a migration using it says `atomic = False` and holds nothing else. On any other database
(SQLite in development and tests) it is a plain AddIndex. The migration state is AddIndex's either
way, so `makemigrations` sees the model's `Meta.indexes` as they are. `RemoveIndexOnline` is its
pair (DROP INDEX CONCURRENTLY), for replacing an index: build the new one first, then drop the old.
"""
from __future__ import annotations

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db.migrations.operations import AddIndex, RemoveIndex


class AddIndexOnline(AddIndexConcurrently):
    def describe(self) -> str:
        return f"Create index {self.index.name} on {', '.join(self.index.fields)} of {self.model_name} " \
               "(concurrently on PostgreSQL)"

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class RemoveIndexOnline(RemoveIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            RemoveIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            RemoveIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
