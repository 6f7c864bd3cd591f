"""Product search index: FTS5 on SQLite; tsvector + pg_trgm on PostgreSQL. Hand-written.

Each database gets its own objects (see catalog/search/sqlite.py and postgres.py): a search table,
its indexes and the triggers that keep it in step with catalog_product and catalog_brand. Existing
products are indexed here. Reversing drops those objects (PostgreSQL's pg_trgm extension stays:
other apps may use it).

The SQL lives with the code that queries it. Changing it means a new migration that uninstalls
and installs again, never an edit here.
"""
from django.db import migrations


def _backend(schema_editor):
    from catalog.search import BACKENDS

    return BACKENDS.get(schema_editor.connection.vendor)


def install_search(apps, schema_editor):
    backend = _backend(schema_editor)
    if backend is not None:
        backend.install(schema_editor.connection)


def uninstall_search(apps, schema_editor):
    backend = _backend(schema_editor)
    if backend is not None:
        backend.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(install_search, uninstall_search, elidable=False)]
