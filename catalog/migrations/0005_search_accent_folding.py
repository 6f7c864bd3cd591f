"""Product search index, folded: accents, ligatures and case fold with one table on both databases.

Re-installs the search objects of 0002_search with the current SQL (catalog/search/folding.py,
sqlite.py, postgres.py): SQLite's index stores folded text with the tokenizer's own diacritic
removal off and gains a per-column vocabulary; PostgreSQL gains `catalog_search_fold()` and
indexes folded text. Every product is re-indexed.

Reversing leaves the new index in place: older code searches it as well (its words are folded,
which only widens what matches), and reversing 0002_search drops it.
"""
from django.db import migrations


def reinstall_search(apps, schema_editor):
    from catalog.search import BACKENDS

    backend = BACKENDS.get(schema_editor.connection.vendor)
    if backend is not None:
        backend.uninstall(schema_editor.connection)
        backend.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_product_image_content_named_files")]

    operations = [migrations.RunPython(reinstall_search, migrations.RunPython.noop, elidable=False)]
