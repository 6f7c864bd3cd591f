"""An index on `Order.paid_at`: the sales report, the dashboard's today, the daily rollup, the
analytics reports and the order list's "paid (store days)" filter all read orders by the time they
were paid (a range of store days). Built concurrently on PostgreSQL (`shop.online_index`): the
orders table stays writable while it builds, so this migration is safe to run on a live store."""
from django.db import migrations, models

from shop.online_index import AddIndexOnline


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("orders", "0008_line_discounts"),
    ]

    operations = [
        AddIndexOnline(
            model_name="order",
            index=models.Index(fields=["paid_at"], name="order_paid_at"),
        ),
    ]
