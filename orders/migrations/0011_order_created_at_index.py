"""An index on `Order.created_at` (then `id`): the order list's default order, newest first, and
its date hierarchy's first and last dates. Without it every page of the back office's order list
sorted every order (1.9 s at 300,000 orders, bench/reports.py). Built concurrently on PostgreSQL
(`shop.online_index`), so this migration is safe to run on a live store."""
from django.db import migrations, models

from shop.online_index import AddIndexOnline


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("orders", "0010_order_payment_terms"),
    ]

    operations = [
        AddIndexOnline(
            model_name="order",
            index=models.Index(fields=["created_at", "id"], name="order_created_at"),
        ),
    ]
