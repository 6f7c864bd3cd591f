"""PostgreSQL product search keeps each product's status and category beside its words, and its GIN
indexes keep small pending lists (catalog/search/postgres.py, docs/decisions.md).

Adds the two columns to the search tables, replaces the trigger function that keeps them, fills
them, sets `gin_pending_list_limit` and merges the pending lists. No-op on SQLite. Not atomic, so
it is safe on a live store: each statement commits on its own and none holds a table lock for
long (searches and catalog edits go on; at 100,000 products the fill took ~30 s on a busy
2-core machine). Interrupted, it is simply run again. Reversing leaves the columns (older code
does not read them).
"""
from django.db import migrations


def add_publication_columns(apps, schema_editor):
    from catalog.search import postgres

    connection = schema_editor.connection
    if connection.vendor == "postgresql" and postgres.is_installed(connection):
        postgres.add_publication_columns(connection)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("catalog", "0010_location_ships_online_orders")]

    operations = [migrations.RunPython(add_publication_columns, migrations.RunPython.noop, elidable=False)]
