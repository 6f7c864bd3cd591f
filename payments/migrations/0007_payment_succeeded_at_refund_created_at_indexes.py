"""Indexes on `Payment.succeeded_at` and `Refund.created_at`: net sales are the payments that
succeeded and the refunds made in a range of store days (the sales report, the dashboard's today,
the daily rollup, the order list's "money moved" filter). Built concurrently on PostgreSQL
(`shop.online_index`): the tables stay writable while they build, so this migration is safe to run
on a live store."""
from django.db import migrations, models

from shop.online_index import AddIndexOnline


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("payments", "0006_alter_payment_provider_alter_webhookevent_provider"),
    ]

    operations = [
        AddIndexOnline(
            model_name="payment",
            index=models.Index(fields=["succeeded_at"], name="payment_succeeded_at"),
        ),
        AddIndexOnline(
            model_name="refund",
            index=models.Index(fields=["created_at"], name="refund_created_at"),
        ),
    ]
