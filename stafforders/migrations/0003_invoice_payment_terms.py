"""Orders placed from a draft "on invoice" before orders had payment terms get them now, so they
may ship before they are paid like the ones placed since."""
from django.db import migrations


def mark_invoice_orders(apps, schema_editor):
    DraftOrder = apps.get_model("stafforders", "DraftOrder")
    Order = apps.get_model("orders", "Order")
    using = schema_editor.connection.alias
    invoiced = DraftOrder.objects.using(using).filter(payment="invoice", order__isnull=False).values("order_id")
    Order.objects.using(using).filter(pk__in=invoiced).update(payment_terms="invoice")


class Migration(migrations.Migration):

    dependencies = [
        ("stafforders", "0002_staff_permissions"),
        ("orders", "0010_order_payment_terms"),
    ]

    operations = [migrations.RunPython(mark_invoice_orders, migrations.RunPython.noop)]
